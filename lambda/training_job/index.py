"""CloudFormation custom resource handler for ``Custom::SageMakerTrainingJob``.

Standard library and boto3 only. ``handler`` is a thin adapter: it parses the event,
dispatches to the lifecycle functions (``on_create`` / ``on_update`` / ``on_delete``), and
always answers CloudFormation, also when something raises or the Lambda is about to time
out. The SageMaker client and the HTTP sender are injectable for tests.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError

SCHEMA_VERSION = "1"
TAG_STACK = "sagemaker-cdk:stack-id"
TAG_RESOURCE = "sagemaker-cdk:logical-id"
TAG_REQUEST = "sagemaker-cdk:request-id"
TAG_SPEC = "sagemaker-cdk:spec"
TAG_GATE = "sagemaker-cdk:gate"
STATE_CHANGE = "SageMaker Training Job State Change"
GATE_TYPE = "Custom::SageMakerTrainingJobGate"
NOT_CREATED = "not-created:"
TERMINAL = frozenset({"Completed", "Failed", "Stopped"})
REUSABLE = frozenset({"InProgress", "Completed"})
# Members UpdateTrainingJob changes in place; every other change needs a new job.
IN_PLACE = (("ProfilerConfig",), ("RemoteDebugConfig",), ("ResourceConfig", "KeepAlivePeriodInSeconds"))
# CreateTrainingJob errors seen while a new role's permissions are still propagating.
IAM_NOT_READY = re.compile(r"could not assume role|access denied|accessdenied|not authorized to perform", re.IGNORECASE)
IAM_RETRY_SECONDS = 120.0
RESPONSE_LIMIT = 4096
TIMEOUT_MARGIN_SECONDS = 10.0
POLL_SECONDS = 10.0

Client = Any
Put = Callable[[str, bytes], None]


class HandlerError(Exception):
    """A failure whose message is meant for the CloudFormation console."""


def log(**fields: Any) -> None:
    """One structured JSON line per decision. Never pass the event or its ResponseURL."""
    print(json.dumps(fields, default=str, sort_keys=True))


def make_client(service: str = "sagemaker") -> Client:
    config = Config(
        retries={"mode": "standard", "max_attempts": 8},
        connect_timeout=10,
        read_timeout=60,
    )
    return boto3.client(service, config=config)  # type: ignore[call-overload]


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

    Version 0 (no ``SchemaVersion``) passed ``Request`` as an object, which CloudFormation
    turns into strings; such values are coerced back to the API's types.
    """
    if not isinstance(raw, Mapping):
        raise HandlerError("ResourceProperties missing or not an object")
    version = str(raw.get("SchemaVersion", "0"))
    if version not in ("0", SCHEMA_VERSION):
        raise HandlerError(f"unsupported SchemaVersion {version!r}; this handler reads 0 and {SCHEMA_VERSION}")
    request = raw.get("Request")
    if isinstance(request, str):
        try:
            request = json.loads(request)
        except json.JSONDecodeError as error:
            raise HandlerError(f"Request is not valid JSON: {error}") from None
    if not isinstance(request, dict):
        raise HandlerError("Request missing or not an object")
    if version == "0":
        request = coerce_request(request)
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


def describe(sm: Client, name: str) -> dict[str, Any] | None:
    """DescribeTrainingJob, or None when the job does not exist (a ValidationException)."""
    try:
        return sm.describe_training_job(TrainingJobName=name)  # type: ignore[no-any-return]
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code in ("ValidationException", "ResourceNotFound") and _not_found(error):
            return None
        raise


def _not_found(error: ClientError) -> bool:
    message = error.response["Error"].get("Message", "").lower()
    return any(text in message for text in ("not found", "could not find", "does not exist"))


