"""Delete: the job is stopped, retained or deleted per its removal behaviour; a Create that
CloudFormation gave up on is found by its tags."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from sagemaker_training_handler.answers import own_name_prefix
from sagemaker_training_handler.calls import (
    ACCESS_DENIED,
    LAG_SECONDS,
    TERMINAL,
    Client,
    await_visible,
    call,
    describe,
    describe_if_allowed,
    error_text,
    jobs_of_resource,
    out_of_time,
    owned_jobs,
    tags_of,
)
from sagemaker_training_handler.errors import log
from sagemaker_training_handler.properties import (
    JOB_NAME,
    NOT_CREATED,
    UNCONFIRMED,
    Props,
    belongs_to_resource,
    issued_by_us,
)

POLL_SECONDS = 10.0


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
        job = describe_if_allowed(sm, physical, deadline) if JOB_NAME.fullmatch(physical) else None
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
                        reason=error_text(error)[:300],
                    )
                    return
                if error.response["Error"].get("Code") != "ValidationException":
                    raise
                # the pool ended on its own meanwhile
                log(event="Delete", job=name, action="warm-pool-release-refused", reason=error_text(error)[:300])
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
                    log(event="Delete", job=name, action="delete-refused", status=status, reason=error_text(error))
                    return
                pool = "Available"  # the pool's status lags the refusal
                continue
        if out_of_time(deadline, POLL_SECONDS):
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
