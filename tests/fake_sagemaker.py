"""An in-memory SageMaker with the semantics the handler depends on.

moto 5 marks jobs Completed at once, accepts duplicate names and has no StopTrainingJob, so
the CloudFormation simulator runs against this fake: names are unique, jobs run until
stopped or finished, Stop moves InProgress -> Stopping -> Stopped, and errors have
SageMaker's codes and messages (a missing job is a ValidationException).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

ACCOUNT = "111111111111"


def _error(operation: str, code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


@dataclass
class Job:
    request: dict[str, Any]
    status: str = "InProgress"
    tags: dict[str, str] = field(default_factory=dict)
    updates: list[dict[str, Any]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)  # FailureReason, SecondaryStatus, ...

    @property
    def name(self) -> str:
        return str(self.request["TrainingJobName"])

    @property
    def arn(self) -> str:
        return f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:training-job/{self.name}"


class FakeSageMaker:
    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self.calls: list[str] = []
        self.fail_next_create: ClientError | None = None

    # helpers for tests
    def finish(self, name: str, status: str = "Completed", **details: Any) -> None:
        self.jobs[name].status = status
        self.jobs[name].details.update(details)

    def running(self) -> list[str]:
        return sorted(n for n, j in self.jobs.items() if j.status == "InProgress")

    def _job(self, operation: str, name: str) -> Job:
        if name not in self.jobs:
            raise _error(operation, "ValidationException", f"Requested resource not found: {name}")
        return self.jobs[name]

    def _by_arn(self, operation: str, arn: str) -> Job:
        return self._job(operation, arn.rsplit("/", 1)[-1])

    # the API
    def create_training_job(self, **request: Any) -> dict[str, Any]:
        self.calls.append("CreateTrainingJob")
        if self.fail_next_create is not None:
            error, self.fail_next_create = self.fail_next_create, None
            raise error
        name = request["TrainingJobName"]
        if name in self.jobs:
            raise _error("CreateTrainingJob", "ResourceInUse", f"Training job names must be unique: {name}")
        tags = {t["Key"]: t["Value"] for t in request.get("Tags", [])}
        job = Job(request=request, tags=tags)
        self.jobs[name] = job
        return {"TrainingJobArn": job.arn}

    def describe_training_job(self, TrainingJobName: str) -> dict[str, Any]:
        self.calls.append("DescribeTrainingJob")
        job = self._job("DescribeTrainingJob", TrainingJobName)
        output = job.request.get("OutputDataConfig", {}).get("S3OutputPath", "").rstrip("/")
        artifacts = {"S3ModelArtifacts": f"{output}/{job.name}/output/model.tar.gz"} if output else {}
        return {
            **({"ModelArtifacts": artifacts} if artifacts and job.status == "Completed" else {}),
            **{k: v for k, v in job.request.items() if k != "Tags"},
            "TrainingJobArn": job.arn,
            "TrainingJobStatus": job.status,
            "CreationTime": datetime(2026, 11, 27, tzinfo=UTC),
            **job.details,
        }

    def stop_training_job(self, TrainingJobName: str) -> dict[str, Any]:
        self.calls.append("StopTrainingJob")
        job = self._job("StopTrainingJob", TrainingJobName)
        if job.status != "InProgress":
            raise _error("StopTrainingJob", "ValidationException", f"The job status is {job.status}")
        job.status = "Stopping"
        return {}

    def delete_training_job(self, TrainingJobName: str) -> dict[str, Any]:
        self.calls.append("DeleteTrainingJob")
        job = self._job("DeleteTrainingJob", TrainingJobName)
        if job.status not in ("Completed", "Failed", "Stopped"):
            raise _error("DeleteTrainingJob", "ValidationException", "The job is not in a terminal state")
        del self.jobs[TrainingJobName]
        return {}

    def update_training_job(self, TrainingJobName: str, **changes: Any) -> dict[str, Any]:
        self.calls.append("UpdateTrainingJob")
        job = self._job("UpdateTrainingJob", TrainingJobName)
        job.updates.append(changes)
        return {"TrainingJobArn": job.arn}

    def list_tags(self, ResourceArn: str, **_: Any) -> dict[str, Any]:
        self.calls.append("ListTags")
        job = self._by_arn("ListTags", ResourceArn)
        return {"Tags": [{"Key": k, "Value": v} for k, v in job.tags.items()]}

    def add_tags(self, ResourceArn: str, Tags: list[dict[str, str]]) -> dict[str, Any]:
        self.calls.append("AddTags")
        self._by_arn("AddTags", ResourceArn).tags.update({t["Key"]: t["Value"] for t in Tags})
        return {"Tags": Tags}

    def delete_tags(self, ResourceArn: str, TagKeys: list[str]) -> dict[str, Any]:
        self.calls.append("DeleteTags")
        job = self._by_arn("DeleteTags", ResourceArn)
        for key in TagKeys:
            job.tags.pop(key, None)
        return {}

    def get_paginator(self, operation: str) -> Any:
        assert operation == "list_training_jobs"
        fake = self

        class _Paginator:
            def paginate(self, NameContains: str = "", StatusEquals: str | None = None) -> Any:
                fake.calls.append("ListTrainingJobs")
                summaries = [
                    {"TrainingJobName": j.name, "TrainingJobArn": j.arn, "TrainingJobStatus": j.status}
                    for j in fake.jobs.values()
                    if NameContains in j.name and (StatusEquals is None or j.status == StatusEquals)
                ]
                yield {"TrainingJobSummaries": summaries}

        return _Paginator()
