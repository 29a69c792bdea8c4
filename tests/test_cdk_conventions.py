"""CDK habits work on a TrainingJob: tags, Aspects, removal policies, structured properties."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import jsii
import pytest
from aws_cdk import aws_ecr as ecr
from constructs import IConstruct

from constructs_lib import JobRemovalBehavior, TrainingImage, TrainingJob
from tests.handler_support import REQUEST, Run, as_cloudformation_delivers, description, event, handler, props
from tests.stacks import only, resources, template
from tools.summary import request_of

ENV = cdk.Environment(account="111111111111", region="us-east-1")


def _job(stack: cdk.Stack, construct_id: str = "Job", **props_: Any) -> TrainingJob:
    repo = ecr.Repository.from_repository_name(stack, f"{construct_id}Repo", "trainer")
    return TrainingJob(stack, construct_id, image=TrainingImage.from_ecr_repository(repo), **props_)


def _request(tmpl: dict[str, Any]) -> dict[str, Any]:
    _, job = only(tmpl, "Custom::SageMakerTrainingJob")
    return request_of(job["Properties"])  # type: ignore[no-any-return]


def test_stack_tags_and_tags_of_reach_the_training_job() -> None:
    stack = cdk.Stack(cdk.App(), "Tagged", env=ENV, tags={"cost-center": "1234"})
    job = _job(stack, tags={"team": "ml"})
    cdk.Tags.of(stack).add("env", "prod")
    cdk.Tags.of(job).add("owner", "alice")
    assert _request(template(stack))["Tags"] == [
        {"Key": "cost-center", "Value": "1234"},
        {"Key": "env", "Value": "prod"},
        {"Key": "owner", "Value": "alice"},
        {"Key": "team", "Value": "ml"},
    ]


def test_a_tag_change_keeps_the_gate_and_the_job() -> None:
    """Tags are left out of the job's identity: a tag-only change updates the job in place."""

    def gate_and_spec(extra_tag: str) -> tuple[str, str]:
        stack = cdk.Stack(cdk.App(), "Gated", env=ENV)
        _job(stack, wait_for_completion=cdk.Duration.hours(3), max_runtime=cdk.Duration.hours(2))
        cdk.Tags.of(stack).add("release", extra_tag)
        _, job = only(template(stack), "Custom::SageMakerTrainingJob")
        parsed = handler.parse_props(json.loads(json.dumps(job["Properties"], default=str)))
        return job["Properties"]["GateId"], parsed.spec_hash()

    assert gate_and_spec("1") == gate_and_spec("2")


@jsii.implements(cdk.IAspect)
class _BiggerInstances:
    """An Aspect that moves every training job to a larger instance type."""

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, TrainingJob):
            node.add_request_override("ResourceConfig.InstanceType", "ml.c5.4xlarge")


def test_an_aspect_can_change_a_jobs_request_and_the_handlers_guardrails_follow() -> None:
    stack = cdk.Stack(cdk.App(), "Aspected", env=ENV)
    job = _job(stack)
    cdk.Aspects.of(stack).add(_BiggerInstances())
    tmpl = template(stack)
    assert _request(tmpl)["ResourceConfig"]["InstanceType"] == "ml.c5.4xlarge"
    assert job.request["ResourceConfig"]["InstanceType"] == "ml.c5.4xlarge"
    policies = resources(tmpl, "AWS::IAM::Policy")
    (policy,) = [p for k, p in policies.items() if k.startswith("SageMakerTrainingJobProviderStart")]
    condition = policy["Properties"]["PolicyDocument"]["Statement"][0]["Condition"]
    assert condition["ForAllValues:StringEquals"]["sagemaker:InstanceTypes"] == ["ml.c5.4xlarge"]


def test_editing_the_request_directly_says_how_to_change_it() -> None:
    stack = cdk.Stack(cdk.App(), "Frozen", env=ENV)
    job = _job(stack)
    with pytest.raises(TypeError, match=r"add_request_override"):
        job.request["ResourceConfig"]["InstanceType"] = "ml.c5.4xlarge"
    with pytest.raises(TypeError, match=r"add_request_override"):
        job.request["HyperParameters"] = {"lr": "0.1"}


@jsii.implements(cdk.IAspect)
class _Breaks:
    def visit(self, node: IConstruct) -> None:
        if isinstance(node, TrainingJob):
            node.add_request_override("ResourceConfig.InstanceType", "ml.nope.xlarge")


def test_an_aspect_that_breaks_a_request_fails_synth_with_the_model_error() -> None:
    app = cdk.App()
    stack = cdk.Stack(app, "Broken", env=ENV)
    _job(stack)
    cdk.Aspects.of(stack).add(_Breaks())
    with pytest.raises(Exception, match=r"instance_type \(ResourceConfig.InstanceType\): got 'ml.nope.xlarge'"):
        app.synth()


