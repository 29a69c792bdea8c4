"""How an invocation fails (an answer's Reason, or a failed invocation that Lambda retries), and
the handler's log: one structured JSON line per decision."""

from __future__ import annotations

import json
from typing import Any


class HandlerError(Exception):
    """A failure whose message is meant for the CloudFormation console."""


class TooLate(HandlerError):
    """The answer has gone out: nothing may start any more."""


class ResponseNotDelivered(Exception):
    """The answer could not be delivered: failing the invocation makes Lambda retry the event."""


class GateNotWaiting(Exception):
    """The condition cannot take a signal yet: failing the invocation makes Lambda retry the event."""


class EventAheadOfSageMaker(Exception):
    """A state change says the job finished, SageMaker still says it runs: failing the invocation
    makes Lambda retry the asynchronous event (twice, about 1 and 2 minutes later:
    https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html)."""


def log(**fields: Any) -> None:
    """Never pass the event or its ResponseURL."""
    print(json.dumps(fields, default=str, sort_keys=True))
