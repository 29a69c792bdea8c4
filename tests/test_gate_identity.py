"""The completion gate follows the job it waits for.

CloudFormation's WaitCondition waits only while it is created, its properties cannot be updated,
and a handle must never be reused (AWS::CloudFormation::WaitCondition). So every job replacement
that shows in the template, and every timeout change, must bring a condition (and check) with new
logical ids; tag-only and in-place changes must not."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import assertions
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from constructs import IConstruct

from constructs_lib import TrainingImage, TrainingJob
from tests.stacks import only, resources, template

ENV = cdk.Environment(account="111111111111", region="us-east-1")


def _gate(change: Callable[[cdk.Stack, TrainingJob], None] | None = None, **props: Any) -> tuple[str, str, str]:
    """The logical ids of the job's condition and check, and the job's GateId."""
    stack = cdk.Stack(cdk.App(), "Gated", env=ENV)
    repo = ecr.Repository.from_repository_name(stack, "Repo", "trainer")
    settings = {"wait_for_completion": cdk.Duration.hours(3), "max_runtime": cdk.Duration.hours(2), **props}
    job = TrainingJob(stack, "Job", image=TrainingImage.from_ecr_repository(repo), **settings)
    if change is not None:
        change(stack, job)
    tmpl = template(stack)
    condition_id, condition = only(tmpl, "AWS::CloudFormation::WaitCondition")
    check_id, check = only(tmpl, "Custom::SageMakerTrainingJobGate")
    _, resource = only(tmpl, "Custom::SageMakerTrainingJob")
    assert condition["DependsOn"] == [check_id]
    assert check["Properties"]["GateId"] == resource["Properties"]["GateId"]
    assert check["Properties"]["ConditionLogicalId"] == condition_id
    return condition_id, check_id, resource["Properties"]["GateId"]


BASE = _gate()


def test_tag_and_in_place_changes_keep_the_gate() -> None:
    assert _gate(tags={"team": "ml"}) == BASE
    assert _gate(keep_alive_period=cdk.Duration.minutes(10)) == BASE


def test_a_changed_job_gets_a_new_condition_and_check() -> None:
    changed = _gate(instance_count=2)
    assert all(new != old for new, old in zip(changed, BASE, strict=True))


def test_an_override_after_construction_gets_a_new_gate() -> None:
    changed = _gate(lambda _, job: job.add_request_override("ResourceConfig.InstanceType", "ml.c5.xlarge"))
    assert all(new != old for new, old in zip(changed, BASE, strict=True))


@jsii.implements(cdk.IAspect)
class _Bigger:
    def visit(self, node: IConstruct) -> None:
        if isinstance(node, TrainingJob):
            node.add_request_override("ResourceConfig.VolumeSizeInGB", 200)


def test_an_aspect_gets_a_new_gate() -> None:
    changed = _gate(lambda stack, _: cdk.Aspects.of(stack).add(_Bigger()))
    assert all(new != old for new, old in zip(changed, BASE, strict=True))


def test_a_timeout_change_gets_a_new_condition_instead_of_an_update_cloudformation_refuses() -> None:
    changed = _gate(wait_for_completion=cdk.Duration.hours(4))
    assert changed[0] != BASE[0]
    stack = cdk.Stack(cdk.App(), "Timeout", env=ENV)
    repo = ecr.Repository.from_repository_name(stack, "Repo", "trainer")
    TrainingJob(
        stack,
        "Job",
        image=TrainingImage.from_ecr_repository(repo),
        wait_for_completion=cdk.Duration.hours(4),
        max_runtime=cdk.Duration.hours(2),
    )
    _, condition = only(template(stack), "AWS::CloudFormation::WaitCondition")
    # A CreationPolicy and no properties: signalled with SignalResource, no handle to reuse.
    assert condition["CreationPolicy"] == {"ResourceSignal": {"Count": 1, "Timeout": "PT4H"}}
    assert "Properties" not in condition
    assert not resources(template(stack), "AWS::CloudFormation::WaitConditionHandle")


def test_a_replaced_role_gets_a_new_gate() -> None:
    """A role of the stack replaced by a template change (here its path) replaces the job."""

    def gated(path: str) -> str:
        stack = cdk.Stack(cdk.App(), "Gated", env=ENV)
        repo = ecr.Repository.from_repository_name(stack, "Repo", "trainer")
        execution = iam.Role(stack, "Execution", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"), path=path)
        TrainingJob(
            stack,
            "Job",
            image=TrainingImage.from_ecr_repository(repo),
            role=execution,
            wait_for_completion=cdk.Duration.hours(3),
            max_runtime=cdk.Duration.hours(2),
        )
        return only(template(stack), "AWS::CloudFormation::WaitCondition")[0]

    assert gated("/a/") != gated("/b/")


def test_a_parameter_in_the_request_warns_that_its_change_cannot_be_waited_for() -> None:
    stack = cdk.Stack(cdk.App(), "Param", env=ENV)
    repo = ecr.Repository.from_repository_name(stack, "Repo", "trainer")
    instance_type = cdk.CfnParameter(stack, "InstanceType", default="ml.m5.xlarge")
    TrainingJob(
        stack,
        "Job",
        image=TrainingImage.from_ecr_repository(repo),
        instance_type=instance_type.value_as_string,
        wait_for_completion=cdk.Duration.hours(3),
        max_runtime=cdk.Duration.hours(2),
    )
    annotations = assertions.Annotations.from_stack(stack)
    (warning,) = annotations.find_warning("*", assertions.Match.string_like_regexp("known only at deploy time"))
    assert "InstanceType" in str(warning.entry.data)
