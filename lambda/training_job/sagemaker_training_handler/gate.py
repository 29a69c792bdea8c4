"""Completion gates: a finished job's state change releases its gate's WaitCondition, and the gate
resource checks that the job is the gate's."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from sagemaker_training_handler.answers import own_stack_id
from sagemaker_training_handler.calls import (
    LAG_SECONDS,
    TERMINAL,
    Client,
    call,
    describe_if_allowed,
    error_text,
    read_existing,
    tags_of,
)
from sagemaker_training_handler.errors import EventAheadOfSageMaker, GateNotWaiting, HandlerError, log
from sagemaker_training_handler.properties import JOB_NAME, TAG_GATE, TAG_STACK

STATE_CHANGE = "SageMaker Training Job State Change"
GATE_TYPE = "Custom::SageMakerTrainingJobGate"


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
                f"the completion gate {condition} does not wait yet ({waiting}): {error_text(error)}"
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
    job = describe_if_allowed(sm, name, deadline)
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
    job, tags = read_existing(sm, name, lag_deadline, f"in {LAG_SECONDS:.0f} s")
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
