"""An in-memory SageMaker with the semantics the handler depends on.

moto 5 marks jobs Completed at once, accepts duplicate names and has no StopTrainingJob, so
the CloudFormation simulator runs against this fake: names are unique, jobs run until
stopped or finished, Stop moves InProgress -> Stopping -> Stopped, and errors have
SageMaker's codes and messages (a missing job is a ValidationException). What AWS documents
and the handler must live with is reproduced too:

- ListTrainingJobs pages (``MaxResults``, at most ``list_page_size`` here, and ``NextToken``),
  newest first, and applies ``StatusEquals`` to each page after cutting it, so a page may be
  empty and still carry a ``NextToken``
  (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ListTrainingJobs.html);
- a Completed job with ``KeepAlivePeriodInSeconds`` keeps an Available warm pool, which
  DeleteTrainingJob refuses (ResourceInUse) until UpdateTrainingJob ends it with a keep-alive
  of 0 (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DeleteTrainingJob.html,
  https://docs.aws.amazon.com/sagemaker/latest/dg/train-warm-pools-how-to-use.html);
- UpdateTrainingJob changes RemoteDebugConfig only while SecondaryStatus is Downloading or
  Training, and the keep-alive only while the job runs or keeps an Available pool
  (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateTrainingJob.html);
- with ``OutputDataConfig.CompressionType`` NONE the model is a prefix, ``.../output/model/``
  (https://docs.aws.amazon.com/sagemaker/latest/dg/model-train-storage-uncompressed.html).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

CREATED_AT = datetime(2026, 11, 27, tzinfo=UTC)
# SecondaryStatus of a job in each status, unless a test sets one.
SECONDARY = {"InProgress": "Training", "Stopping": "Stopping"}
REMOTE_DEBUG_STATES = ("Downloading", "Training")
_sequence = itertools.count()

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
    warm_pool: str | None = None  # WarmPoolStatus.Status
    # Describes that still report an Available pool after UpdateTrainingJob released it.
    release_reads: int = 0
    created: int = field(default_factory=lambda: next(_sequence))

    @property
    def name(self) -> str:
        return str(self.request["TrainingJobName"])

    @property
    def creation_time(self) -> datetime:
        return CREATED_AT + timedelta(seconds=self.created)

    @property
    def keep_alive(self) -> int:
        return int(self.request.get("ResourceConfig", {}).get("KeepAlivePeriodInSeconds") or 0)

    @property
    def secondary_status(self) -> str:
        return str(self.details.get("SecondaryStatus") or SECONDARY.get(self.status, self.status))

    @property
    def arn(self) -> str:
        return f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:training-job/{self.name}"


class FakeSageMaker:
    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self.calls: list[str] = []
        self.fail_next_create: ClientError | None = None
        self.list_page_size = 100  # ListTrainingJobs answers at most this many per page
        self.warm_pool_release_reads = 0  # Describes during which a released pool still shows Available

    # helpers for tests
    def finish(self, name: str, status: str = "Completed", **details: Any) -> None:
        job = self.jobs[name]
        job.status = status
        job.details.update(details)
        if status == "Completed" and job.keep_alive > 0 and job.warm_pool is None:
            job.warm_pool = "Available"  # the instances stay for the keep-alive period

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
        output_config = job.request.get("OutputDataConfig", {})
        output = output_config.get("S3OutputPath", "").rstrip("/")
        model = "model/" if output_config.get("CompressionType") == "NONE" else "model.tar.gz"
        artifacts = {"S3ModelArtifacts": f"{output}/{job.name}/output/{model}"} if output else {}
        pool = job.warm_pool
        if pool == "Terminated" and job.release_reads > 0:  # the release takes a while to show
            job.release_reads -= 1
            pool = "Available"
        return {
            **({"ModelArtifacts": artifacts} if artifacts and job.status == "Completed" else {}),
            **{k: v for k, v in job.request.items() if k != "Tags"},
            "TrainingJobArn": job.arn,
            "TrainingJobStatus": job.status,
            "SecondaryStatus": job.secondary_status,
            "CreationTime": job.creation_time,
            **({"WarmPoolStatus": {"Status": pool}} if pool else {}),
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
        if job.warm_pool == "Available" or (job.warm_pool == "Terminated" and job.release_reads > 0):
            raise _error(
                "DeleteTrainingJob",
                "ResourceInUse",
                f"Training job {job.name} cannot be deleted while it retains an Available warm pool",
            )
        del self.jobs[TrainingJobName]
        return {}

    def update_training_job(self, TrainingJobName: str, **changes: Any) -> dict[str, Any]:
        self.calls.append("UpdateTrainingJob")
        job = self._job("UpdateTrainingJob", TrainingJobName)
        if "RemoteDebugConfig" in changes and job.secondary_status not in REMOTE_DEBUG_STATES:
            raise _error(
                "UpdateTrainingJob",
                "ValidationException",
                f"RemoteDebugConfig can be updated only when SecondaryStatus is Downloading or Training; "
                f"it is {job.secondary_status}",
            )
        keep_alive = changes.get("ResourceConfig", {}).get("KeepAlivePeriodInSeconds")
        if keep_alive is not None:
            if job.status != "InProgress" and job.warm_pool != "Available":
                raise _error(
                    "UpdateTrainingJob",
                    "ValidationException",
                    f"KeepAlivePeriodInSeconds can be updated only while the job runs or keeps an Available "
                    f"warm pool; the job is {job.status}",
                )
            job.request.setdefault("ResourceConfig", {})["KeepAlivePeriodInSeconds"] = keep_alive
            if job.warm_pool == "Available" and keep_alive == 0:
                job.warm_pool, job.release_reads = "Terminated", self.warm_pool_release_reads
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

    def list_training_jobs(
        self,
        NameContains: str = "",
        StatusEquals: str | None = None,
        MaxResults: int = 10,
        NextToken: str | None = None,
    ) -> dict[str, Any]:
        """One page, newest first; ``StatusEquals`` filters the page once it is cut."""
        self.calls.append("ListTrainingJobs")
        if not 1 <= MaxResults <= 100:
            raise _error("ListTrainingJobs", "ValidationException", f"MaxResults {MaxResults} not in 1-100")
        matching = sorted((j for j in self.jobs.values() if NameContains in j.name), key=lambda j: -j.created)
        start = int(NextToken.removeprefix("page-")) if NextToken else 0
        end = start + min(MaxResults, self.list_page_size)
        page = [j for j in matching[start:end] if StatusEquals is None or j.status == StatusEquals]
        summaries = [
            {
                "TrainingJobName": j.name,
                "TrainingJobArn": j.arn,
                "TrainingJobStatus": j.status,
                "CreationTime": j.creation_time,
                **({"WarmPoolStatus": {"Status": j.warm_pool}} if j.warm_pool else {}),
            }
            for j in page
        ]
        return {"TrainingJobSummaries": summaries, **({"NextToken": f"page-{end}"} if end < len(matching) else {})}

    def get_paginator(self, operation: str) -> Any:
        """botocore's paginator over ``list_training_jobs`` (it follows NextToken), as a client has."""
        assert operation == "list_training_jobs"
        fake = self

        class _Paginator:
            def paginate(self, **params: Any) -> Any:
                token: str | None = None
                while True:
                    page = fake.list_training_jobs(**params, NextToken=token)
                    yield page
                    token = page.get("NextToken")
                    if not token:
                        return

        return _Paginator()
