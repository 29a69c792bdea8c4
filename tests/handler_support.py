"""Event factories, a fake clock and a stubbed SageMaker client for the handler's tests."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.stub import Stubber

from tests.conftest import HANDLER_NAME_PREFIX, HANDLER_STACK_ID, load_handler

STACK_ID = HANDLER_STACK_ID
LOGICAL_ID = "Train781835F2"
PREFIX = f"{HANDLER_NAME_PREFIX}-a3ff110e"
RESPONSE_URL = (
    "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/"
    "arn%3Aaws%3Acloudformation%3Aus-east-1/secret?X-Amz-Signature=abc"
)
ACCOUNT = "111111111111"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/sagemaker-training/training-2327/TrainRole"

REQUEST: dict[str, Any] = {
    "AlgorithmSpecification": {
        "TrainingImage": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/trainer:1.0",
        "TrainingInputMode": "File",
    },
    "RoleArn": ROLE,
    "OutputDataConfig": {"S3OutputPath": "s3://output-bucket/jobs/"},
    "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
    "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    "HyperParameters": {"epochs": "10"},
}

handler = load_handler()


def props(request: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """ResourceProperties as CloudFormation delivers them (all strings)."""
    values = {
        "ServiceToken": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:Handler",
        "SchemaVersion": "1",
        "JobNamePrefix": PREFIX,
        "RemovalBehavior": "stop",
        "Request": json.dumps(request if request is not None else REQUEST),
    }
    values.update(extra)
    return values


def event(
    request_type: str,
    *,
    physical_id: str | None = None,
    properties: dict[str, Any] | None = None,
    old_properties: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "RequestType": request_type,
        "ServiceToken": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:Handler",
        "ResponseURL": RESPONSE_URL,
        "StackId": STACK_ID,
        "RequestId": request_id or str(uuid.uuid4()),
        "LogicalResourceId": LOGICAL_ID,
        "ResourceType": "Custom::SageMakerTrainingJob",
        "ResourceProperties": properties if properties is not None else props(),
    }
    if physical_id is not None:
        body["PhysicalResourceId"] = physical_id
    if old_properties is not None:
        body["OldResourceProperties"] = old_properties
    return body


def name_for(evt: dict[str, Any]) -> str:
    return handler.job_name(handler.parse_props(evt["ResourceProperties"]), evt)  # type: ignore[no-any-return]


def arn_of(name: str) -> str:
    return f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:training-job/{name}"


def description(name: str, status: str = "InProgress", secondary: str = "Training") -> dict[str, Any]:
    now = datetime(2026, 11, 27, tzinfo=UTC)
    return {
        "TrainingJobName": name,
        "TrainingJobArn": arn_of(name),
        "ModelArtifacts": {"S3ModelArtifacts": f"s3://output-bucket/jobs/{name}/output/model.tar.gz"},
        "TrainingJobStatus": status,
        "SecondaryStatus": secondary,
        "AlgorithmSpecification": REQUEST["AlgorithmSpecification"],
        "RoleArn": ROLE,
        "OutputDataConfig": REQUEST["OutputDataConfig"],
        "ResourceConfig": REQUEST["ResourceConfig"],
        "StoppingCondition": REQUEST["StoppingCondition"],
        "CreationTime": now,
    }


def identity_tags(evt: dict[str, Any], *, request_id: str | None = None) -> list[dict[str, str]]:
    parsed = handler.parse_props(evt["ResourceProperties"])
    return [
        {"Key": handler.TAG_STACK, "Value": evt["StackId"]},
        {"Key": handler.TAG_RESOURCE, "Value": evt["LogicalResourceId"]},
        {"Key": handler.TAG_REQUEST, "Value": request_id or evt["RequestId"]},
        {"Key": handler.TAG_SPEC, "Value": parsed.spec_hash()},
    ]


def not_found(name: str) -> dict[str, Any]:
    return {
        "service_error_code": "ValidationException",
        "service_message": f"Requested resource not found: {name}",
        "http_status_code": 400,
    }


@dataclass
class FakeClock:
    now: float = 1000.0
    slept: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class Context:
    def __init__(self, remaining_ms: int = 900_000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@dataclass
class Run:
    """One handler invocation: the stubbed client and every response it sent."""

    client: Any = field(default_factory=lambda: boto3.client("sagemaker", region_name="us-east-1"))
    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.stub = Stubber(self.client)

    def put(self, url: str, body: bytes) -> None:
        self.sent.append((url, json.loads(body)))

    def __call__(self, evt: dict[str, Any], context: Any = None) -> dict[str, Any]:
        with self.stub:
            handler.handler(evt, context or Context(), client=self.client, put=self.put)
        self.stub.assert_no_pending_responses()
        assert len(self.sent) == 1, self.sent
        return self.sent[-1][1]


def as_cloudformation_delivers(value: Any) -> Any:
    """Custom resource properties as they reach the function: every scalar a string."""
    if isinstance(value, dict):
        return {k: as_cloudformation_delivers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_cloudformation_delivers(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
