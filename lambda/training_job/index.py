"""CloudFormation custom resource handler for ``Custom::SageMakerTrainingJob``.

Standard library and boto3 only. ``handler`` is a thin adapter: it parses the event,
dispatches to the lifecycle functions (``on_create`` / ``on_update`` / ``on_delete``), and
always answers CloudFormation, also when something raises or the Lambda is about to time
out. The SageMaker client and the HTTP sender are injectable for tests.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import json
import os
import random
import re
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError, ParamValidationError
from botocore.exceptions import ConnectionError as BotoConnectionError

SCHEMA_VERSION = "2"
# 0: the request as an object of strings, no version; 1: the request as one JSON string;
# 2: the request as an object again (structured, for review), its strings coerced back.
SCHEMA_VERSIONS = ("0", "1", "2")
TAG_STACK = "sagemaker-cdk:stack-id"
TAG_RESOURCE = "sagemaker-cdk:logical-id"
TAG_REQUEST = "sagemaker-cdk:request-id"
TAG_SPEC = "sagemaker-cdk:spec"
TAG_GATE = "sagemaker-cdk:gate"
STATE_CHANGE = "SageMaker Training Job State Change"
GATE_TYPE = "Custom::SageMakerTrainingJobGate"
NOT_CREATED = "not-created:"
# A failed Create whose CreateTrainingJob may still have reached SageMaker: its Delete looks harder.
UNCONFIRMED = "unconfirmed:"
TERMINAL = frozenset({"Completed", "Failed", "Stopped"})
REUSABLE = frozenset({"InProgress", "Completed"})
# Members UpdateTrainingJob changes in place; every other change needs a new job.
IN_PLACE = (("ProfilerConfig",), ("RemoteDebugConfig",), ("ResourceConfig", "KeepAlivePeriodInSeconds"))
KEEP_ALIVE = "ResourceConfig.KeepAlivePeriodInSeconds"
# RemoteDebugConfig is updated only in these secondary statuses
# (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateTrainingJob.html).
REMOTE_DEBUG_STATES = frozenset({"Downloading", "Training"})
# CreateTrainingJob errors seen while a new role's permissions are still propagating: IAM is
# eventually consistent, so the handler's own policy (or the role it passes) may not be effective
# yet (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency).
IAM_NOT_READY = re.compile(r"could not assume role|access denied|accessdenied|not authorized to perform", re.IGNORECASE)
ACCESS_DENIED = frozenset({"AccessDeniedException", "AccessDenied"})
IAM_RETRY_SECONDS = 120.0
# ListTrainingJobs' largest page (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ListTrainingJobs.html).
LIST_PAGE_SIZE = 100
# The stack status during which CloudFormation sends rollback Updates
# (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Stack.html).
ROLLBACK_STATUS = "UPDATE_ROLLBACK_IN_PROGRESS"
# How long DescribeStacks may be retried before the rollback check gives up (and changes nothing).
ROLLBACK_CHECK_SECONDS = 60.0
# CreateTrainingJob rejects a taken name with ResourceInUse (older answers: a ValidationException).
NAME_TAKEN = re.compile(r"must be unique|already exists", re.IGNORECASE)
RESPONSE_LIMIT = 4096
TIMEOUT_MARGIN_SECONDS = 10.0
POLL_SECONDS = 10.0
# The handler retries calls itself, for as long as its time allows: botocore's fixed attempts
# (about 90 s of backoff) run out long before a large stack's burst of Creates has been served.
CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 20
# The longest one call may take; no CreateTrainingJob starts unless it can end before the answer.
CALL_SECONDS = CONNECT_TIMEOUT_SECONDS + READ_TIMEOUT_SECONDS + 5.0
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 10.0
# How long a Delete looks for the job of an unconfirmed Create (SageMaker's reads lag its writes).
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

Client = Any
Put = Callable[[str, bytes], None]


class HandlerError(Exception):
    """A failure whose message is meant for the CloudFormation console."""


def log(**fields: Any) -> None:
    """One structured JSON line per decision. Never pass the event or its ResponseURL."""
    print(json.dumps(fields, default=str, sort_keys=True))


def make_client(service: str = "sagemaker") -> Client:
    """One attempt per call: ``call`` retries with the invocation's whole time budget."""
    config = Config(
        retries={"mode": "standard", "total_max_attempts": 1},
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
    )
    return boto3.client(service, config=config)  # type: ignore[call-overload]


# ----- transient faults ------------------------------------------------------------------


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


def _error_text(error: BaseException) -> str:
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
            if time.monotonic() + delay + CALL_SECONDS > deadline:
                raise
            attempt += 1
            log(
                action="retry",
                operation=getattr(operation, "__name__", "?"),
                error=_error_text(error)[:200],
                attempt=attempt,
                delay=round(delay, 2),
            )
            time.sleep(delay)


# ----- properties --------------------------------------------------------------------


