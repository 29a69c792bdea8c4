"""Update: tags and in-place members change the running job (UpdateTrainingJob, where SageMaker
accepts it in the job's state); any other change returns to a job of this resource with the new spec,
or starts one, and in a rollback stops what the failed Update left running."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from sagemaker_training_handler.answers import Responder, result
from sagemaker_training_handler.calls import Client, call, describe, error_text, resource_jobs, when_readable
from sagemaker_training_handler.create import on_create
from sagemaker_training_handler.delete import remove_job
from sagemaker_training_handler.errors import HandlerError, log
from sagemaker_training_handler.properties import (
    KEEP_ALIVE,
    TAG_GATE,
    TAG_REQUEST,
    TAG_SPEC,
    Props,
    issued_by_us,
    props_or_none,
)

# The stack status during which CloudFormation sends rollback Updates
# (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Stack.html).
ROLLBACK_STATUS = "UPDATE_ROLLBACK_IN_PROGRESS"
# How long DescribeStacks may be retried before the rollback check gives up (and changes nothing).
ROLLBACK_CHECK_SECONDS = 60.0


class Rollback:
    """Asked once per invocation and only when the answer changes what the Update does.

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
            log(action="stack-status-unknown", error=error_text(error)[:300])
            return None
        log(action="read-stack-status", stack_status=status)
        return status == ROLLBACK_STATUS


def not_a_rollback() -> bool | None:
    return None


# RemoteDebugConfig is updated only in these secondary statuses
# (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_UpdateTrainingJob.html).
REMOTE_DEBUG_STATES = frozenset({"Downloading", "Training"})


def _refusal(key: str, job: Mapping[str, Any]) -> str | None:
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
        why = _refusal(key, job)
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
            skipped.update({key: f"SageMaker refused it ({error_text(error)[:300]})" for key in applied})
            applied = []
    return applied, skipped


# A job with the new spec in these states is reused instead of starting another.
REUSABLE = frozenset({"InProgress", "Completed"})


def on_update(
    sm: Client,
    event: Mapping[str, Any],
    props: Props,
    deadline: float,
    responder: Responder,
    rollback: Callable[[], bool | None] = not_a_rollback,
) -> tuple[str, dict[str, str]]:
    physical = str(event["PhysicalResourceId"])
    old = props_or_none(event.get("OldResourceProperties"))
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
        job = when_readable(functools.partial(describe, sm, summary["TrainingJobName"]), deadline)
        if job is not None:
            log(
                event="Update",
                job=job["TrainingJobName"],
                action="stopping-orphan-of-failed-update",
                request_id=summary["Tags"].get(TAG_REQUEST),
            )
            remove_job(sm, job, "stop", deadline)
