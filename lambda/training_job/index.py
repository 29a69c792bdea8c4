"""CloudFormation custom resource handler for ``Custom::SageMakerTrainingJob`` (Lambda entry point
``index.handler``).

Standard library and boto3 only. ``handler`` is a thin adapter: it parses the event, dispatches to
the lifecycle (``create``, ``update``, ``delete``) or the completion gate (``gate``), and always
answers CloudFormation, also when something raises or the Lambda is about to time out. The
package ``sagemaker_training_handler`` holds one concern per module:

- ``errors``: how an invocation fails, and the log;
- ``answers``: whose events are answered (own stack, CloudFormation's response URLs), and the one
  answer per event;
- ``properties``: the resource's properties (the request checked against botocore's model), job
  names and the tags that say whose a job is;
- ``calls``: clients, every call retried through throttling and read lag, a resource's jobs;
- ``create``, ``update``, ``delete``: the lifecycle; ``gate``: completion gates.

The SageMaker client and the HTTP sender are injectable for tests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError, ParamValidationError
from sagemaker_training_handler import calls
from sagemaker_training_handler.answers import (
    Put,
    Responder,
    allowed_response_url,
    fallback_physical_id,
    host_of,
    own_stack_id,
    refusal,
)
from sagemaker_training_handler.answers import default_put as _default_put
from sagemaker_training_handler.calls import (
    CALL_SECONDS,
    READ_TIMEOUT_SECONDS,
    Client,
    await_visible,
    describe,
    error_text,
    make_client,
    tags_of,
)
from sagemaker_training_handler.create import IAM_RETRY_SECONDS, on_create
from sagemaker_training_handler.delete import POLL_SECONDS, on_delete, remove_job
from sagemaker_training_handler.errors import (
    EventAheadOfSageMaker,
    GateNotWaiting,
    HandlerError,
    ResponseNotDelivered,
    TooLate,
    log,
)
from sagemaker_training_handler.gate import GATE_TYPE, STATE_CHANGE, on_gate, on_state_change
from sagemaker_training_handler.properties import (
    NOT_CREATED,
    TAG_GATE,
    TAG_REQUEST,
    TAG_RESOURCE,
    TAG_SPEC,
    TAG_STACK,
    UNCONFIRMED,
    Props,
    belongs_to_resource,
    coerce_request,
    job_name,
    parse_props,
    props_or_none,
)
from sagemaker_training_handler.update import Rollback, apply_in_place, on_update

# The handler's surface: read by tests and tools (``index`` re-exports what they use).
__all__ = [
    "CALL_SECONDS",
    "GATE_TYPE",
    "IAM_RETRY_SECONDS",
    "NOT_CREATED",
    "POLL_SECONDS",
    "READ_TIMEOUT_SECONDS",
    "TAG_GATE",
    "TAG_REQUEST",
    "TAG_RESOURCE",
    "TAG_SPEC",
    "TAG_STACK",
    "UNCONFIRMED",
    "EventAheadOfSageMaker",
    "GateNotWaiting",
    "HandlerError",
    "Props",
    "Responder",
    "ResponseNotDelivered",
    "TooLate",
    "allowed_response_url",
    "apply_in_place",
    "calls",
    "coerce_request",
    "error_text",
    "handler",
    "job_name",
    "make_client",
    "on_create",
    "parse_props",
]

# The answer goes out this long before Lambda's timeout (a timer sends it if the work is not done).
TIMEOUT_MARGIN_SECONDS = 10.0


def stop_unconfirmed(sm: Client, event: Mapping[str, Any], name: str, until: float) -> None:
    """After a FAILED Update (which keeps the previous physical id): looks, while the invocation
    lasts, for the job its unconfirmed CreateTrainingJob may have started, and stops it. Best
    effort (SageMaker's reads lag its writes): the rollback Update looks again."""
    try:
        job = await_visible(lambda: describe(sm, name, until), until)
        if job is None:
            log(event="Update", job=name, action="unconfirmed-job-not-readable-yet", reason="the rollback looks again")
            return
        tags = tags_of(sm, job["TrainingJobArn"], until)
        if not belongs_to_resource(tags, event) or tags.get(TAG_REQUEST) != event["RequestId"]:
            log(event="Update", job=name, action="unconfirmed-name-is-another-job")
            return
        log(event="Update", job=name, action="stopping-job-of-failed-update", status=job["TrainingJobStatus"])
        remove_job(sm, job, "stop", until)
    except Exception as error:  # the answer is out; nothing here may change it
        log(event="Update", job=name, action="unconfirmed-job-cleanup-failed", error=error_text(error)[:300])


def _remaining_seconds(context: Any) -> float:
    return context.get_remaining_time_in_millis() / 1000.0 if context is not None else 900.0


def handler(
    event: Mapping[str, Any],
    context: Any,
    *,
    client: Client | None = None,
    put: Put | None = None,
    cloudformation: Client | None = None,
) -> None:
    """Lambda entry point. Always answers CloudFormation when the event has a ResponseURL.

    Raises only when that answer could not be delivered, so that Lambda retries the event
    (every path is idempotent) instead of CloudFormation waiting out its timeout.
    """
    remaining = _remaining_seconds(context)
    started = time.monotonic()
    deadline = started + remaining - 3 * TIMEOUT_MARGIN_SECONDS
    if isinstance(event, Mapping) and event.get("detail-type") == STATE_CHANGE:
        on_state_change(
            event,
            client or make_client(),
            cloudformation or make_client("cloudformation"),
            deadline,
        )
        return
    if not isinstance(event, Mapping) or not isinstance(event.get("ResponseURL"), str):
        log(action="ignored-malformed-event", reason="no ResponseURL to answer")
        return
    responder = Responder(event, put or _default_put)
    refused = refusal(event)
    if refused is not None:
        reason, answer = refused
        log(
            action="refused-event",
            reason=reason,
            event=event.get("RequestType"),
            stack_id=event.get("StackId"),
            logical_id=event.get("LogicalResourceId"),
            response_host=host_of(str(event["ResponseURL"])),
        )
        if answer:
            responder.send("FAILED", fallback_physical_id(event, None, responder), reason)
        return
    props: Props | None = None
    sm: Client | None = None
    timer = threading.Timer(
        max(remaining - TIMEOUT_MARGIN_SECONDS, 0.1),
        lambda: responder.expire(remaining, fallback_physical_id(event, props, responder)),
    )
    timer.daemon = True
    timer.start()
    try:
        request_type = event.get("RequestType")
        for key in ("StackId", "RequestId", "LogicalResourceId"):
            if not isinstance(event.get(key), str):
                raise HandlerError(f"malformed event: {key} missing")
        if request_type == "Delete" or event.get("ResourceType") == GATE_TYPE:
            props = props_or_none(event.get("ResourceProperties"))
        else:
            props = parse_props(event.get("ResourceProperties"))
        sm = client or make_client()
        # Asked at most once, and only where the answer changes what is done.
        rollback = Rollback(
            lambda: cloudformation or make_client("cloudformation"), own_stack_id() or event["StackId"], deadline
        )
        if event.get("ResourceType") == GATE_TYPE:
            physical, data = on_gate(sm, event, rollback, deadline)
        elif request_type == "Create":
            physical, data = on_create(sm, event, props, deadline, responder)  # type: ignore[arg-type]
        elif request_type == "Update":
            if not isinstance(event.get("PhysicalResourceId"), str):
                raise HandlerError("malformed event: PhysicalResourceId missing")
            physical, data = on_update(sm, event, props, deadline, responder, rollback)  # type: ignore[arg-type]
        elif request_type == "Delete":
            if not isinstance(event.get("PhysicalResourceId"), str):
                raise HandlerError("malformed event: PhysicalResourceId missing")
            physical, data = on_delete(sm, event, props, deadline), {}
        else:
            raise HandlerError(f"malformed event: RequestType {request_type!r}")
        responder.send("SUCCESS", physical, "; ".join(responder.notes), data=data)
    except Exception as error:  # always answer, whatever went wrong
        if isinstance(error, ClientError):
            reason = error_text(error)
        elif isinstance(error, HandlerError):
            reason = str(error)
        elif isinstance(error, ParamValidationError):
            # Deploy-time values (tokens) are checked here, by botocore, before any API call.
            reason = f"the CreateTrainingJob request is invalid: {error}"
        else:
            reason = f"internal error ({type(error).__name__}: {error})"
        log(action="failed", event=event.get("RequestType"), reason=reason[:1000])
        responder.send("FAILED", fallback_physical_id(event, props, responder), reason)
        if event.get("RequestType") == "Update" and responder.unconfirmed and sm is not None:
            # The answer keeps the previous job; what this Update's lost Create started is nobody's.
            stop_unconfirmed(sm, event, responder.unconfirmed, started + remaining - TIMEOUT_MARGIN_SECONDS / 5)
    finally:
        timer.cancel()
    if responder.undelivered is not None:
        raise ResponseNotDelivered(
            f"the answer to CloudFormation could not be delivered: {responder.undelivered}"
        ) from responder.undelivered