def tags_of(sm: Client, arn: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    token: str | None = None
    while True:
        page = sm.list_tags(ResourceArn=arn, **({"NextToken": token} if token else {}))
        tags.update({t["Key"]: t["Value"] for t in page.get("Tags", [])})
        token = page.get("NextToken")
        if not token:
            return tags


def belongs_to_resource(tags: Mapping[str, str], event: Mapping[str, Any]) -> bool:
    return bool(tags.get(TAG_STACK) == event["StackId"] and tags.get(TAG_RESOURCE) == event["LogicalResourceId"])


def jobs_of_resource(sm: Client, props: Props, event: Mapping[str, Any], **filters: Any) -> list[dict[str, Any]]:
    """Jobs carrying this resource's identity tags, newest first."""
    found: list[dict[str, Any]] = []
    paginator = sm.get_paginator("list_training_jobs")
    pages = paginator.paginate(NameContains=props.fixed_name or props.name_prefix, **filters)
    for page in pages:
        for summary in page.get("TrainingJobSummaries", []):
            tags = tags_of(sm, summary["TrainingJobArn"])
            if belongs_to_resource(tags, event):
                found.append({**summary, "Tags": tags})
    return found


def result(job: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
    """The physical id and the small ``Data`` CloudFormation keeps (never a whole Describe)."""
    name = job["TrainingJobName"]
    output = job.get("OutputDataConfig", {}).get("S3OutputPath", "").rstrip("/")
    data = {
        "TrainingJobName": name,
        "TrainingJobArn": job["TrainingJobArn"],
        "ModelArtifacts": f"{output}/{name}/output/model.tar.gz",
        "TrainingJobStatus": job.get("TrainingJobStatus", ""),
    }
    return name, data


# ----- lifecycle -------------------------------------------------------------------------


def on_create(sm: Client, event: Mapping[str, Any], props: Props, deadline: float) -> tuple[str, dict[str, str]]:
    name = job_name(props, event)
    existing = describe(sm, name)
    if existing is not None:
        return _accept_existing(sm, existing, event, props)
    request = dict(props.request)
    request["TrainingJobName"] = name
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
    delay = 2.0
    while True:
        try:
            sm.create_training_job(**request)
            log(event=event["RequestType"], job=name, action="created")
            break
        except ClientError as error:
            code = error.response["Error"]["Code"]
            message = error.response["Error"].get("Message", "")
            if code == "ResourceInUse":
                found = describe(sm, name)
                if found is None:
                    raise
                return _accept_existing(sm, found, event, props)
            if code == "ValidationException" and IAM_NOT_READY.search(message):
                if time.monotonic() + delay > iam_deadline:
                    raise HandlerError(
                        f"CreateTrainingJob kept failing for {IAM_RETRY_SECONDS:.0f} s while IAM "
                        f"permissions propagated; SageMaker said: {message}"
                    ) from None
                log(event=event["RequestType"], job=name, action="retry-iam-propagation", delay=delay)
                time.sleep(delay)
                delay = min(delay * 2, 20.0)
                continue
            raise
    job = describe(sm, name)
    if job is None:
        raise HandlerError(f"training job {name} was created but cannot be described")
    return result(job)


def _accept_existing(
    sm: Client, job: Mapping[str, Any], event: Mapping[str, Any], props: Props
) -> tuple[str, dict[str, str]]:
    """A job with our name exists: ours if it carries this request's identity tags."""
    tags = tags_of(sm, job["TrainingJobArn"])
    if belongs_to_resource(tags, event) and tags.get(TAG_REQUEST) == event["RequestId"]:
        log(
            event=event["RequestType"],
            job=job["TrainingJobName"],
            action="found-own-job",
            status=job.get("TrainingJobStatus"),
        )
        return result(job)
    raise HandlerError(
        f"training job name {job['TrainingJobName']} is already used by a job this resource did not "
        "create in this request"
        + ("; a fixed training_job_name cannot be reused for a new job" if props.fixed_name else "")
    )


def on_update(sm: Client, event: Mapping[str, Any], props: Props, deadline: float) -> tuple[str, dict[str, str]]:
    physical = str(event["PhysicalResourceId"])
    old = _props_or_none(event.get("OldResourceProperties"))
    if old is None or not issued_by_us(physical, old) or old.immutable() != props.immutable():
        # A new job, unless a running or completed job of this resource already has this spec
        # (the rollback Update after a failed replacement finds the original job this way).
        for job in jobs_of_resource(sm, props, event):
            if job["Tags"].get(TAG_SPEC) == props.spec_hash() and job["TrainingJobStatus"] in REUSABLE:
                found = describe(sm, job["TrainingJobName"])
                if found is not None:
                    log(
                        event="Update",
                        job=job["TrainingJobName"],
                        action="reused-job-with-same-spec",
                        status=found["TrainingJobStatus"],
                    )
                    return result(found)
        if props.fixed_name and old is not None and old.fixed_name == props.fixed_name:
            raise HandlerError(
                f"the job changed but its fixed name {props.fixed_name} is taken by the current job; "
                "change training_job_name (or remove it to generate names) to start a new job"
            )
        return on_create(sm, event, props, deadline)

    current = describe(sm, physical)
    if current is None:
        raise HandlerError(f"training job {physical} no longer exists; change the job to start a new one")
    arn = current["TrainingJobArn"]
    old_tags, new_tags = old.user_tags, props.user_tags
    added = [{"Key": k, "Value": v} for k, v in new_tags.items() if old_tags.get(k) != v]
    removed = [k for k in old_tags if k not in new_tags]
    if added:
        sm.add_tags(ResourceArn=arn, Tags=added)
    if removed:
        sm.delete_tags(ResourceArn=arn, TagKeys=removed)
    if props.gate_id and props.gate_id != old.gate_id:  # a completion gate was added
        sm.add_tags(ResourceArn=arn, Tags=[{"Key": TAG_GATE, "Value": props.gate_id}])
    changes = {k: v for k, v in props.in_place().items() if old.in_place().get(k) != v}
    status = current["TrainingJobStatus"]
    if changes and status == "InProgress":
        update: dict[str, Any] = {"TrainingJobName": physical}
        if "ProfilerConfig" in changes:
            update["ProfilerConfig"] = changes["ProfilerConfig"]
        if "RemoteDebugConfig" in changes:
            update["RemoteDebugConfig"] = changes["RemoteDebugConfig"]
        if "ResourceConfig.KeepAlivePeriodInSeconds" in changes:
            update["ResourceConfig"] = {"KeepAlivePeriodInSeconds": changes["ResourceConfig.KeepAlivePeriodInSeconds"]}
        sm.update_training_job(**update)
    log(
        event="Update",
        job=physical,
        action="updated-in-place",
        status=status,
        tags_added=[t["Key"] for t in added],
        tags_removed=removed,
        in_place=sorted(changes) if status == "InProgress" else [],
    )
    return result(current)


def on_delete(sm: Client, event: Mapping[str, Any], props: Props | None, deadline: float) -> str:
    physical = str(event["PhysicalResourceId"])
    removal = props.removal if props else "stop"
    if physical.startswith(NOT_CREATED):
        name = physical[len(NOT_CREATED) :]
        job = describe(sm, name)
        if job is None or not belongs_to_resource(tags_of(sm, job["TrainingJobArn"]), event):
            log(event="Delete", job=name, action="nothing-was-created")
            return physical
        remove_job(sm, job, removal, deadline)
        return physical
    if issued_by_us(physical, props):
        job = describe(sm, physical)
        if job is None:
            log(event="Delete", job=physical, action="already-gone")
            return physical
        remove_job(sm, job, removal, deadline)
        return physical
    # CloudFormation invented this id (it gave up on a Create): find what that Create started.
    if props is None:
        log(event="Delete", job=None, action="unknown-physical-id-without-properties")
        return physical
    for summary in jobs_of_resource(sm, props, event, StatusEquals="InProgress"):
        job = describe(sm, summary["TrainingJobName"])
        if job is not None:
            remove_job(sm, job, removal, deadline)
    log(event="Delete", job=None, action="searched-for-abandoned-jobs", physical_id=physical)
    return physical


def remove_job(sm: Client, job: Mapping[str, Any], removal: str, deadline: float) -> None:
    name, status = job["TrainingJobName"], job["TrainingJobStatus"]
    if removal == "retain":
        log(event="Delete", job=name, action="retained", status=status)
        return
    if status == "InProgress":
        try:
            sm.stop_training_job(TrainingJobName=name)
            log(event="Delete", job=name, action="stopped", status=status)
        except ClientError as error:  # it finished between Describe and Stop
            if error.response["Error"]["Code"] != "ValidationException":
                raise
            log(event="Delete", job=name, action="stop-not-needed", status=status)
    else:
        log(event="Delete", job=name, action="left-as-is" if removal == "stop" else "delete", status=status)
    if removal != "delete":
        return
    while status not in TERMINAL:
        if time.monotonic() + POLL_SECONDS > deadline:
            log(event="Delete", job=name, action="delete-skipped-not-terminal", status=status)
            return
        time.sleep(POLL_SECONDS)
        current = describe(sm, name)
        if current is None:
            return
        status = current["TrainingJobStatus"]
    try:
        sm.delete_training_job(TrainingJobName=name)
        log(event="Delete", job=name, action="deleted", status=status)
    except ClientError as error:
        if error.response["Error"]["Code"] not in ("ValidationException", "ResourceNotFound"):
            raise
        log(
            event="Delete",
            job=name,
            action="delete-refused",
            status=status,
            reason=error.response["Error"].get("Message", ""),
        )


def _props_or_none(raw: Any) -> Props | None:
    try:
        return parse_props(raw)
    except HandlerError:
        return None


# ----- completion gates ------------------------------------------------------------------------


def signal_gate(put: Put, handle_url: str, job: Mapping[str, Any]) -> str | None:
    """Releases a WaitCondition for a finished job: SUCCESS on Completed, FAILURE on Failed or
    Stopped (MaxRuntimeExceeded included) with SageMaker's reason. None while it runs."""
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
    artifacts = job.get("ModelArtifacts", {}).get("S3ModelArtifacts", "")
    body = {"Status": outcome, "Reason": reason[:1000], "UniqueId": name, "Data": artifacts}
    put(handle_url, json.dumps(body).encode())
    log(event="StateChange", job=name, action="signalled-gate", status=status, outcome=outcome)
    return outcome


def _tags_of_event(sm: Client, detail: Mapping[str, Any]) -> dict[str, str]:
    tags = detail.get("Tags")
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items()}
    if isinstance(tags, list):
        return {t["Key"]: t["Value"] for t in tags}
    return tags_of(sm, detail["TrainingJobArn"])


def on_state_change(event: Mapping[str, Any], sm: Client, cloudformation: Client, put: Put) -> str | None:
    """An EventBridge "SageMaker Training Job State Change", routed with this job's gate.

    Only the job carrying the gate's id releases it: events of other jobs, including the
    previous job of a replaced resource, are ignored; duplicates re-send the same signal.
    """
    detail, gate = event.get("detail") or {}, event.get("Gate") or {}
    name, status = detail.get("TrainingJobName"), detail.get("TrainingJobStatus")
    if not name or not all(gate.get(k) for k in ("Id", "StackId", "HandleLogicalId")):
        log(event="StateChange", job=name, action="ignored-malformed-event")
        return None
    if status not in TERMINAL:
        log(event="StateChange", job=name, action="ignored-not-finished", status=status)
        return None
    if _tags_of_event(sm, detail).get(TAG_GATE) != gate["Id"]:
        log(event="StateChange", job=name, action="ignored-other-gate", status=status)
        return None
    # The rule carries where the wait handle is, not its presigned URL.
    handle = cloudformation.describe_stack_resource(
        StackName=gate["StackId"], LogicalResourceId=gate["HandleLogicalId"]
    )
    return signal_gate(put, handle["StackResourceDetail"]["PhysicalResourceId"], detail)


def on_gate(sm: Client, event: Mapping[str, Any], put: Put) -> tuple[str, dict[str, str]]:
    """``Custom::SageMakerTrainingJobGate``: created after the job; releases the gate at once
    when the job already finished (its state change may have come before the rule was live)."""
    physical = str(event.get("PhysicalResourceId") or f"gate-{event['RequestId']}")
    if event["RequestType"] == "Delete":
        return physical, {}
    props = event.get("ResourceProperties") or {}
    name, handle = props.get("TrainingJobName"), props.get("Handle")
    if not isinstance(name, str) or not isinstance(handle, str):
        raise HandlerError("malformed gate properties: TrainingJobName and Handle are required")
    job = describe(sm, name)
    if job is None:
        raise HandlerError(f"training job {name} does not exist, so it cannot complete")
    outcome = signal_gate(put, handle, job)
    log(event=event["RequestType"], job=name, action="checked-gate", status=job["TrainingJobStatus"], outcome=outcome)
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
    """Sends exactly one response per event."""

    def __init__(self, event: Mapping[str, Any], put: Put) -> None:
        self._event = event
        self._put = put
        self._lock = threading.Lock()
        self.sent: dict[str, Any] | None = None

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
            self._put(str(self._event["ResponseURL"]), encoded)


def _fallback_physical_id(event: Mapping[str, Any], props: Props | None) -> str:
    if event.get("RequestType") == "Create":
        if props is not None and all(k in event for k in ("StackId", "LogicalResourceId", "RequestId")):
            return NOT_CREATED + job_name(props, event)
        return NOT_CREATED + str(event.get("RequestId", "unknown"))
    return str(event.get("PhysicalResourceId") or NOT_CREATED + str(event.get("RequestId", "unknown")))


def handler(
    event: Mapping[str, Any],
    context: Any,
    *,
    client: Client | None = None,
    put: Put | None = None,
    cloudformation: Client | None = None,
) -> None:
    """Lambda entry point. Always answers CloudFormation when the event has a ResponseURL."""
    if isinstance(event, Mapping) and event.get("detail-type") == STATE_CHANGE:
        on_state_change(
            event, client or make_client(), cloudformation or make_client("cloudformation"), put or _default_put
        )
        return
    if not isinstance(event, Mapping) or not isinstance(event.get("ResponseURL"), str):
        log(action="ignored-malformed-event", reason="no ResponseURL to answer")
        return
    responder = Responder(event, put or _default_put)
    remaining = context.get_remaining_time_in_millis() / 1000.0 if context is not None else 900.0
    deadline = time.monotonic() + remaining - 3 * TIMEOUT_MARGIN_SECONDS
    props: Props | None = None
    timer = threading.Timer(
        max(remaining - TIMEOUT_MARGIN_SECONDS, 0.1),
        lambda: responder.send(
            "FAILED",
            _fallback_physical_id(event, props),
            f"the handler ran out of time ({remaining:.0f} s) before SageMaker answered",
        ),
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
        if event.get("ResourceType") == GATE_TYPE:
            physical, data = on_gate(sm, event, put or _default_put)
        elif request_type == "Create":
            physical, data = on_create(sm, event, props, deadline)  # type: ignore[arg-type]
        elif request_type == "Update":
            if not isinstance(event.get("PhysicalResourceId"), str):
                raise HandlerError("malformed event: PhysicalResourceId missing")
            physical, data = on_update(sm, event, props, deadline)  # type: ignore[arg-type]
        elif request_type == "Delete":
            if not isinstance(event.get("PhysicalResourceId"), str):
                raise HandlerError("malformed event: PhysicalResourceId missing")
            physical, data = on_delete(sm, event, props, deadline), {}
        else:
            raise HandlerError(f"malformed event: RequestType {request_type!r}")
        responder.send("SUCCESS", physical, data=data)
    except Exception as error:  # always answer, whatever went wrong
        if isinstance(error, ClientError):
            reason = f"{error.response['Error']['Code']}: {error.response['Error'].get('Message', '')}"
        elif isinstance(error, HandlerError):
            reason = str(error)
        elif isinstance(error, ParamValidationError):
            # Deploy-time values (tokens) are checked here, by botocore, before any API call.
            reason = f"the CreateTrainingJob request is invalid: {error}"
        else:
            reason = f"internal error ({type(error).__name__}: {error})"
        log(action="failed", event=event.get("RequestType"), reason=reason[:1000])
        responder.send("FAILED", _fallback_physical_id(event, props), reason)
    finally:
        timer.cancel()
