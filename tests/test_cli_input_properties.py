"""Property-based: documents generated from botocore's SageMaker shapes either synthesize or
raise TrainingJobValidationError; never any other exception."""

from __future__ import annotations

import re
from typing import Any

import aws_cdk as cdk
import botocore.session
import pytest
from aws_cdk import assertions
from botocore.model import ListShape, MapShape, Shape, StringShape, StructureShape
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from constructs_lib import TrainingJob, TrainingJobValidationError

MODEL = botocore.session.get_session().get_service_model("sagemaker")
_INPUT = MODEL.operation_model("CreateTrainingJob").input_shape
assert _INPUT is not None
REQUEST_SHAPE: StructureShape = _INPUT
MAX_ITEMS = 2


# Members that conflict with the ones above (each conflict has its own table-driven test).
_NEVER = {"AlgorithmSpecification": ["AlgorithmName"], "StoppingCondition": ["MaxWaitTimeInSeconds"]}
# Structures that take exactly one of their members (the API says so in prose only).
_ONE_MEMBER = {"DataSource"}
# Members a classic (non-serverless) job has; drawn always so that many documents are usable.
_ALWAYS = {"AlgorithmSpecification": ["TrainingImage"], "ResourceConfig": ["InstanceType", "InstanceCount"]}


def _string(shape: Shape) -> st.SearchStrategy[str]:
    meta = shape.metadata
    if isinstance(shape, StringShape) and shape.enum:
        return st.sampled_from(list(shape.enum))
    low, high = meta.get("min", 0), min(meta.get("max", 40), 40)
    pattern = meta.get("pattern")
    if pattern:
        try:
            re.compile(pattern)
            return st.from_regex(pattern, fullmatch=True).filter(lambda s: low <= len(s) <= meta.get("max", 10**6))
        except re.error:
            pass
    return st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=low, max_size=max(low, high))