@pytest.mark.parametrize(
    ("policy", "behavior"),
    [
        (cdk.RemovalPolicy.RETAIN, JobRemovalBehavior.RETAIN),
        (cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE, JobRemovalBehavior.RETAIN),
        (cdk.RemovalPolicy.DESTROY, JobRemovalBehavior.DELETE),
    ],
)
def test_apply_removal_policy_maps_onto_the_removal_behavior(
    policy: cdk.RemovalPolicy, behavior: JobRemovalBehavior
) -> None:
    stack = cdk.Stack(cdk.App(), "Removal", env=ENV)
    job = _job(stack)
    job.apply_removal_policy(policy)
    tmpl = template(stack)
    _, resource = only(tmpl, "Custom::SageMakerTrainingJob")
    assert resource["Properties"]["RemovalBehavior"] == behavior.value
    assert "DeletionPolicy" not in resource or resource["DeletionPolicy"] == "Delete"
    start = json.dumps(resources(tmpl, "AWS::IAM::Policy"))
    assert ("sagemaker:DeleteTrainingJob" in start) is (behavior is JobRemovalBehavior.DELETE)


def test_snapshot_removal_is_refused() -> None:
    from constructs_lib import TrainingJobValidationError

    stack = cdk.Stack(cdk.App(), "Snapshot", env=ENV)
    job = _job(stack)
    with pytest.raises(TrainingJobValidationError, match="SNAPSHOT"):
        job.apply_removal_policy(cdk.RemovalPolicy.SNAPSHOT)


def test_a_stack_is_what_a_resource_is() -> None:
    stack = cdk.Stack(cdk.App(), "Env", env=ENV)
    job = _job(stack)
    assert isinstance(job, cdk.Resource)
    assert job.stack is stack
    assert (job.env.account, job.env.region) == ("111111111111", "us-east-1")


# ----- the handler reads every schema version it ever wrote --------------------------------------


@pytest.mark.parametrize("old_version", ["0", "1"])
def test_an_update_from_an_older_schema_to_schema_2_keeps_the_job(old_version: str) -> None:
    name = "training-2327-a3ff110e-0a1b2c3d"
    old = (
        props()
        if old_version == "1"
        else {"JobNamePrefix": props()["JobNamePrefix"], "Request": as_cloudformation_delivers(REQUEST)}
    )
    new = {**props(), "SchemaVersion": "2", "Request": as_cloudformation_delivers(REQUEST)}
    run = Run()
    evt = event("Update", physical_id=name, properties=new, old_properties=old)
    run.stub.add_response("describe_training_job", description(name), {"TrainingJobName": name})
    body = run(evt)  # no ListTrainingJobs, no CreateTrainingJob: the same job
    assert (body["Status"], body["PhysicalResourceId"]) == ("SUCCESS", name)


# ----- ITrainingJob: imports, grants, metrics --------------------------------------------------


def test_imported_jobs_are_training_jobs_with_name_arn_and_grants() -> None:
    from aws_cdk import aws_iam as iam
    from aws_cdk import aws_s3 as s3

    from constructs_lib import ITrainingJob, S3Location

    stack = cdk.Stack(cdk.App(), "Imports", env=ENV)
    by_name = TrainingJob.from_training_job_name(stack, "ByName", "nightly-1")
    by_arn = TrainingJob.from_training_job_arn(
        stack, "ByArn", "arn:aws:sagemaker:us-east-1:111111111111:training-job/nightly-2"
    )
    bucket = s3.Bucket.from_bucket_name(stack, "Models", "team-models")
    with_output = TrainingJob.from_training_job_attributes(
        stack, "WithOutput", training_job_name="nightly-3", output=S3Location.from_bucket(bucket, "jobs/")
    )
    jobs: list[ITrainingJob] = [by_name, by_arn, with_output, _job(stack)]  # mypy checks the protocol
    assert len(jobs) == 4
    assert stack.resolve(by_name.training_job_arn) == {
        "Fn::Join": [
            "",
            ["arn:", {"Ref": "AWS::Partition"}, ":sagemaker:us-east-1:111111111111:training-job/nightly-1"],
        ]
    }
    assert stack.resolve(by_arn.training_job_name) == "nightly-2"
    assert with_output.model_artifacts_s3_uri == "s3://team-models/jobs/nightly-3/output/model.tar.gz"

    reader = iam.Role(stack, "Reader", assumed_by=iam.AccountRootPrincipal())
    by_arn.grant_describe(reader)
    by_arn.grant_stop(reader)
    with_output.grant_read_output(reader)
    tmpl = template(stack)
    (policy,) = [p for k, p in resources(tmpl, "AWS::IAM::Policy").items() if k.startswith("ReaderDefaultPolicy")]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert actions == {
        "sagemaker:DescribeTrainingJob",
        "sagemaker:ListTags",
        "sagemaker:StopTrainingJob",
        "s3:GetObject",
        "s3:ListBucket",
    }
    objects = next(s for s in statements if s["Action"] == "s3:GetObject")
    assert stack.resolve(objects["Resource"]) == {
        "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::team-models/jobs/nightly-3/*"]]
    }


