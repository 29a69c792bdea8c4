"""SageMaker calls: clients that leave retries to the handler, each call retried on transient faults
(and reads on SageMaker's read lag) while the invocation's time allows; a resource's jobs read back."""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from sagemaker_training_handler.errors import HandlerError, log
from sagemaker_training_handler.properties import Props, belongs_to_resource

Client = Any
# botocore's fixed attempts (about 90 s of backoff) run out long before a large stack's burst of
# Creates has been served: the handler retries calls itself.
CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 20
# The longest one call may take; no CreateTrainingJob starts unless it can end before the answer.
CALL_SECONDS = CONNECT_TIMEOUT_SECONDS + READ_TIMEOUT_SECONDS + 5.0
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 10.0
# How long a job known to exist may stay unreadable (SageMaker's reads lag its writes).
LAG_SECONDS = 120.0
THROTTLED = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
    }
)
SERVER_FAULTS = frozenset({"InternalFailure", "InternalError", "InternalServerError", "ServiceUnavailable"})
ACCESS_DENIED = frozenset({"AccessDeniedException", "AccessDenied"})


def make_client(service: str = "sagemaker") -> Client:
    """One attempt per call: ``call`` retries with the invocation's whole time budget."""
    config = Config(
        retries={"mode": "standard", "total_max_attempts": 1},
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
    )
    return boto3.client(service, config=config)  # type: ignore[call-overload]


def _status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def transient(error: BaseException) -> bool:
    """Throttling, server faults and connection faults: the same call may succeed later."""
    if isinstance(error, HTTPClientError | BotoConnectionError):
        return True
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        return code in THROTTLED or code in SERVER_FAULTS or _status(error) >= 500 or _status(error) == 429
    return False


def ambiguous(error: BaseException) -> bool:
    """A fault after which the request may have been carried out (its answer was lost)."""
    if isinstance(error, HTTPClientError):  # sent; the connection broke or timed out before the answer
        return True
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        return code not in THROTTLED and (code in SERVER_FAULTS or _status(error) >= 500)
    return False


def backoff(attempt: int) -> float:
    """Full jitter: spreads the retries of many concurrent handlers over the throttle's window."""
    return random.uniform(0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt))


def time_left(deadline: float) -> float:
    """Seconds until the latest start of a call that must end before ``deadline``."""
    return deadline - CALL_SECONDS - time.monotonic()


def out_of_time(deadline: float, delay: float = 0.0) -> bool:
    """Whether a call after ``delay`` could not end before ``deadline``."""
    return delay > time_left(deadline)


def error_text(error: BaseException) -> str:
    if isinstance(error, ClientError):
        return f"{error.response['Error'].get('Code', '')}: {error.response['Error'].get('Message', '')}"
    return f"{type(error).__name__}: {error}"


def call(operation: Callable[..., Any], deadline: float, **params: Any) -> Any:
    """One API call, retried on transient faults with jittered backoff until ``deadline``."""
    attempt = 0
    while True:
        try:
            return operation(**params)
        except Exception as error:
            if not transient(error):
                raise
            delay = backoff(attempt)
            if out_of_time(deadline, delay):
                raise
            attempt += 1
            log(
                action="retry",
                operation=getattr(operation, "__name__", "?"),
                error=error_text(error)[:200],
                attempt=attempt,
                delay=round(delay, 2),
            )
            time.sleep(delay)


def not_found(error: ClientError) -> bool:
    code = error.response["Error"].get("Code", "")
    message = error.response["Error"].get("Message", "").lower()
    return code in ("ValidationException", "ResourceNotFound") and any(
        text in message for text in ("not found", "could not find", "does not exist")
    )


def await_visible(read: Callable[[], Any], deadline: float) -> Any:
    """``read()`` until it stops saying "not found" (SageMaker's reads lag its writes), or None.
    When the next backoff would pass ``deadline``, the last read waits only as long as the
    deadline allows, so that a write that becomes readable before it is seen."""
    attempt, last = 0, False
    while True:
        try:
            found = read()
        except ClientError as error:
            if not not_found(error):
                raise
            found = None
        if found is not None or last:
            return found
        left = time_left(deadline)
        if left <= 0:
            return None
        delay = backoff(attempt) + 0.5
        last = delay >= left
        delay = min(delay, left)
        attempt += 1
        log(action="waiting-for-job-to-be-readable", attempt=attempt, delay=round(delay, 2))
        time.sleep(delay)


def when_readable(read: Callable[[float], Any], deadline: float) -> Any:
    """``read(until)`` of something known to exist, its "not found" waited out for up to
    ``LAG_SECONDS``; None if it stays unreadable."""
    until = min(deadline, time.monotonic() + LAG_SECONDS)
    return await_visible(lambda: read(until), until)


TERMINAL = frozenset({"Completed", "Failed", "Stopped"})
# ListTrainingJobs' largest page (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ListTrainingJobs.html).
LIST_PAGE_SIZE = 100