@dataclass(frozen=True)
class Props:
    """The resource's properties, in the current schema."""

    request: dict[str, Any]
    name_prefix: str
    fixed_name: str | None
    removal: str
    gate_id: str | None = None

    @property
    def user_tags(self) -> dict[str, str]:
        return {t["Key"]: t["Value"] for t in self.request.get("Tags", [])}

    def immutable(self) -> dict[str, Any]:
        """What identifies the job: everything but tags and the in-place members."""
        request = json.loads(json.dumps(self.request))
        request.pop("Tags", None)
        for path in IN_PLACE:
            parent = request
            for key in path[:-1]:
                parent = parent.get(key, {})
            parent.pop(path[-1], None)
        return {"request": request, "name": self.fixed_name, "prefix": self.name_prefix}

    def spec_hash(self) -> str:
        canonical = json.dumps(self.immutable(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:32]

    def in_place(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for path in IN_PLACE:
            node: Any = self.request
            for key in path:
                node = node.get(key) if isinstance(node, dict) else None
            if node is not None:
                values[".".join(path)] = node
        return values


def parse_props(raw: Mapping[str, Any] | None) -> Props:
    """Reads properties of any schema version this handler has ever written.

    Versions 0 (no ``SchemaVersion``) and 2 pass ``Request`` as an object, whose scalars
    CloudFormation turns into strings: they are coerced back to the API's types. Version 1
    passes it as one JSON string.
    """
    if not isinstance(raw, Mapping):
        raise HandlerError("ResourceProperties missing or not an object")
    version = str(raw.get("SchemaVersion", "0"))
    if version not in SCHEMA_VERSIONS:
        raise HandlerError(f"unsupported SchemaVersion {version!r}; this handler reads {', '.join(SCHEMA_VERSIONS)}")
    request = raw.get("Request")
    if isinstance(request, str):
        try:
            request = json.loads(request)
        except json.JSONDecodeError as error:
            raise HandlerError(f"Request is not valid JSON: {error}") from None
    elif isinstance(request, dict):
        request = coerce_request(request)
    if not isinstance(request, dict):
        raise HandlerError("Request missing or not an object")
    prefix = raw.get("JobNamePrefix")
    if not isinstance(prefix, str) or not prefix:
        raise HandlerError("JobNamePrefix missing")
    removal = str(raw.get("RemovalBehavior", "stop"))
    if removal not in ("stop", "retain", "delete"):
        raise HandlerError(f"RemovalBehavior {removal!r}; allowed: stop, retain, delete")
    fixed = raw.get("TrainingJobName") or None
    gate = raw.get("GateId") or None
    return Props(request=request, name_prefix=prefix, fixed_name=fixed, removal=removal, gate_id=gate)


def coerce_request(request: dict[str, Any]) -> dict[str, Any]:
    """Turns CloudFormation's strings back into the types of botocore's SageMaker model."""
    model = botocore.session.get_session().get_service_model("sagemaker")
    shape = model.operation_model("CreateTrainingJob").input_shape

    def walk(shape: Any, value: Any) -> Any:
        kind = shape.type_name
        if kind == "structure" and isinstance(value, dict):
            return {k: walk(shape.members[k], v) if k in shape.members else v for k, v in value.items()}
        if kind == "list" and isinstance(value, list):
            return [walk(shape.member, v) for v in value]
        if kind == "map" and isinstance(value, dict):
            return {k: walk(shape.value, v) for k, v in value.items()}
        if isinstance(value, str):
            if kind in ("integer", "long"):
                return int(value)
            if kind in ("float", "double"):
                return float(value)
            if kind == "boolean":
                return value.lower() == "true"
        return value

    return walk(shape, request)  # type: ignore[no-any-return]


# ----- whose events ------------------------------------------------------------------------

# A job name as SageMaker allows it.
JOB_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")


def own_stack_id() -> str:
    """The stack this function belongs to, from its configuration (never from an event).

    The provider always sets it; a copy of this code deployed without it checks nothing
    against a stack (and says so in its log)."""
    return os.environ.get("STACK_ID", "")


def is_loopback(url: str) -> bool:
    """A URL on the function's own loopback interface: it never leaves the function's sandbox
    (the local emulator, ``make local``, answers there)."""
    try:
        host = urllib.parse.urlsplit(url).hostname or ""
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def own_name_prefix() -> str:
    """The prefix of every job name this stack generates."""
    return os.environ.get("JOB_NAME_PREFIX", "")


def allowed_response_url(url: str, stack_id: str) -> bool:
    """Whether ``url`` is CloudFormation's presigned URL for custom resource answers of the
    stack's region and partition (bucket ``cloudformation-custom-resource-response-<region
    without dashes>``), or on loopback."""
    return is_loopback(url) or _cloudformation_bucket_url(
        url, stack_id, lambda region: "custom-resource-response-" + region.replace("-", "")
    )


def _cloudformation_bucket_url(url: str, stack_id: str, bucket_of: Callable[[str], str]) -> bool:
    """An https URL of CloudFormation's bucket ``cloudformation-<bucket_of(region)>``,
    virtual-hosted or path-style, on the S3 endpoint of the stack's region and partition."""
    parts = stack_id.split(":")
    if len(parts) < 6 or not parts[3]:
        return False
    partition, region = parts[1], parts[3]
    suffix = {"aws-cn": r"amazonaws\.com\.cn"}.get(partition, r"amazonaws\.com")
    bucket = "cloudformation-" + bucket_of(region)
    endpoint = rf"s3(?:[.-]{re.escape(region)}|-external-1)?\.{suffix}"
    try:
        parsed = urllib.parse.urlsplit(url)
        host, port = (parsed.hostname or "").lower(), parsed.port
    except ValueError:
        return False
    if parsed.scheme != "https" or parsed.username or parsed.password or port not in (None, 443):
        return False
    if re.fullmatch(rf"{re.escape(bucket)}\.{endpoint}", host):
        return True
    return re.fullmatch(endpoint, host) is not None and parsed.path.startswith(f"/{bucket}/")


def _host_of(url: str) -> str | None:
    """Only the host of a URL may be logged: the rest of a presigned URL is a credential."""
    try:
        return urllib.parse.urlsplit(url).hostname
    except ValueError:
        return None


def refusal(event: Mapping[str, Any]) -> tuple[str, bool] | None:
    """Why this handler must not act on a CloudFormation event, and whether to answer it anyway."""
    own = own_stack_id()
    if not own:
        log(action="unconfigured", reason="no STACK_ID in the function's configuration: events are not checked")
    url = event.get("ResponseURL")
    if not isinstance(url, str) or not allowed_response_url(url, own or str(event.get("StackId", ""))):
        return "the response URL is not CloudFormation's for this stack's region", False
    if own and event.get("StackId") != own:
        # A genuine CloudFormation request of another stack that names this function: it is owed an answer.
        return f"this function serves only the resources of stack {own}", True
    return None


# ----- naming and identity ---------------------------------------------------------------


def job_name(props: Props, event: Mapping[str, Any]) -> str:
    """The fixed name, or ``<prefix>-<hash of this request>``: stable across retries."""
    if props.fixed_name:
        return props.fixed_name
    digest = hashlib.sha256(f"{event['StackId']}/{event['LogicalResourceId']}/{event['RequestId']}".encode())
    return f"{props.name_prefix}-{digest.hexdigest()[:8]}"


def issued_by_us(physical_id: str, props: Props | None) -> bool:
    """Whether a physical id is a job name this handler could have returned."""
    if props is None:
        return False
    if props.fixed_name and physical_id == props.fixed_name:
        return True
    return re.fullmatch(re.escape(props.name_prefix) + r"-[0-9a-f]{8}", physical_id) is not None


def describe(sm: Client, name: str, deadline: float) -> dict[str, Any] | None:
    """DescribeTrainingJob, or None when the job does not exist (a ValidationException)."""
    try:
        return call(sm.describe_training_job, deadline, TrainingJobName=name)  # type: ignore[no-any-return]
    except ClientError as error:
        if _not_found(error):
            return None
        raise


def _not_found(error: ClientError) -> bool:
    code = error.response["Error"].get("Code", "")
    message = error.response["Error"].get("Message", "").lower()
    return code in ("ValidationException", "ResourceNotFound") and any(
        text in message for text in ("not found", "could not find", "does not exist")
    )


def tags_of(sm: Client, arn: str, deadline: float) -> dict[str, str]:
    tags: dict[str, str] = {}
    token: str | None = None
    while True:
        page = call(sm.list_tags, deadline, ResourceArn=arn, **({"NextToken": token} if token else {}))
        tags.update({t["Key"]: t["Value"] for t in page.get("Tags", [])})
        token = page.get("NextToken")
        if not token:
            return tags


def await_visible(read: Callable[[], Any], deadline: float) -> Any:
    """``read()`` until it stops saying "not found" (SageMaker's reads lag its writes), or None."""
    attempt = 0
    while True:
        try:
            found = read()
        except ClientError as error:
            if not _not_found(error):
                raise
            found = None
        if found is not None:
            return found
        delay = backoff(attempt) + 0.5
        if time.monotonic() + delay + CALL_SECONDS > deadline:
            return None
        attempt += 1
        log(action="waiting-for-job-to-be-readable", attempt=attempt, delay=round(delay, 2))
        time.sleep(delay)


def _when_readable(read: Callable[[float], Any], deadline: float) -> Any:
    """``read(until)`` of something known to exist, its "not found" waited out for up to
    ``LAG_SECONDS``; None if it stays unreadable."""
    until = min(deadline, time.monotonic() + LAG_SECONDS)
    return await_visible(lambda: read(until), until)


def belongs_to_resource(tags: Mapping[str, str], event: Mapping[str, Any]) -> bool:
    return bool(tags.get(TAG_STACK) == event["StackId"] and tags.get(TAG_RESOURCE) == event["LogicalResourceId"])


def jobs_of_resource(
    sm: Client, props: Props, event: Mapping[str, Any], deadline: float, **filters: Any
) -> list[dict[str, Any]]:
    """Jobs carrying this resource's identity tags, newest first.

    A fixed name is one job, so a Describe settles it; only generated names are listed."""
    if props.fixed_name:
        job = _describe_if_allowed(sm, props.fixed_name, deadline)
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
            tags = _when_readable(functools.partial(tags_of, sm, summary["TrainingJobArn"]), deadline)
            if tags is None:
                log(job=summary["TrainingJobName"], action="listed-job-not-readable")
                continue
            if belongs_to_resource(tags, event):
                found.append({**summary, "Tags": tags})
        token = page.get("NextToken")
        if not token:
            return sorted(found, key=_created, reverse=True)


def result(job: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
    """The physical id and the small ``Data`` CloudFormation keeps (never a whole Describe)."""
    name = job["TrainingJobName"]
    output_config = job.get("OutputDataConfig", {})
    output = output_config.get("S3OutputPath", "").rstrip("/")
    # Uncompressed output is a prefix of files, not one archive
    # (https://docs.aws.amazon.com/sagemaker/latest/dg/model-train-storage-uncompressed.html).
    model = "model/" if output_config.get("CompressionType") == "NONE" else "model.tar.gz"
    data = {
        "TrainingJobName": name,
        "TrainingJobArn": job["TrainingJobArn"],
        "ModelArtifacts": f"{output}/{name}/output/{model}",
        "TrainingJobStatus": job.get("TrainingJobStatus", ""),
    }
    return name, data


# ----- lifecycle -------------------------------------------------------------------------


class TooLate(HandlerError):
    """The answer has gone out: nothing may start any more."""


def on_create(
    sm: Client, event: Mapping[str, Any], props: Props, deadline: float, responder: Responder
) -> tuple[str, dict[str, str]]:
    """One CreateTrainingJob when all goes well; its answer and the request make the result.

    A taken name is how a retried event (or a retried call whose answer was lost) finds the
    job it already started: the job is then adopted if it carries this request's identity.
    """
    name = job_name(props, event)
    request = dict(props.request)
    request["TrainingJobName"] = name
    hyperparameters = request.get("HyperParameters")
    if isinstance(hyperparameters, dict) and "sagemaker_job_name" in hyperparameters:
        # Script mode on a framework image: the training toolkit reads its job's name here.
        request["HyperParameters"] = {**hyperparameters, "sagemaker_job_name": json.dumps(name)}
        if hyperparameters.get("model_dir") == '""':
            # TensorFlow's --model_dir, as the SDK writes it: s3://<output path>/<job name>/model.
            output = str(request.get("OutputDataConfig", {}).get("S3OutputPath", "")).rstrip("/")
            request["HyperParameters"]["model_dir"] = json.dumps(f"{output}/{name}/model")
    identity = {
        TAG_STACK: event["StackId"],
        TAG_RESOURCE: event["LogicalResourceId"],
        TAG_REQUEST: event["RequestId"],
        TAG_SPEC: props.spec_hash(),
    }
    if props.gate_id:
        identity[TAG_GATE] = props.gate_id
    request["Tags"] = [*request.get("Tags", []), *({"Key": k, "Value": v} for k, v in identity.items())]
    iam_deadline = min(deadline, time.monotonic() + IAM_RETRY_SECONDS)
    iam_delay, attempt = 2.0, 0
    while True:
        try:
            created = responder.create(sm, request, name, deadline)
        except TooLate:
            raise
        except ClientError as error:
            code = error.response["Error"]["Code"]
            message = error.response["Error"].get("Message", "")
            if code == "ResourceInUse" or (code == "ValidationException" and NAME_TAKEN.search(message)):
                return adopt(sm, name, event, props, deadline, responder)
            # A denial (an error code) or SageMaker's own message while IAM propagates: retried for a while.
            if code in ACCESS_DENIED or (code == "ValidationException" and IAM_NOT_READY.search(message)):
                if time.monotonic() + iam_delay > iam_deadline:
                    raise HandlerError(
                        f"CreateTrainingJob kept failing for {IAM_RETRY_SECONDS:.0f} s while IAM "
                        f"permissions propagated; SageMaker said: {code}: {message}"
                    ) from None
                log(event=event["RequestType"], job=name, action="retry-iam-propagation", delay=iam_delay)
                time.sleep(iam_delay)
                iam_delay = min(iam_delay * 2, 20.0)
                continue
            if not transient(error):
                raise
            last: BaseException = error
        except (HTTPClientError, BotoConnectionError) as error:
            last = error
        else:
            log(event=event["RequestType"], job=name, action="created")
            return created
        # Throttled, or the answer was lost: the next attempt creates the job, or finds it by its name.
        delay = backoff(attempt)
        if time.monotonic() + delay + CALL_SECONDS > deadline:
            raise HandlerError(
                f"CreateTrainingJob for {name} did not succeed in the time the handler has "
                f"({attempt + 1} attempts); last error: {_error_text(last)}"
            )
        attempt += 1
        log(
            event=event["RequestType"],
            job=name,
            action="retry-create",
            attempt=attempt,
            error=_error_text(last)[:200],
            delay=round(delay, 2),
        )
        time.sleep(delay)


def adopt(
    sm: Client, name: str, event: Mapping[str, Any], props: Props, deadline: float, responder: Responder
) -> tuple[str, dict[str, str]]:
    """The name is taken: by this request's own job (an earlier attempt) or by another one.

    CreateTrainingJob has just said the job exists, so "not found" from a read is lag.
    """
    job = await_visible(lambda: describe(sm, name, deadline), deadline)
    if job is None:
        raise HandlerError(f"training job {name} exists but could not be read in the time the handler has")
    tags = await_visible(lambda: tags_of(sm, job["TrainingJobArn"], deadline), deadline)
    if tags is None:
        raise HandlerError(f"the tags of training job {name} could not be read in the time the handler has")
    if belongs_to_resource(tags, event) and tags.get(TAG_REQUEST) == event["RequestId"]:
        log(
            event=event["RequestType"],
            job=job["TrainingJobName"],
            action="found-own-job",
            status=job.get("TrainingJobStatus"),
        )
        return result(job)
    responder.unconfirmed = None  # the name is another job's: none of this request's attempts created one
    raise HandlerError(
        f"training job name {job['TrainingJobName']} is already used by a job this resource did not "
        "create in this request"
        + ("; a fixed training_job_name cannot be reused for a new job" if props.fixed_name else "")
    )


class Rollback:
    """Whether CloudFormation is rolling this stack back: DescribeStacks of the handler's own
    stack, asked once per invocation and only when the answer changes what the Update does.

    ``None`` when the status cannot be read (no permission, no endpoint): the Update then does
    what it does outside a rollback."""

    def __init__(self, cloudformation: Callable[[], Client], stack_id: str, deadline: float) -> None:
        self._cloudformation = cloudformation
        self._stack_id = stack_id
        self._deadline = deadline
        self._answer: bool | None = None
        self._asked = False

    def __call__(self) -> bool | None:
        if not self._asked:
            self._asked = True
            self._answer = self._ask()
        return self._answer

    def _ask(self) -> bool | None:
        deadline = min(self._deadline, time.monotonic() + ROLLBACK_CHECK_SECONDS)
        try:
            client = self._cloudformation()
            stacks = call(client.describe_stacks, deadline, StackName=self._stack_id)["Stacks"]
            status = str(stacks[0]["StackStatus"])
        except Exception as error:  # denied, unreachable, malformed: behave as outside a rollback
            log(action="stack-status-unknown", error=_error_text(error)[:300])
            return None
        log(action="read-stack-status", stack_status=status)
        return status == ROLLBACK_STATUS


def _not_a_rollback() -> bool | None:
    return None


def on_update(
    sm: Client,
    event: Mapping[str, Any],
    props: Props,
    deadline: float,
    responder: Responder,
    rollback: Callable[[], bool | None] = _not_a_rollback,
) -> tuple[str, dict[str, str]]:
    physical = str(event["PhysicalResourceId"])
    old = _props_or_none(event.get("OldResourceProperties"))
    if old is None or not issued_by_us(physical, old) or old.immutable() != props.immutable():
        return replace(sm, event, props, old, deadline, responder, rollback)

    current = describe(sm, physical, deadline)
    if current is None:
        raise HandlerError(f"training job {physical} no longer exists; change the job to start a new one")
    arn = current["TrainingJobArn"]
    old_tags, new_tags = old.user_tags, props.user_tags
    added = [{"Key": k, "Value": v} for k, v in new_tags.items() if old_tags.get(k) != v]
    removed = [k for k in old_tags if k not in new_tags]
    if added:
        call(sm.add_tags, deadline, ResourceArn=arn, Tags=added)
    if removed:
        call(sm.delete_tags, deadline, ResourceArn=arn, TagKeys=removed)
    if props.gate_id and props.gate_id != old.gate_id:  # a completion gate was added
        call(sm.add_tags, deadline, ResourceArn=arn, Tags=[{"Key": TAG_GATE, "Value": props.gate_id}])
    changes = {k: v for k, v in props.in_place().items() if old.in_place().get(k) != v}
    applied, skipped = apply_in_place(sm, current, changes, deadline)
    for key, why in skipped.items():
        log(event="Update", job=physical, action="in-place-change-not-applied", member=key, reason=why[:500])
        responder.notes.append(f"{key} of {physical} left as it is: {why}")
    log(
        event="Update",
        job=physical,
        action="updated-in-place",
        status=current["TrainingJobStatus"],
        tags_added=[t["Key"] for t in added],
        tags_removed=removed,
        in_place=applied,
        in_place_not_applied=sorted(skipped),
    )
    return result(current)


def replace(
    sm: Client,
    event: Mapping[str, Any],
    props: Props,
    old: Props | None,
    deadline: float,
    responder: Responder,
    rollback: Callable[[], bool | None],
) -> tuple[str, dict[str, str]]:
    """The job changed: return to a job of this resource with the new spec, or start one.

    A running or completed job with the new spec is reused (a spec changed back reuses its
    artifacts). During a rollback the previous job is returned to whatever its status: a failed
    or stopped original is not started again. Returning to a job in a rollback also stops what a
    failed Update may have left running (a Create whose answer was lost)."""
    spec = props.spec_hash()
    jobs = resource_jobs(sm, event, deadline, props, old)
    same = [job for job in jobs if job["Tags"].get(TAG_SPEC) == spec]
    chosen = next((job for job in same if job["TrainingJobStatus"] in REUSABLE), None)
    if chosen is None and same and rollback():
        chosen = same[0]  # the newest: the job this resource had before the failed Update
    if chosen is not None:
        found = describe(sm, chosen["TrainingJobName"], deadline)
        if found is not None:
            log(
                event="Update",
                job=chosen["TrainingJobName"],
                action="reused-job-with-same-spec" if found["TrainingJobStatus"] in REUSABLE else "returned-to-job",
                status=found["TrainingJobStatus"],
            )
            if old is not None:
                stop_orphans(sm, jobs, chosen, old, event, deadline, rollback)
            return result(found)
    if props.fixed_name and old is not None and old.fixed_name == props.fixed_name:
        raise HandlerError(
            f"the job changed but its fixed name {props.fixed_name} is taken by the current job; "
            "change training_job_name (or remove it to generate names) to start a new job"
        )
    return on_create(sm, event, props, deadline, responder)


def stop_orphans(
    sm: Client,
    jobs: list[dict[str, Any]],
    chosen: Mapping[str, Any],
    old: Props,
    event: Mapping[str, Any],
    deadline: float,
    rollback: Callable[[], bool | None],
) -> None:
    """In a rollback, stops the running jobs of the configuration rolled back from that
    CloudFormation does not know: started by another request than the job returned to, and not
    the physical id it will clean up itself (its removal behaviour applies to that one)."""
    keep = {str(chosen["TrainingJobName"]), str(event["PhysicalResourceId"])}
    orphans = [
        job
        for job in jobs
        if job["TrainingJobStatus"] == "InProgress"
        and job["TrainingJobName"] not in keep
        and job["Tags"].get(TAG_REQUEST) != chosen["Tags"].get(TAG_REQUEST)
        and job["Tags"].get(TAG_SPEC) == old.spec_hash()
    ]
    if not orphans:
        return
    if not rollback():
        log(
            event="Update",
            action="left-other-running-jobs",
            jobs=[job["TrainingJobName"] for job in orphans],
            reason="not a rollback (or the stack's status could not be read)",
        )
        return
    for summary in orphans:
        job = _when_readable(functools.partial(describe, sm, summary["TrainingJobName"]), deadline)
        if job is not None:
            log(
                event="Update",
                job=job["TrainingJobName"],
                action="stopping-orphan-of-failed-update",
                request_id=summary["Tags"].get(TAG_REQUEST),
            )
            remove_job(sm, job, "stop", deadline)


def _in_place_refusal(key: str, job: Mapping[str, Any]) -> str | None:
    """Why SageMaker would not change ``key`` on the job in its current state, or None."""
    status, secondary = job["TrainingJobStatus"], job.get("SecondaryStatus") or job["TrainingJobStatus"]
    pool = (job.get("WarmPoolStatus") or {}).get("Status")
    if key == "RemoteDebugConfig" and secondary not in REMOTE_DEBUG_STATES:
        # https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateTrainingJob.html
        return (
            "SageMaker changes RemoteDebugConfig only while SecondaryStatus is Downloading or Training "
            f"(it is {secondary})"
        )
    if key == KEEP_ALIVE and not (status == "InProgress" or (status == "Completed" and pool == "Available")):
        # https://docs.aws.amazon.com/sagemaker/latest/dg/train-warm-pools-how-to-use.html
        return (
            "SageMaker changes the keep-alive period only while the job runs or keeps an Available warm pool "
            f"(the job is {status}, its warm pool {pool or 'none'})"
        )
    if key == "ProfilerConfig" and status != "InProgress":
        return f"the profiler is changed only while the job runs (the job is {status})"
    return None


def apply_in_place(
    sm: Client, job: Mapping[str, Any], changes: Mapping[str, Any], deadline: float
) -> tuple[list[str], dict[str, str]]:
    """UpdateTrainingJob with the in-place changes SageMaker accepts in the job's state; the
    others, and why, are returned. An in-place change never fails the Update nor its rollback:
    what cannot be changed stays as it is, and the answer's Reason and the log say so (a
    refusal is most often a job that moved on since it was described)."""
    update: dict[str, Any] = {"TrainingJobName": job["TrainingJobName"]}
    skipped: dict[str, str] = {}
    for key, value in sorted(changes.items()):
        why = _in_place_refusal(key, job)
        if why is not None:
            skipped[key] = why
        elif key == KEEP_ALIVE:
            update["ResourceConfig"] = {"KeepAlivePeriodInSeconds": value}
        else:
            update[key] = value
    applied = sorted(k for k in changes if k not in skipped)
    if applied:
        try:
            call(sm.update_training_job, deadline, **update)
        except ClientError as error:
            if error.response["Error"].get("Code") != "ValidationException":
                raise
            skipped.update({key: f"SageMaker refused it ({_error_text(error)[:300]})" for key in applied})
            applied = []
    return applied, skipped


def on_delete(sm: Client, event: Mapping[str, Any], props: Props | None, deadline: float) -> str:
    physical = str(event["PhysicalResourceId"])
    removal = props.removal if props else "stop"
    if physical.startswith((NOT_CREATED, UNCONFIRMED)):
        name = physical.split(":", 1)[1]
        if physical.startswith(UNCONFIRMED):  # its CreateTrainingJob may have landed: let the reads catch up
            lag_deadline = min(deadline, time.monotonic() + LAG_SECONDS)
            job = await_visible(lambda: describe(sm, name, lag_deadline), lag_deadline)
        else:
            job = describe(sm, name, deadline)
        if job is None or not belongs_to_resource(tags_of(sm, job["TrainingJobArn"], deadline), event):
            log(event="Delete", job=name, action="nothing-was-created")
            return physical
        remove_job(sm, job, removal, deadline)
        return physical
    if issued_by_us(physical, props):
        job = describe(sm, physical, deadline)
        if job is None:
            log(event="Delete", job=physical, action="already-gone")
            return physical
        remove_job(sm, job, removal, deadline)
        return physical
    if props is None:
        # Unreadable properties: the physical id still names the job, and its tags say whose it is.
        job = _describe_if_allowed(sm, physical, deadline) if JOB_NAME.fullmatch(physical) else None
        if job is not None and belongs_to_resource(tags_of(sm, job["TrainingJobArn"], deadline), event):
            log(event="Delete", job=physical, action="found-by-physical-id-without-properties")
            remove_job(sm, job, removal, deadline)
            return physical
        running = owned_jobs(sm, own_name_prefix(), event, deadline, StatusEquals="InProgress")
    else:
        # CloudFormation invented this id (it gave up on a Create): find what that Create started.
        running = jobs_of_resource(sm, props, event, deadline, StatusEquals="InProgress")
    for summary in running:
        job = describe(sm, summary["TrainingJobName"], deadline)
        if job is not None:
            remove_job(sm, job, removal, deadline)
    log(event="Delete", job=None, action="searched-for-abandoned-jobs", physical_id=physical, found=len(running))
    return physical


def _describe_if_allowed(sm: Client, name: str, deadline: float) -> dict[str, Any] | None:
    """Describe a name that may lie outside this handler's permissions (then: not ours)."""
    try:
        return describe(sm, name, deadline)
    except ClientError as error:
        if error.response["Error"].get("Code") not in ("AccessDenied", "AccessDeniedException"):
            raise
        log(job=name, action="not-this-stacks-job")
        return None


def remove_job(sm: Client, job: Mapping[str, Any], removal: str, deadline: float) -> None:
    name, status = job["TrainingJobName"], job["TrainingJobStatus"]
    if removal == "retain":
        log(event="Delete", job=name, action="retained", status=status)
        return
    if status == "InProgress":
        try:
            call(sm.stop_training_job, deadline, TrainingJobName=name)
            log(event="Delete", job=name, action="stopped", status=status)
        except ClientError as error:  # it finished between Describe and Stop
            if error.response["Error"]["Code"] != "ValidationException":
                raise
            log(event="Delete", job=name, action="stop-not-needed", status=status)
    else:
        log(event="Delete", job=name, action="left-as-is" if removal == "stop" else "delete", status=status)
    if removal != "delete":
        return
    current: Mapping[str, Any] = job
    while status not in TERMINAL:
        if time.monotonic() + POLL_SECONDS > deadline:
            log(event="Delete", job=name, action="delete-skipped-not-terminal", status=status)
            return
        time.sleep(POLL_SECONDS)
        described = describe(sm, name, deadline)
        if described is None:
            return
        current, status = described, described["TrainingJobStatus"]
    delete_job(sm, current, deadline)


def delete_job(sm: Client, job: Mapping[str, Any], deadline: float) -> None:
    """DeleteTrainingJob of a finished job, its warm pool released first.

    SageMaker refuses to delete a job that keeps an Available warm pool (ResourceInUse,
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DeleteTrainingJob.html); a
    keep-alive of 0 ends the pool (https://docs.aws.amazon.com/sagemaker/latest/dg/train-warm-pools-how-to-use.html).
    When the pool is still Available at the deadline the job is retained, and the log says so:
    the Delete never fails for it."""
    name, status = job["TrainingJobName"], job["TrainingJobStatus"]
    pool, released = (job.get("WarmPoolStatus") or {}).get("Status"), False
    while True:
        if pool == "Available" and not released:
            try:
                end_pool = {"KeepAlivePeriodInSeconds": 0}
                call(sm.update_training_job, deadline, TrainingJobName=name, ResourceConfig=end_pool)
                log(event="Delete", job=name, action="released-warm-pool")
            except ClientError as error:
                if error.response["Error"].get("Code") in ACCESS_DENIED:  # e.g. a keep-alive no longer allowed
                    log(
                        event="Delete",
                        job=name,
                        action="retained-warm-pool-release-denied",
                        reason=_error_text(error)[:300],
                    )
                    return
                if error.response["Error"].get("Code") != "ValidationException":
                    raise
                # the pool ended on its own meanwhile
                log(event="Delete", job=name, action="warm-pool-release-refused", reason=_error_text(error)[:300])
            released = True
        elif pool != "Available":
            try:
                call(sm.delete_training_job, deadline, TrainingJobName=name)
                log(event="Delete", job=name, action="deleted", status=status)
                return
            except ClientError as error:
                code = error.response["Error"].get("Code", "")
                if code not in ("ValidationException", "ResourceNotFound", "ResourceInUse"):
                    raise
                if code != "ResourceInUse":
                    log(event="Delete", job=name, action="delete-refused", status=status, reason=_error_text(error))
                    return
                pool = "Available"  # the pool's status lags the refusal
                continue
        if time.monotonic() + POLL_SECONDS + CALL_SECONDS > deadline:
            log(
                event="Delete",
                job=name,
                action="retained-warm-pool-still-available",
                reason="the warm pool was still Available when the handler's time ran out; the job is kept "
                "(DeleteTrainingJob succeeds once its pool has ended)",
            )
            return
        time.sleep(POLL_SECONDS)
        described = describe(sm, name, deadline)
        if described is None:
            return
        pool = (described.get("WarmPoolStatus") or {}).get("Status")


def _props_or_none(raw: Any) -> Props | None:
    try:
        return parse_props(raw)
    except HandlerError:
        return None


# ----- completion gates ------------------------------------------------------------------------


def signal_gate(
    cloudformation: Client, stack_id: str, condition: str, job: Mapping[str, Any], deadline: float
) -> str | None:
    """Releases the gate's WaitCondition (a CreationPolicy) for a finished job with
    ``cloudformation:SignalResource`` on the handler's own stack: SUCCESS on Completed, FAILURE on
    Failed or Stopped (MaxRuntimeExceeded included), the job's name as the signal's UniqueId
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_SignalResource.html).
    SageMaker's reason is logged (a signal carries none). None while the job runs.

    A condition that already took its signal (a duplicate event) is left as it is; one that does
    not wait yet (the job finished before CloudFormation created it) raises ``GateNotWaiting``, so
    that Lambda delivers the event again."""
    name, status = job["TrainingJobName"], job["TrainingJobStatus"]
    if status == "Completed":
        outcome, reason = "SUCCESS", f"training job {name} completed"
    elif status == "Failed":
        outcome, reason = "FAILURE", f"training job {name} failed: {job.get('FailureReason', 'no reason given')}"
    elif status == "Stopped":
        outcome = "FAILURE"
        reason = f"training job {name} stopped ({job.get('SecondaryStatus', 'Stopped')})"
        if job.get("FailureReason"):
            reason += f": {job['FailureReason']}"
    else:
        return None
    try:
        call(
            cloudformation.signal_resource,
            deadline,
            StackName=stack_id,
            LogicalResourceId=condition,
            UniqueId=name,
            Status=outcome,
        )
    except ClientError as error:
        if error.response["Error"].get("Code") not in ("ValidationError", "ValidationException"):
            raise
        waiting = _condition_status(cloudformation, stack_id, condition, deadline)
        if waiting is None or not waiting.endswith(("_COMPLETE", "_FAILED")):
            log(job=name, action="gate-not-waiting-yet-retry", condition_status=waiting)
            raise GateNotWaiting(
                f"the completion gate {condition} does not wait yet ({waiting}): {_error_text(error)}"
            ) from error
        log(job=name, action="gate-already-released", condition_status=waiting)
        return outcome
    log(job=name, action="signalled-gate", status=status, outcome=outcome, reason=reason[:1000])
    return outcome


def _condition_status(cloudformation: Client, stack_id: str, condition: str, deadline: float) -> str | None:
    try:
        found = call(cloudformation.describe_stack_resource, deadline, StackName=stack_id, LogicalResourceId=condition)
    except ClientError:
        return None  # not created yet
    return str(found["StackResourceDetail"].get("ResourceStatus", ""))


class GateNotWaiting(Exception):
    """The condition cannot take a signal yet: failing the invocation makes Lambda retry the event."""


class EventAheadOfSageMaker(Exception):
    """A state change says the job finished, SageMaker still says it runs: failing the invocation
    makes Lambda retry the asynchronous event (twice, about 1 and 2 minutes later:
    https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html)."""


def on_state_change(event: Mapping[str, Any], sm: Client, cloudformation: Client, deadline: float) -> str | None:
    """An EventBridge "SageMaker Training Job State Change", routed with this job's gate.

    The event only names the job (only ``detail.TrainingJobName`` and ``detail.TrainingJobStatus``
    are read): its status, tags and artifacts are read from SageMaker, so a forged event cannot
    release a gate. Only the job carrying the gate's id (and this stack's identity) releases it:
    other jobs, including the previous job of a replaced resource, are ignored; duplicates
    re-send the same signal (SageMaker's events may repeat:
    https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html).
    An event ahead of SageMaker's reads (it says finished, Describe says running) raises, so that
    Lambda delivers it again instead of the gate waiting out its timeout.
    """
    detail, gate = event.get("detail"), event.get("Gate")
    name = detail.get("TrainingJobName") if isinstance(detail, Mapping) else None
    keys = ("Id", "StackId", "ConditionLogicalId")
    if (
        not isinstance(detail, Mapping)
        or not isinstance(gate, Mapping)
        or not isinstance(name, str)
        or not JOB_NAME.fullmatch(name)
        or not all(isinstance(gate.get(k), str) and gate[k] for k in keys)
    ):
        log(event="StateChange", job=name, action="ignored-malformed-event")
        return None
    own = own_stack_id() or gate["StackId"]
    if gate["StackId"] != own:
        log(event="StateChange", job=name, action="ignored-other-stack", stack_id=gate["StackId"])
        return None
    if detail.get("TrainingJobStatus") not in TERMINAL:
        log(event="StateChange", job=name, action="ignored-not-finished", status=detail.get("TrainingJobStatus"))
        return None
    job = _describe_if_allowed(sm, name, deadline)
    if job is None:
        log(event="StateChange", job=name, action="ignored-unknown-job")
        return None
    tags = tags_of(sm, job["TrainingJobArn"], deadline)
    if tags.get(TAG_GATE) != gate["Id"] or tags.get(TAG_STACK) != own:
        log(event="StateChange", job=name, action="ignored-other-gate", status=job["TrainingJobStatus"])
        return None
    if job["TrainingJobStatus"] not in TERMINAL:
        log(
            event="StateChange",
            job=name,
            action="event-ahead-of-sagemaker-retry",
            event_status=detail.get("TrainingJobStatus"),
            status=job["TrainingJobStatus"],
        )
        raise EventAheadOfSageMaker(
            f"the event says training job {name} is {detail.get('TrainingJobStatus')}, SageMaker still says "
            f"{job['TrainingJobStatus']}: failing so that Lambda delivers the event again"
        )
    return signal_gate(cloudformation, own, gate["ConditionLogicalId"], job, deadline)


def on_gate(
    sm: Client, event: Mapping[str, Any], rollback: Callable[[], bool | None], deadline: float
) -> tuple[str, dict[str, str]]:
    """``Custom::SageMakerTrainingJobGate``: created after the job and before its condition; checks
    that the job is this gate's (riding out read lag). An Update that names another job under the
    same gate is a replacement decided at deploy time (a parameter, an import): a WaitCondition
    waits only when created, so nothing would wait for the new job; the check fails that
    deployment, unless CloudFormation is rolling back (a rollback never fails here) or the job
    has already completed."""
    physical = str(event.get("PhysicalResourceId") or f"gate-{event['RequestId']}")
    if event["RequestType"] == "Delete":
        return physical, {}
    props = event.get("ResourceProperties") or {}
    name, condition = props.get("TrainingJobName"), props.get("ConditionLogicalId")
    if not isinstance(name, str) or not isinstance(condition, str):
        raise HandlerError("malformed gate properties: TrainingJobName and ConditionLogicalId are required")
    own = own_stack_id() or event["StackId"]
    # The job was created just before this resource: "not found" is read lag, as after a Create.
    lag_deadline = min(deadline, time.monotonic() + LAG_SECONDS)
    job = await_visible(lambda: describe(sm, name, lag_deadline), lag_deadline)
    if job is None:
        raise HandlerError(f"training job {name} could not be read in {LAG_SECONDS:.0f} s, so it cannot complete")
    tags = await_visible(lambda: tags_of(sm, job["TrainingJobArn"], lag_deadline), lag_deadline)
    if tags is None:
        raise HandlerError(f"the tags of training job {name} could not be read in {LAG_SECONDS:.0f} s")
    if tags.get(TAG_STACK) != own or tags.get(TAG_GATE) != props.get("GateId"):
        raise HandlerError(f"training job {name} is not the job of this gate")
    old = event.get("OldResourceProperties") or {}
    replaced = event["RequestType"] == "Update" and old.get("TrainingJobName") not in (None, name)
    if replaced and old.get("ConditionLogicalId") == condition and job["TrainingJobStatus"] != "Completed":
        if rollback():
            log(event="Update", job=name, action="gate-check-rollback", status=job["TrainingJobStatus"])
        else:
            raise HandlerError(
                f"training job {name} replaced {old.get('TrainingJobName')} because of a value known only at "
                "deploy time (a parameter or an import), but its completion gate already waited for the "
                "previous job and a CloudFormation WaitCondition cannot wait again: failing so that nothing "
                "that depends on the gate runs before the new job's model exists. Pass the value at synth, "
                "or change the job so that the template shows it"
            )
    log(event=event["RequestType"], job=name, action="checked-gate", status=job["TrainingJobStatus"])
    return physical, {"TrainingJobStatus": job["TrainingJobStatus"]}


# ----- the CloudFormation adapter ------------------------------------------------------------


def _default_put(url: str, body: bytes) -> None:
    request = urllib.request.Request(
        url, data=body, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(body))}
    )
    for attempt in range(4):
        try:
            with urllib.request.urlopen(request, timeout=30):
                return
        except OSError as error:
            log(action="response-put-failed", attempt=attempt + 1, error=type(error).__name__)
            time.sleep(2**attempt)
    raise HandlerError("could not deliver the response to CloudFormation")


class Responder:
    """Sends exactly one response per event, and guards what may still start.

    CreateTrainingJob is sent under the same lock as the answer: nothing starts once the
    answer has gone out, and an answer due while a Create is in flight waits for it (a Create
    starts only when it can end before the answer is due, see ``CALL_SECONDS``).
    """

    def __init__(self, event: Mapping[str, Any], put: Put) -> None:
        self._event = event
        self._put = put
        self._lock = threading.RLock()
        self.sent: dict[str, Any] | None = None
        self.undelivered: BaseException | None = None
        # A job this invocation created, answered with even when the deadline answers for it.
        self.created: tuple[str, dict[str, str]] | None = None
        # The name of a Create that may have reached SageMaker without being confirmed.
        self.unconfirmed: str | None = None
        # What a successful answer did not do (in-place changes SageMaker would not make): its Reason.
        self.notes: list[str] = []

    def create(self, sm: Client, request: Mapping[str, Any], name: str, deadline: float) -> tuple[str, dict[str, str]]:
        """One CreateTrainingJob attempt, unless the answer has gone out or is due too soon;
        the answer for the job it created, from CreateTrainingJob's response and the request."""
        with self._lock:
            if self.sent is not None or time.monotonic() + CALL_SECONDS > deadline:
                raise TooLate(f"the handler ran out of time before CreateTrainingJob for {name} could be sent")
            try:
                response: dict[str, Any] = sm.create_training_job(**request)
            except Exception as error:
                code = error.response["Error"].get("Code", "") if isinstance(error, ClientError) else ""
                if ambiguous(error) or code == "ResourceInUse":
                    self.unconfirmed = name
                raise
            self.created = result(
                {**request, "TrainingJobArn": response["TrainingJobArn"], "TrainingJobStatus": "InProgress"}
            )
            return self.created

    def expire(self, remaining: float, fallback: str) -> None:
        """The deadline: answer now, with what is known."""
        with self._lock:
            if self.created is not None:
                self.send("SUCCESS", self.created[0], data=self.created[1])
            else:
                reason = f"the handler ran out of time ({remaining:.0f} s) before SageMaker answered"
                self.send("FAILED", fallback, reason)

    def send(self, status: str, physical_id: str, reason: str = "", data: Mapping[str, str] | None = None) -> None:
        with self._lock:
            if self.sent is not None:
                return
            body = {
                "Status": status,
                "Reason": reason or status,
                "PhysicalResourceId": physical_id,
                "StackId": self._event.get("StackId", ""),
                "RequestId": self._event.get("RequestId", ""),
                "LogicalResourceId": self._event.get("LogicalResourceId", ""),
                "NoEcho": False,
                "Data": dict(data or {}),
            }
            encoded = json.dumps(body).encode()
            if len(encoded) > RESPONSE_LIMIT:
                overflow = len(encoded) - RESPONSE_LIMIT + 3
                body["Reason"] = body["Reason"][: max(0, len(body["Reason"]) - overflow)] + "..."
                encoded = json.dumps(body).encode()
            self.sent = body
            log(action="respond", status=status, physical_id=physical_id, reason=body["Reason"][:500])
            try:
                self._put(str(self._event["ResponseURL"]), encoded)
            except Exception as error:  # the invocation fails, so that Lambda retries the event
                self.undelivered = error
                log(action="response-undelivered", status=status, error=f"{type(error).__name__}: {error}"[:300])


class ResponseNotDelivered(Exception):
    """The answer could not be delivered: failing the invocation makes Lambda retry the event."""


def _fallback_physical_id(event: Mapping[str, Any], props: Props | None, responder: Responder) -> str:
    if responder.unconfirmed and event.get("RequestType") == "Create":
        return UNCONFIRMED + responder.unconfirmed
    if event.get("RequestType") == "Create":
        if props is not None and all(k in event for k in ("StackId", "LogicalResourceId", "RequestId")):
            return NOT_CREATED + job_name(props, event)
        return NOT_CREATED + str(event.get("RequestId", "unknown"))
    return str(event.get("PhysicalResourceId") or NOT_CREATED + str(event.get("RequestId", "unknown")))


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
        log(event="Update", job=name, action="unconfirmed-job-cleanup-failed", error=_error_text(error)[:300])


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
            response_host=_host_of(str(event["ResponseURL"])),
        )
        if answer:
            responder.send("FAILED", _fallback_physical_id(event, None, responder), reason)
        return
    props: Props | None = None
    sm: Client | None = None
    timer = threading.Timer(
        max(remaining - TIMEOUT_MARGIN_SECONDS, 0.1),
        lambda: responder.expire(remaining, _fallback_physical_id(event, props, responder)),
    )
    timer.daemon = True
    timer.start()
    try:
        request_type = event.get("RequestType")
        for key in ("StackId", "RequestId", "LogicalResourceId"):
            if not isinstance(event.get(key), str):
                raise HandlerError(f"malformed event: {key} missing")
        if request_type == "Delete" or event.get("ResourceType") == GATE_TYPE:
            props = _props_or_none(event.get("ResourceProperties"))
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
            reason = _error_text(error)
        elif isinstance(error, HandlerError):
            reason = str(error)
        elif isinstance(error, ParamValidationError):
            # Deploy-time values (tokens) are checked here, by botocore, before any API call.
            reason = f"the CreateTrainingJob request is invalid: {error}"
        else:
            reason = f"internal error ({type(error).__name__}: {error})"
        log(action="failed", event=event.get("RequestType"), reason=reason[:1000])
        responder.send("FAILED", _fallback_physical_id(event, props, responder), reason)
        if event.get("RequestType") == "Update" and responder.unconfirmed and sm is not None:
            # The answer keeps the previous job; what this Update's lost Create started is nobody's.
            stop_unconfirmed(sm, event, responder.unconfirmed, started + remaining - TIMEOUT_MARGIN_SECONDS / 5)
    finally:
        timer.cancel()
    if responder.undelivered is not None:
        raise ResponseNotDelivered(
            f"the answer to CloudFormation could not be delivered: {responder.undelivered}"
        ) from responder.undelivered