def test_an_imported_job_without_output_says_what_is_missing() -> None:
    from constructs_lib import TrainingJobValidationError

    stack = cdk.Stack(cdk.App(), "NoOutput", env=ENV)
    job = TrainingJob.from_training_job_name(stack, "Job", "nightly-1")
    with pytest.raises(TrainingJobValidationError, match=r"from_training_job_attributes\(output=...\)"):
        _ = job.model_artifacts_s3_uri


def test_metrics_name_the_namespace_and_the_dimensions_sagemaker_publishes() -> None:
    stack = cdk.Stack(cdk.App(), "Metrics", env=ENV)
    job = _job(stack, metric_definitions={"validation:auc": "auc=([0-9.]+)"})
    cpu = job.metric_cpu_utilization(instance=2, period=cdk.Duration.minutes(1))
    assert (cpu.namespace, cpu.metric_name) == ("/aws/sagemaker/TrainingJobs", "CPUUtilization")
    resource_id = stack.get_logical_id(job.resource)
    job_name = {"Fn::GetAtt": [resource_id, "TrainingJobName"]}
    assert stack.resolve((cpu.dimensions or {})["Host"]) == {"Fn::Join": ["", [job_name, "/algo-2"]]}
    auc = job.metric("validation:auc")
    assert auc.metric_name == "validation:auc" and set(auc.dimensions or {}) == {"TrainingJobName"}
    for method, name in (
        (job.metric_memory_utilization, "MemoryUtilization"),
        (job.metric_gpu_utilization, "GPUUtilization"),
        (job.metric_gpu_memory_utilization, "GPUMemoryUtilization"),
        (job.metric_disk_utilization, "DiskUtilization"),
    ):
        assert method().metric_name == name
    job.metric_gpu_utilization().create_alarm(stack, "IdleGpus", threshold=10, evaluation_periods=3)
    assert len(resources(template(stack), "AWS::CloudWatch::Alarm")) == 1


def test_instance_type_accepts_an_ec2_instance_type() -> None:
    from aws_cdk import aws_ec2 as ec2

    stack = cdk.Stack(cdk.App(), "Typed", env=ENV)
    _job(stack, instance_type=ec2.InstanceType.of(ec2.InstanceClass.G5, ec2.InstanceSize.XLARGE2))
    assert _request(template(stack))["ResourceConfig"]["InstanceType"] == "ml.g5.2xlarge"


def test_connections_of_a_job_without_a_vpc_warn_instead_of_creating_nothing_silently() -> None:
    from aws_cdk import aws_ec2 as ec2

    stack = cdk.Stack(cdk.App(), "NoVpc", env=ENV)
    job = _job(stack)
    vpc = ec2.Vpc.from_vpc_attributes(stack, "Vpc", vpc_id="vpc-0123456789abcdef0", availability_zones=["us-east-1a"])
    group = ec2.SecurityGroup(stack, "Database", vpc=vpc)
    group.connections.allow_default_port_from(job) if group.connections.default_port else group.connections.allow_from(
        job, ec2.Port.tcp(5432)
    )
    warnings = cdk.assertions.Annotations.from_stack(stack).find_warning(
        "*", cdk.assertions.Match.string_like_regexp("without a VPC")
    )
    assert warnings


def test_tags_added_after_construction_reach_a_job_created_without_any() -> None:
    stack = cdk.Stack(cdk.App(), "LateTags", env=ENV)
    first, second, untagged = _job(stack, "First"), _job(stack, "Second"), _job(stack, "Untagged")
    cdk.Tags.of(first).add("env", "prod")
    second.tags.set_tag("owner", "alice")
    requests = {
        logical_id.split("Resource")[0]: request_of(resource["Properties"])
        for logical_id, resource in resources(template(stack), "Custom::SageMakerTrainingJob").items()
    }
    by_job = {key: value.get("Tags") for key, value in requests.items()}
    assert sorted(by_job.values(), key=str) == sorted(
        [[{"Key": "env", "Value": "prod"}], [{"Key": "owner", "Value": "alice"}], None], key=str
    )
    assert untagged.rendered_request().get("Tags") is None