def describe(sm: Client, name: str, deadline: float) -> dict[str, Any] | None:
    """DescribeTrainingJob, or None when the job does not exist (a ValidationException)."""
    try:
        return call(sm.describe_training_job, deadline, TrainingJobName=name)  # type: ignore[no-any-return]
    except ClientError as error:
        if not_found(error):
            return None
        raise


def describe_if_allowed(sm: Client, name: str, deadline: float) -> dict[str, Any] | None:
    """Describe a name that may lie outside this handler's permissions (then: not ours)."""
    try:
        return describe(sm, name, deadline)
    except ClientError as error:
        if error.response["Error"].get("Code") not in ACCESS_DENIED:
            raise
        log(job=name, action="not-this-stacks-job")
        return None


def tags_of(sm: Client, arn: str, deadline: float) -> dict[str, str]:
    tags: dict[str, str] = {}
    token: str | None = None
    while True:
        page = call(sm.list_tags, deadline, ResourceArn=arn, **({"NextToken": token} if token else {}))
        tags.update({t["Key"]: t["Value"] for t in page.get("Tags", [])})
        token = page.get("NextToken")
        if not token:
            return tags


def jobs_of_resource(
    sm: Client, props: Props, event: Mapping[str, Any], deadline: float, **filters: Any
) -> list[dict[str, Any]]:
    """Jobs carrying this resource's identity tags, newest first.

    A fixed name is one job, so a Describe settles it; only generated names are listed."""
    if props.fixed_name:
        job = describe_if_allowed(sm, props.fixed_name, deadline)
        if job is None or filters.get("StatusEquals", job["TrainingJobStatus"]) != job["TrainingJobStatus"]:
            return []
        tags = tags_of(sm, job["TrainingJobArn"], deadline)
        return [{**job, "Tags": tags}] if belongs_to_resource(tags, event) else []
    return owned_jobs(sm, props.name_prefix, event, deadline, **filters)


def resource_jobs(
    sm: Client, event: Mapping[str, Any], deadline: float, *configs: Props | None
) -> list[dict[str, Any]]:
    """This resource's jobs under the names of each configuration (each name or namespace read
    once), newest first."""
    jobs: dict[str, dict[str, Any]] = {}
    read: set[str] = set()
    for config in configs:
        key = None if config is None else config.fixed_name or config.name_prefix + "-*"
        if config is None or key is None or key in read:
            continue
        read.add(key)
        for job in jobs_of_resource(sm, config, event, deadline):
            jobs.setdefault(job["TrainingJobName"], job)
    return sorted(jobs.values(), key=_created, reverse=True)


def _created(job: Mapping[str, Any]) -> float:
    created = job.get("CreationTime")
    return float(created.timestamp()) if isinstance(created, datetime) else float(created or 0)


def owned_jobs(
    sm: Client, prefix: str, event: Mapping[str, Any], deadline: float, **filters: Any
) -> list[dict[str, Any]]:
    """Jobs named ``<prefix>-…`` that carry this resource's identity tags, newest first.

    Paged by hand through ``call`` so that every page rides out throttling like any other call.
    ListTrainingJobs applies ``StatusEquals`` to each page after cutting it, so a page may be
    empty and still carry a NextToken: the listing ends only when no token comes back
    (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ListTrainingJobs.html).
    It matches names that merely contain the prefix: anyone's job can, so only names inside
    this handler's namespace are read further (its permissions end there). A listed job exists:
    "not found" from its tags is read lag, waited out for a while.
    """
    found: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page = call(
            sm.list_training_jobs,
            deadline,
            NameContains=prefix,
            MaxResults=LIST_PAGE_SIZE,
            **filters,
            **({"NextToken": token} if token else {}),
        )
        for summary in page.get("TrainingJobSummaries", []):
            if not summary["TrainingJobName"].startswith(prefix + "-"):
                continue
            tags = when_readable(functools.partial(tags_of, sm, summary["TrainingJobArn"]), deadline)
            if tags is None:
                log(job=summary["TrainingJobName"], action="listed-job-not-readable")
                continue
            if belongs_to_resource(tags, event):
                found.append({**summary, "Tags": tags})
        token = page.get("NextToken")
        if not token:
            return sorted(found, key=_created, reverse=True)


def read_existing(sm: Client, name: str, deadline: float, within: str) -> tuple[dict[str, Any], dict[str, str]]:
    """A job known to exist (SageMaker just said so: "not found" is read lag) and its tags, read
    until ``deadline``; ``within`` says in the error how long that was."""
    job = await_visible(lambda: describe(sm, name, deadline), deadline)
    if job is None:
        raise HandlerError(f"training job {name} exists but could not be read {within}")
    tags = await_visible(lambda: tags_of(sm, job["TrainingJobArn"], deadline), deadline)
    if tags is None:
        raise HandlerError(f"the tags of training job {name} could not be read {within}")
    return job, tags
