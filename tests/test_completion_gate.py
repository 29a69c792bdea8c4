"""Training inside the deployment: the completion gate, its signals and the composed stack."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sns as sns
from botocore.exceptions import ClientError

from constructs_lib import TrainingImage, TrainingJob, TrainingJobValidationError
from tests.fake_sagemaker import FakeSageMaker
from tests.handler_support import STACK_ID, Context, FakeClock, event, handler, props
from tests.stacks import as_list, grants, only, resources, template, template_of
from tests.test_cloudformation_simulation import CloudFormation

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "training_job_state_change.json").read_text())
CONDITION = "TrainCompletionCondition3E34EEC04dfa251151c0"
GATE = {"Id": "gate-1", "StackId": STACK_ID, "ConditionLogicalId": CONDITION}


class _Stack:
    """CloudFormation as SignalResource documents it for a WaitCondition with a CreationPolicy
    (Count 1): signals count only while the condition is being created (CREATE_IN_PROGRESS); the
    first SUCCESS completes it, a FAILURE fails it; a resource not yet created does not exist."""

    def __init__(self, status: str | None = "CREATE_IN_PROGRESS") -> None:
        self.status = status
        self.signals: list[dict[str, str]] = []

    def _check(self, StackName: str, LogicalResourceId: str) -> None:
        assert (StackName, LogicalResourceId) == (STACK_ID, CONDITION)
        if self.status is None:
            raise ClientError(
                {"Error": {"Code": "ValidationError", "Message": f"Resource {CONDITION} does not exist for stack"}},
                "DescribeStackResource",
            )

    def describe_stack_resource(self, StackName: str, LogicalResourceId: str) -> dict[str, Any]:
        self._check(StackName, LogicalResourceId)
        return {"StackResourceDetail": {"LogicalResourceId": CONDITION, "ResourceStatus": self.status}}

    def signal_resource(self, StackName: str, LogicalResourceId: str, UniqueId: str, Status: str) -> dict[str, Any]:
        self._check(StackName, LogicalResourceId)
        if self.status != "CREATE_IN_PROGRESS":
            raise ClientError(
                {"Error": {"Code": "ValidationError", "Message": f"Resource {CONDITION} is in {self.status} state"}},
                "SignalResource",
            )
        self.signals.append({"UniqueId": UniqueId, "Status": Status})
        self.status = "CREATE_COMPLETE" if Status == "SUCCESS" else "CREATE_FAILED"
        return {}


def _sagemaker(name: str, status: str, *, gate: str | None = "gate-1", **details: Any) -> FakeSageMaker:
    """SageMaker holding ``name`` in ``status``, tagged with this stack's identity and ``gate``."""
    sm = FakeSageMaker()
    tags = [
        {"Key": handler.TAG_STACK, "Value": STACK_ID},
        *([{"Key": handler.TAG_GATE, "Value": gate}] if gate else []),
    ]
    sm.create_training_job(TrainingJobName=name, Tags=tags)
    artifacts = {"S3ModelArtifacts": f"s3://out/jobs/{name}/output/model.tar.gz"}
    sm.finish(name, status, SecondaryStatus=status, ModelArtifacts=artifacts, **details)
    return sm


def _routed(status: str, *, name: str = "job-1", **detail: Any) -> dict[str, Any]:
    """The whole SageMaker event detail (as an older rule delivered it), with the Gate."""
    body = copy.deepcopy(FIXTURE["detail"])
    body.update(TrainingJobName=name, TrainingJobStatus=status, SecondaryStatus=status, **detail)
    return {"detail-type": FIXTURE["detail-type"], "detail": body, "Gate": GATE}


def _as_the_rule_delivers(status: str, name: str = "job-1") -> dict[str, Any]:
    """The rule's input: of the detail, only the job's name and status."""
    return {
        "detail-type": FIXTURE["detail-type"],
        "detail": {"TrainingJobName": name, "TrainingJobStatus": status},
        "Gate": GATE,
    }


