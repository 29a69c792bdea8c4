"""Fixed job names: both spellings where SageMaker's ARN case is undocumented, and one job per name."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ecr as ecr

from constructs_lib import TrainingImage, TrainingJob, TrainingJobValidationError
from tests.stacks import as_list, resources, statements, template
from tools.intrinsics import resolve_intrinsics

ENV = cdk.Environment(account="111111111111", region="us-east-1")
JOBS = "arn:aws:sagemaker:us-east-1:111111111111:training-job/"


def _job(stack: cdk.Stack, construct_id: str, name: str) -> TrainingJob:
    repo = ecr.Repository.from_repository_name(stack, f"{construct_id}Repo", "trainer")
    return TrainingJob(stack, construct_id, image=TrainingImage.from_ecr_repository(repo), training_job_name=name)


def test_a_fixed_name_with_capitals_is_granted_and_trusted_in_both_spellings() -> None:
    stack = cdk.Stack(cdk.App(), "Named", env=ENV)
    _job(stack, "Nightly", "Nightly-Run")
    tmpl = template(stack)
    handler = next(k for k in resources(tmpl, "AWS::IAM::Role") if k.startswith("SageMakerTrainingJobProviderRole"))
    by_sid = {s.get("Sid"): s for s in statements(tmpl, handler)}
    for sid in ("ManageStackTrainingJobs", "StartStackTrainingJobs", "UpdateStackTrainingJobs"):
        named = [r for r in as_list(by_sid[sid]["Resource"]) if not r.endswith("-*")]
        assert named == [f"{JOBS}Nightly-Run", f"{JOBS}nightly-run"], sid
    role = next(k for k in resources(tmpl, "AWS::IAM::Role") if k.startswith("NightlyRole"))
    (trust,) = tmpl["Resources"][role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    sources = resolve_intrinsics(trust["Condition"]["ArnLike"]["aws:SourceArn"], tmpl)
    assert sources == [f"{JOBS}Nightly-Run", f"{JOBS}nightly-run"]


def test_two_jobs_of_one_app_may_not_fix_the_same_name() -> None:
    app = cdk.App()
    _job(cdk.Stack(app, "First", env=ENV), "Job", "nightly")
    with pytest.raises(
        TrainingJobValidationError, match=r"training_job_name \(TrainingJobName\): got 'Nightly'.*First/Job"
    ):
        _job(cdk.Stack(app, "Second", env=ENV), "Job", "Nightly")
    # Another region is another namespace.
    _job(cdk.Stack(app, "Elsewhere", env=cdk.Environment(account="111111111111", region="eu-west-1")), "Job", "nightly")
