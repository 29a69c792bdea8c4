"""The resource's properties (the request checked against botocore's model) and its job's identity:
the name and the tags that say whose a job is."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import botocore.session

from sagemaker_training_handler.errors import HandlerError

SCHEMA_VERSION = "2"
# 0: the request as an object of strings, no version; 1: the request as one JSON string;
# 2: the request as an object again (structured, for review), its strings coerced back.
SCHEMA_VERSIONS = ("0", "1", "2")
# Members UpdateTrainingJob changes in place; every other change needs a new job.
IN_PLACE = (("ProfilerConfig",), ("RemoteDebugConfig",), ("ResourceConfig", "KeepAlivePeriodInSeconds"))
KEEP_ALIVE = "ResourceConfig.KeepAlivePeriodInSeconds"


@dataclass(frozen=True)
class Props:
    """The resource's properties, in the current schema."""

    request: dict[str, Any]
    name_prefix: str
    fixed_name: str | None
    removal: str
    gate_id: str | None = None
    run_trigger: str | None = None

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
        identity = {"request": request, "name": self.fixed_name, "prefix": self.name_prefix}
        if self.run_trigger is not None:  # only when set: the spec of a job started without one stays
            identity["trigger"] = self.run_trigger
        return identity

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
    """Versions 0 (no ``SchemaVersion``) and 2 pass ``Request`` as an object, whose scalars
    CloudFormation turns into strings: they are coerced back to the API's types. Version 1
    passes it as one JSON string."""
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
    trigger = raw.get("RunTrigger")
    return Props(
        request=request,
        name_prefix=prefix,
        fixed_name=fixed,
        removal=removal,
        gate_id=gate,
        run_trigger=None if trigger is None else str(trigger),
    )


def props_or_none(raw: Any) -> Props | None:
    try:
        return parse_props(raw)
    except HandlerError:
        return None


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


TAG_STACK = "sagemaker-cdk:stack-id"
TAG_RESOURCE = "sagemaker-cdk:logical-id"
TAG_REQUEST = "sagemaker-cdk:request-id"
TAG_SPEC = "sagemaker-cdk:spec"
TAG_GATE = "sagemaker-cdk:gate"
# The physical id of a failed Create.
NOT_CREATED = "not-created:"
# A failed Create whose CreateTrainingJob may still have reached SageMaker: its Delete looks harder.
UNCONFIRMED = "unconfirmed:"
# A job name as SageMaker allows it.
JOB_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")


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


def belongs_to_resource(tags: Mapping[str, str], event: Mapping[str, Any]) -> bool:
    return bool(tags.get(TAG_STACK) == event["StackId"] and tags.get(TAG_RESOURCE) == event["LogicalResourceId"])