def _deliver(evt: dict[str, Any], client: Any, stack: _Stack | None = None) -> list[dict[str, str]]:
    stack = stack or _Stack()
    handler.handler(evt, None, client=client, cloudformation=stack, put=_no_put)
    return stack.signals


def _no_put(url: str, body: bytes) -> None:
    raise AssertionError(f"a state change answers nobody: PUT to {url}")


def test_completed_job_releases_the_gate() -> None:
    assert _deliver(_as_the_rule_delivers("Completed"), _sagemaker("job-1", "Completed")) == [
        {"UniqueId": "job-1", "Status": "SUCCESS"}
    ]


def test_failed_job_fails_the_gate_and_logs_sagemakers_reason(capsys: pytest.CaptureFixture[str]) -> None:
    sm = _sagemaker("job-1", "Failed", FailureReason="AlgorithmError: loss became NaN")
    assert _deliver(_as_the_rule_delivers("Failed"), sm) == [{"UniqueId": "job-1", "Status": "FAILURE"}]
    assert "AlgorithmError: loss became NaN" in capsys.readouterr().out


def test_job_stopped_by_max_runtime_fails_the_gate(capsys: pytest.CaptureFixture[str]) -> None:
    sm = _sagemaker("job-1", "Stopped")
    sm.finish("job-1", "Stopped", SecondaryStatus="MaxRuntimeExceeded")
    assert _deliver(_as_the_rule_delivers("Stopped"), sm) == [{"UniqueId": "job-1", "Status": "FAILURE"}]
    assert "MaxRuntimeExceeded" in capsys.readouterr().out


def test_events_of_other_jobs_and_of_the_replaced_job_are_ignored() -> None:
    assert _deliver(_routed("Completed", name="other"), _sagemaker("other", "Completed", gate=None)) == []
    assert _deliver(_routed("Completed", name="previous"), _sagemaker("previous", "Completed", gate="gate-0")) == []


def test_running_jobs_do_not_signal() -> None:
    assert _deliver(_routed("InProgress"), _sagemaker("job-1", "InProgress")) == []
    assert _deliver(_routed("Stopping"), _sagemaker("job-1", "Stopping")) == []


def test_duplicate_events_signal_once_and_the_second_is_left_alone() -> None:
    """SageMaker may send several events per state change: the condition took its signal."""
    sm, stack = _sagemaker("job-1", "Completed"), _Stack()
    _deliver(_as_the_rule_delivers("Completed"), sm, stack)
    _deliver(_as_the_rule_delivers("Completed"), sm, stack)  # does not raise
    assert stack.signals == [{"UniqueId": "job-1", "Status": "SUCCESS"}]


def test_an_event_before_the_condition_waits_fails_so_that_lambda_delivers_it_again() -> None:
    """The job finished before CloudFormation created the condition (it waits after the check)."""
    sm, stack = _sagemaker("job-1", "Completed"), _Stack(status=None)
    with pytest.raises(handler.GateNotWaiting):
        _deliver(_as_the_rule_delivers("Completed"), sm, stack)
    stack.status = "CREATE_IN_PROGRESS"  # Lambda's retry, a minute later
    assert _deliver(_as_the_rule_delivers("Completed"), sm, stack) == [{"UniqueId": "job-1", "Status": "SUCCESS"}]


# ----- forged state changes ----------------------------------------------------------------------


def test_a_forged_status_and_tags_in_the_event_release_nothing() -> None:
    """The event claims Completed, this gate's tag and an attacker's model; SageMaker says it runs."""
    evt = _routed("Completed", Tags={handler.TAG_GATE: "gate-1", handler.TAG_STACK: STACK_ID})
    evt["detail"]["ModelArtifacts"] = {"S3ModelArtifacts": "s3://attacker/model.tar.gz"}
    stack = _Stack()
    with pytest.raises(handler.EventAheadOfSageMaker):  # as an early event: Lambda retries it, nothing is released
        _deliver(evt, _sagemaker("job-1", "InProgress"), stack)
    assert stack.signals == []
    assert _deliver(evt, _sagemaker("job-1", "Completed", gate="gate-other")) == []


