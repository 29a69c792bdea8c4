"""Happy paths of the handler against moto's SageMaker (in-process, no network)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.handler_support import REQUEST, Context, event, handler, name_for, props


@pytest.fixture
def sagemaker() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("sagemaker", region_name="us-east-1")


def _run(client: Any, evt: dict[str, Any]) -> dict[str, Any]:
    sent: list[dict[str, Any]] = []
    handler.handler(evt, Context(), client=client, put=lambda url, body: sent.append(json.loads(body)))
    assert len(sent) == 1
    return sent[0]


def test_create_starts_the_job_with_the_rendered_request_and_identity_tags(sagemaker: Any) -> None:
    evt = event("Create", properties=props({**REQUEST, "Tags": [{"Key": "team", "Value": "ml"}]}))
    body = _run(sagemaker, evt)
    assert body["Status"] == "SUCCESS"
    name = body["PhysicalResourceId"]
    assert name == name_for(evt)
    job = sagemaker.describe_training_job(TrainingJobName=name)
    assert job["RoleArn"] == REQUEST["RoleArn"]
    assert job["ResourceConfig"]["InstanceCount"] == 1
    assert job["HyperParameters"] == {"epochs": "10"}
    tags = {t["Key"]: t["Value"] for t in sagemaker.list_tags(ResourceArn=job["TrainingJobArn"])["Tags"]}
    assert tags["team"] == "ml"
    assert tags[handler.TAG_REQUEST] == evt["RequestId"]
    assert body["Data"]["ModelArtifacts"] == f"s3://output-bucket/jobs/{name}/output/model.tar.gz"


def test_retried_create_does_not_start_a_second_job(sagemaker: Any) -> None:
    evt = event("Create")
    first, second = _run(sagemaker, evt), _run(sagemaker, evt)
    assert first["PhysicalResourceId"] == second["PhysicalResourceId"]
    assert len(sagemaker.list_training_jobs()["TrainingJobSummaries"]) == 1


def test_tag_update_and_delete_of_a_finished_job(sagemaker: Any) -> None:
    created = _run(sagemaker, event("Create"))
    name = created["PhysicalResourceId"]
    tagged = {**REQUEST, "Tags": [{"Key": "stage", "Value": "prod"}]}
    updated = _run(sagemaker, event("Update", physical_id=name, properties=props(tagged), old_properties=props()))
    assert updated["PhysicalResourceId"] == name
    arn = created["Data"]["TrainingJobArn"]
    assert {"Key": "stage", "Value": "prod"} in sagemaker.list_tags(ResourceArn=arn)["Tags"]
    deleted = _run(sagemaker, event("Delete", physical_id=name))
    assert deleted["Status"] == "SUCCESS"


def test_delete_with_an_invented_id_finds_nothing_running(sagemaker: Any) -> None:
    _run(sagemaker, event("Create"))  # moto completes jobs at once
    body = _run(sagemaker, event("Delete", physical_id="Training-Train-ABCDEF"))
    assert body["Status"] == "SUCCESS"