_BUCKET = st.from_regex(r"[a-z0-9][a-z0-9-]{2,20}[a-z0-9]", fullmatch=True)
_KEY = st.from_regex(r"[a-z0-9/_-]{0,20}", fullmatch=True)
# Shapes whose free-form model patterns would almost never yield a usable value: drawn
# realistic, so that many documents synthesize (the refusals of odd values have their own
# table-driven tests).
_REALISTIC: dict[str, st.SearchStrategy[str]] = {
    "S3Uri": st.builds(lambda b, k: f"s3://{b}/{k}", _BUCKET, _KEY),
    "RoleArn": st.builds(
        lambda n: f"arn:aws:iam::111111111111:role/{n}", st.from_regex(r"[A-Za-z0-9_+=,.@-]{1,30}", fullmatch=True)
    ),
    "AlgorithmImage": st.sampled_from(
        ["111111111111.dkr.ecr.us-east-1.amazonaws.com/trainer:1.0", "docker.io/library/python:3"]
    ),
    "KmsKeyId": st.sampled_from(
        [
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            "alias/training",
            "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        ]
    ),
}


def for_shape(shape: Shape, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values of ``shape`` within its model constraints (sizes capped to stay small)."""
    meta = shape.metadata
    if shape.name in _REALISTIC:
        return _REALISTIC[shape.name]
    if isinstance(shape, StructureShape) and shape.name in _ONE_MEMBER:
        return st.one_of([st.fixed_dictionaries({n: for_shape(m, depth + 1)}) for n, m in shape.members.items()])
    if isinstance(shape, StructureShape):
        wanted = [*shape.required_members, *_ALWAYS.get(shape.name, [])]
        required = {n: for_shape(shape.members[n], depth + 1) for n in wanted}
        optional = (
            {}
            if depth > 2
            else {
                n: for_shape(m, depth + 1)
                for n, m in shape.members.items()
                if n not in wanted and n not in _NEVER.get(shape.name, ()) and m.type_name not in ("timestamp", "blob")
            }
        )
        return st.fixed_dictionaries(required, optional=optional)
    if isinstance(shape, ListShape | MapShape):
        low = meta.get("min", 0)
        high = max(low, min(meta.get("max", MAX_ITEMS), MAX_ITEMS))
        if isinstance(shape, ListShape):
            return st.lists(for_shape(shape.member, depth + 1), min_size=low, max_size=high)
        return st.dictionaries(_string(shape.key), for_shape(shape.value, depth + 1), min_size=low, max_size=high)
    kind = shape.type_name
    if kind == "string":
        return _string(shape)
    if kind in ("integer", "long"):
        return st.integers(min_value=meta.get("min", 0), max_value=meta.get("max", 10**6))
    if kind == "boolean":
        return st.booleans()
    if kind in ("float", "double"):
        return st.floats(min_value=0, max_value=10**6, allow_nan=False)
    return st.none()


def _core() -> st.SearchStrategy[dict[str, Any]]:
    """A classic job's members always present (so most documents are valid), the rest drawn."""
    members = REQUEST_SHAPE.members
    core = [
        "TrainingJobName",
        "RoleArn",
        "OutputDataConfig",
        "AlgorithmSpecification",
        "ResourceConfig",
        "StoppingCondition",
    ]
    optional = [
        "HyperParameters",
        "InputDataConfig",
        "VpcConfig",
        "Tags",
        "Environment",
        "EnableNetworkIsolation",
        "CheckpointConfig",
        "RetryStrategy",
        "ExperimentConfig",
    ]
    return st.fixed_dictionaries(
        {m: for_shape(members[m]) for m in core},
        optional={m: for_shape(members[m]) for m in optional},
    )


def _synthesize_or_refuse(document: dict[str, Any]) -> str:
    stack = cdk.Stack(cdk.App(), "Generated", env=cdk.Environment(account="111111111111", region="us-east-1"))
    try:
        TrainingJob.from_cli_input_json(stack, "Job", document)
    except TrainingJobValidationError:
        return "refused"
    assertions.Template.from_stack(stack)
    return "synthesized"


SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)


@SETTINGS
@given(document=_core())
def test_generated_documents_synthesize_or_raise_our_error(document: dict[str, Any]) -> None:
    outcome = _synthesize_or_refuse(document)
    event(outcome)
    assert outcome in ("synthesized", "refused")


def _break(document: dict[str, Any], how: str) -> dict[str, Any]:
    broken = dict(document)
    if how == "unknown-member":
        broken["NotAMember"] = 1
    elif how == "wrong-type":
        broken["ResourceConfig"] = "ml.m5.xlarge"
    elif how == "too-long-name":
        broken["TrainingJobName"] = "a" * 64
    elif how == "negative-runtime":
        broken["StoppingCondition"] = {"MaxRuntimeInSeconds": -1}
    elif how == "missing-required":
        del broken["OutputDataConfig"]
    return broken


@SETTINGS
@given(
    document=_core(),
    how=st.sampled_from(["unknown-member", "wrong-type", "too-long-name", "negative-runtime", "missing-required"]),
)
def test_invalid_documents_always_raise_our_error(document: dict[str, Any], how: str) -> None:
    with pytest.raises(TrainingJobValidationError):
        TrainingJob.from_cli_input_json(
            cdk.Stack(cdk.App(), "Broken", env=cdk.Environment(account="111111111111", region="us-east-1")),
            "Job",
            _break(document, how),
        )


def test_a_typical_generated_document_can_synthesize() -> None:
    """Guards the generator: a plain valid document does synthesize."""
    document = {
        "TrainingJobName": "a",
        "RoleArn": "arn:aws:iam::111111111111:role/r",
        "OutputDataConfig": {"S3OutputPath": "s3://bucket-name/out/"},
        "AlgorithmSpecification": {"TrainingImage": "i", "TrainingInputMode": "File"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 1},
    }
    assert _synthesize_or_refuse(document) == "synthesized"