def test_a_state_change_routed_for_another_stack_is_ignored() -> None:
    evt = _routed("Completed")
    evt["Gate"] = {**GATE, "StackId": STACK_ID.replace("Training", "Other")}
    assert _deliver(evt, _sagemaker("job-1", "Completed")) == []


def test_a_state_change_of_a_job_outside_the_handlers_reach_is_ignored() -> None:
    class _Denied:
        def describe_training_job(self, **kwargs: Any) -> Any:
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "DescribeTrainingJob")

    assert _deliver(_routed("Completed", name="foreign-job"), _Denied()) == []


# ----- the gate's check resource -------------------------------------------------------------------


def _gate_check(
    job_status: str,
    *,
    gate: str = "gate-1",
    request_type: str = "Create",
    old_job: str | None = None,
    stack_status: str = "UPDATE_IN_PROGRESS",
) -> dict[str, Any]:
    sm = _sagemaker("job-1", job_status, gate=gate)
    properties = {"TrainingJobName": "job-1", "GateId": "gate-1", "ConditionLogicalId": CONDITION}
    check = event(request_type, properties=properties)
    check["ResourceType"] = "Custom::SageMakerTrainingJobGate"
    if request_type == "Update":
        check["PhysicalResourceId"] = "gate-1234"
        check["OldResourceProperties"] = {**properties, "TrainingJobName": old_job or "job-1"}

    class _Status:
        def describe_stacks(self, StackName: str) -> dict[str, Any]:
            return {"Stacks": [{"StackStatus": stack_status}]}

    sent: list[dict[str, Any]] = []
    handler.handler(
        check, Context(), client=sm, cloudformation=_Status(), put=lambda url, body: sent.append(json.loads(body))
    )
    (response,) = sent
    return response


def test_gate_check_accepts_only_its_own_job() -> None:
    assert _gate_check("InProgress")["Status"] == "SUCCESS"
    response = _gate_check("InProgress", gate="gate-other")
    assert response["Status"] == "FAILED" and "not the job of this gate" in response["Reason"]


def test_a_job_replaced_at_deploy_time_under_the_same_gate_fails_the_check() -> None:
    """A parameter changed: a new job, the same logical ids. The condition cannot wait again, so the
    check fails rather than let what depends on completion use a model that does not exist yet."""
    response = _gate_check("InProgress", request_type="Update", old_job="job-0")
    assert response["Status"] == "FAILED"
    assert "cannot wait again" in response["Reason"] and "job-0" in response["Reason"]
    # The rollback back to the previous job, and a replacement that already completed, pass.
    rollback = _gate_check(
        "InProgress", request_type="Update", old_job="job-0", stack_status="UPDATE_ROLLBACK_IN_PROGRESS"
    )
    assert rollback["Status"] == "SUCCESS"
    assert _gate_check("Completed", request_type="Update", old_job="job-0")["Status"] == "SUCCESS"
    assert _gate_check("InProgress", request_type="Update")["Status"] == "SUCCESS"  # same job: tags only


# ----- handler-level simulation of create -> event -> signal ------------------------------


def test_create_then_state_change_event_releases_the_gate(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr(handler.time, "monotonic", clock.monotonic)
    monkeypatch.setattr(handler.time, "sleep", clock.sleep)
    sm = FakeSageMaker()
    cfn = CloudFormation(sm)
    gated = props(GateId="gate-1")
    assert cfn.create(gated)["Status"] == "SUCCESS"
    name = cfn.physical_id
    assert name is not None and sm.jobs[name].tags[handler.TAG_GATE] == "gate-1"
    sm.finish(name)
    assert _deliver(_as_the_rule_delivers("Completed", name), sm) == [{"UniqueId": name, "Status": "SUCCESS"}]


def test_the_rules_event_of_name_and_status_is_all_the_handler_needs() -> None:
    assert _deliver(_as_the_rule_delivers("Completed"), _sagemaker("job-1", "Completed")) == [
        {"UniqueId": "job-1", "Status": "SUCCESS"}
    ]


def test_a_finished_event_ahead_of_sagemakers_reads_fails_so_that_lambda_delivers_it_again(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Describe still says InProgress: returning would leave the gate waiting out its whole timeout."""
    sm = _sagemaker("job-1", "InProgress")
    with pytest.raises(handler.EventAheadOfSageMaker):
        _deliver(_as_the_rule_delivers("Completed"), sm)
    assert "event-ahead-of-sagemaker-retry" in capsys.readouterr().out
    sm.finish("job-1", "Completed", SecondaryStatus="Completed")  # Lambda's retry, a minute later
    assert _deliver(_as_the_rule_delivers("Completed"), sm) == [{"UniqueId": "job-1", "Status": "SUCCESS"}]


# ----- the construct --------------------------------------------------------------------------


def _job(**props_: Any) -> tuple[cdk.Stack, TrainingJob]:
    stack = cdk.Stack(cdk.App(), "Gated", env=cdk.Environment(account="111111111111", region="us-east-1"))
    repo = ecr.Repository.from_repository_name(stack, "Repo", "trainer")
    return stack, TrainingJob(stack, "Job", image=TrainingImage.from_ecr_repository(repo), **props_)


def test_model_and_endpoint_config_wait_for_the_completion_gate() -> None:
    tmpl = template_of("train_and_serve")
    condition_id, condition = only(tmpl, "AWS::CloudFormation::WaitCondition")
    _, model = only(tmpl, "AWS::SageMaker::Model")
    assert condition_id in model["DependsOn"]
    assert condition["CreationPolicy"] == {"ResourceSignal": {"Count": 1, "Timeout": "PT3H"}}
    job_id, _ = only(tmpl, "Custom::SageMakerTrainingJob")
    assert model["Properties"]["PrimaryContainer"]["ModelDataUrl"] == {"Fn::GetAtt": [job_id, "ModelArtifacts"]}
    _, config = only(tmpl, "AWS::SageMaker::EndpointConfig")
    model_id, _ = only(tmpl, "AWS::SageMaker::Model")
    assert config["Properties"]["ProductionVariants"][0]["ModelName"] == {"Fn::GetAtt": [model_id, "ModelName"]}


def test_rule_and_its_permission_exist_before_the_job_starts() -> None:
    tmpl = template_of("train_and_serve")
    _, job = only(tmpl, "Custom::SageMakerTrainingJob")
    rule_id, rule = only(tmpl, "AWS::Events::Rule")
    permission_id = next(
        k
        for k, r in resources(tmpl, "AWS::Lambda::Permission").items()
        if r["Properties"]["SourceArn"] == {"Fn::GetAtt": [rule_id, "Arn"]}
    )
    assert {rule_id, permission_id} <= set(job["DependsOn"])
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["detail"]["TrainingJobName"] == [{"prefix": job["Properties"]["JobNamePrefix"] + "-"}]
    assert pattern["detail"]["TrainingJobStatus"] == ["Completed", "Failed", "Stopped"]
    assert (pattern["account"], pattern["region"]) == (["111111111111"], ["us-east-1"])
    assert "GateId" in job["Properties"]
    # The rule names the condition; signalling it takes the handler's SignalResource permission.
    (target,) = rule["Properties"]["Targets"]
    condition_id, _ = only(tmpl, "AWS::CloudFormation::WaitCondition")
    assert not resources(tmpl, "AWS::CloudFormation::WaitConditionHandle")
    template_text = "".join(p for p in target["InputTransformer"]["InputTemplate"]["Fn::Join"][1] if isinstance(p, str))
    assert f'"ConditionLogicalId":"{condition_id}"' in template_text
    # Of the event's detail, only the job's name and status reach the handler.
    assert target["InputTransformer"]["InputPathsMap"] == {
        "detail-TrainingJobName": "$.detail.TrainingJobName",
        "detail-TrainingJobStatus": "$.detail.TrainingJobStatus",
    }
    provider_policy = next(
        p for k, p in resources(tmpl, "AWS::IAM::Policy").items() if k.startswith("SageMakerTrainingJobProviderRole")
    )
    by_sid = {s.get("Sid"): s for s in provider_policy["Properties"]["PolicyDocument"]["Statement"]}
    for sid, action in (
        ("FindCompletionGates", "cloudformation:DescribeStackResource"),
        ("SignalCompletionGates", "cloudformation:SignalResource"),
    ):
        assert (by_sid[sid]["Action"], by_sid[sid]["Resource"]) == (action, {"Ref": "AWS::StackId"})


def test_model_role_can_read_only_the_artifacts() -> None:
    tmpl = template_of("train_and_serve")
    pairs = grants(tmpl, "ModelRoleEE661428")
    s3 = {p for p in pairs if p[0].startswith("s3:")}
    assert len(s3) == 1
    ((action, resource),) = s3
    assert action == "s3:GetObject"
    assert resource.endswith("/train781835f2-trainingjobname/output/model.tar.gz")
    assert ("kms:Decrypt", "arn:aws:kms:us-east-1:111111111111:key/sagemakertrainingstoragekey10f3a471") in pairs
    assert not [p for p in pairs if p[0] in ("kms:Encrypt", "kms:GenerateDataKey", "s3:PutObject", "s3:ListBucket")]


def test_a_changed_job_gets_a_new_gate_and_a_tag_change_does_not() -> None:
    def gate_ids(**props_: Any) -> set[str]:
        stack, _ = _job(wait_for_completion=cdk.Duration.hours(3), max_runtime=cdk.Duration.hours(2), **props_)
        return set(resources(template(stack), "AWS::CloudFormation::WaitCondition"))

    base = gate_ids()
    assert gate_ids(tags={"team": "ml"}) == base
    assert gate_ids(keep_alive_period=cdk.Duration.minutes(10)) == base
    assert gate_ids(instance_count=2) != base


@pytest.mark.parametrize(
    ("wait", "props_", "expected"),
    [
        (
            cdk.Duration.hours(1),
            {"max_runtime": cdk.Duration.hours(1)},
            "must exceed max_runtime (3600 s) plus 30 minutes",
        ),
        (cdk.Duration.hours(13), {"max_runtime": cdk.Duration.hours(1)}, "at most 12 hours"),
        (
            cdk.Duration.hours(3),
            {
                "max_runtime": cdk.Duration.hours(1),
                "enable_managed_spot_training": True,
                "max_wait": cdk.Duration.hours(3),
            },
            "must exceed max_wait (10800 s)",
        ),
        (cdk.Duration.hours(12), {}, "must exceed max_runtime (86400 s)"),
    ],
)
def test_gate_timeout_must_cover_the_runtime(wait: cdk.Duration, props_: dict[str, Any], expected: str) -> None:
    with pytest.raises(TrainingJobValidationError, match="wait_for_completion") as raised:
        _job(wait_for_completion=wait, **props_)
    assert expected in str(raised.value)


def test_completion_needs_a_gate() -> None:
    _, job = _job()
    with pytest.raises(TrainingJobValidationError, match="set wait_for_completion"):
        _ = job.completion


def test_on_state_change_targets_this_jobs_events() -> None:
    stack, job = _job()
    topic = sns.Topic(stack, "Topic")
    job.on_state_change("Notify", target=targets.SnsTopic(topic))
    tmpl = template(stack)
    _, rule = only(tmpl, "AWS::Events::Rule")
    _, resource = only(tmpl, "Custom::SageMakerTrainingJob")
    assert rule["Properties"]["EventPattern"] == {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Training Job State Change"],
        "account": ["111111111111"],
        "region": ["us-east-1"],
        "detail": {"TrainingJobName": [{"prefix": resource["Properties"]["JobNamePrefix"] + "-"}]},
    }
    assert as_list(rule["Properties"]["Targets"])[0]["Arn"] == {"Ref": only(tmpl, "AWS::SNS::Topic")[0]}
