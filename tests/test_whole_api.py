"""Every member of CreateTrainingJob has a typed home, and each grants what it needs.

The model walk renders the whole-API stack (tests/stacks.py) and fails on any member of
botocore's CreateTrainingJob input, walked recursively, that no typed prop rendered, except the
members listed in OWNED_OR_READ_ONLY with the reason. A member newer than the library fails it
until it gets a typed prop (``overrides`` still carries it meanwhile)."""

from __future__ import annotations

import re
from typing import Any

import aws_cdk as cdk
import botocore.session
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_lambda as lambda_

from constructs_lib import (
    Channel,
    DatasetSource,
    EvaluationType,
    ExperimentConfig,
    InstanceGroup,
    InstancePlacementConfig,
    InstancePreference,
    MlflowConfig,
    ModelPackageConfig,
    S3Location,
    ServerlessJobConfig,
    ServerlessJobType,
    TrainingImage,
    TrainingJob,
    TrainingJobValidationError,
    TrainingRepositoryAccessMode,
)
from constructs_lib.tracking import MLFLOW_ACTIONS
from tests.stacks import (
    BASE_MODEL,
    DATASET,
    MLFLOW,
    PACKAGE_GROUP,
    PLAN,
    as_list,
    grants,
    new_stack,
    resources,
    stack_of,
    statements,
    template_of,
)
from tools.intrinsics import resolve_intrinsics
from tools.summary import request_of

# Members no prop sets, and why.
OWNED_OR_READ_ONLY = {
    # The handler names each job <prefix>-<hash> (training_job_name fixes it): not in the request.
    "TrainingJobName",
    # Read-only: what SageMaker selected from InstancePreferences (DescribeTrainingJob only).
    "ResourceConfig.SelectedInstanceType",
    "ResourceConfig.SelectedInstanceCount",
}


def _model_paths() -> set[str]:
    shape = botocore.session.get_session().get_service_model("sagemaker").operation_model("CreateTrainingJob")
    paths: set[str] = set()

    def walk(node: Any, prefix: str) -> None:
        if node.type_name == "list":
            walk(node.member, prefix + "[]")
        elif node.type_name == "structure":
            for name, member in node.members.items():
                path = f"{prefix}.{name}" if prefix else name
                paths.add(path)
                walk(member, path)

    walk(shape.input_shape, "")
    return paths


def _rendered_paths(value: Any, prefix: str = "", *, inside_map: bool = False) -> set[str]:
    paths: set[str] = set()
    if isinstance(value, list):
        for item in value:
            paths |= _rendered_paths(item, prefix + "[]")
    elif isinstance(value, dict) and not any(k.startswith("Fn::") or k == "Ref" for k in value):
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else key
            paths.add(path)
            # HyperParameters, Environment, RuleParameters...: maps, whose keys are the user's.
            if not re.search(r"(HyperParameters|Environment|Parameters)$", path):
                paths |= _rendered_paths(item, path)
    return paths


def _requests(name: str = "whole_api") -> dict[str, dict[str, Any]]:
    tmpl = template_of(name)
    return {
        logical_id: request_of(resource["Properties"])
        for logical_id, resource in resources(tmpl, "Custom::SageMakerTrainingJob").items()
    }


def _request(job: str) -> dict[str, Any]:
    (found,) = [r for logical_id, r in _requests().items() if logical_id.startswith(job)]
    return found


def _role(job: str) -> str:
    return next(k for k in resources(template_of("whole_api"), "AWS::IAM::Role") if k.startswith(f"{job}Role"))


def test_every_member_of_the_api_has_a_typed_home() -> None:
    rendered: set[str] = set()
    for request in _requests().values():
        rendered |= _rendered_paths(request)
    rendered.add("Tags")  # the tag manager's: rendered with the template
    rendered |= {"Tags[].Key", "Tags[].Value"}
    missing = _model_paths() - rendered - OWNED_OR_READ_ONLY
    assert missing == set(), f"members without a typed prop: {sorted(missing)}"


def test_the_whole_api_job_has_its_tags_rendered() -> None:
    everything = _request("Everything")
    assert {"Key": "project", "Value": "llm"} in everything["Tags"]


def test_private_registry_renders_its_config_and_the_role_may_invoke_exactly_its_function() -> None:
    spec = _request("Everything")["AlgorithmSpecification"]
    function = "arn:aws:lambda:us-east-1:111111111111:function:registry-credentials"
    assert spec["TrainingImageConfig"] == {
        "TrainingRepositoryAccessMode": "Vpc",
        "TrainingRepositoryAuthConfig": {"TrainingRepositoryCredentialsProviderArn": function},
    }
    invokes = {(a, r) for a, r in grants(template_of("whole_api"), _role("Everything")) if a.startswith("lambda:")}
    assert invokes == {("lambda:InvokeFunction", function)}


def test_capacity_members_render_and_plans_are_resources_of_the_handlers_create() -> None:
    on_plan = _request("OnPlan")["ResourceConfig"]
    assert on_plan["TrainingPlanArn"] == PLAN
    assert on_plan["InstancePlacementConfig"] == {
        "EnableMultipleJobs": False,
        "PlacementSpecifications": [{"InstanceCount": 4, "UltraServerId": "us-east-1-us-1"}],
    }
    preferred = _request("Preferred")["ResourceConfig"]
    assert "InstanceType" not in preferred and "InstanceCount" not in preferred
    assert preferred["InstancePreferences"] == [
        {"InstanceType": "ml.p5.48xlarge", "InstanceCount": 1, "TrainingPlanArns": [PLAN]},
        {"InstanceType": "ml.p4d.24xlarge", "InstanceCount": 2},
    ]
    tmpl = template_of("whole_api")
    starts = {
        s["Sid"]: s
        for p in resources(tmpl, "AWS::IAM::Policy").values()
        for s in resolve_intrinsics(p["Properties"]["PolicyDocument"]["Statement"], tmpl)
        if s.get("Sid", "").startswith("StartStack")
    }
    # One statement per job shape: instances without VPC, instances in a VPC, serverless.
    assert set(starts) == {"StartStackTrainingJobs", "StartStackTrainingJobsInVpc", "StartStackServerlessTrainingJobs"}
    start = starts["StartStackTrainingJobs"]
    assert PLAN in as_list(start["Resource"])
    types = {
        t
        for s in starts.values()
        for t in s["Condition"].get("ForAllValues:StringEquals", {}).get("sagemaker:InstanceTypes", [])
    }
    assert {"ml.p5.48xlarge", "ml.p4d.24xlarge", "ml.p6e-gb200.36xlarge", "ml.c5.4xlarge"} <= types
    # The serverless jobs leave the runtime and the instances to SageMaker: their statement requires no
    # instance types, and applies the runtime guardrail where one is set.
    serverless = starts["StartStackServerlessTrainingJobs"]["Condition"]
    assert serverless["Null"]["sagemaker:InstanceTypes"] == "true"
    assert "sagemaker:MaxRuntimeInSeconds" in serverless["NumericLessThanEqualsIfExists"]
    assert start["Condition"]["Null"]["sagemaker:InstanceTypes"] == "false"


def test_experiments_mlflow_and_model_packages_grant_exact_actions_on_what_they_name() -> None:
    request = _request("Everything")
    assert request["ExperimentConfig"] == {
        "ExperimentName": "llm",
        "TrialName": "llm-trial",
        "TrialComponentDisplayName": "training",
        "RunName": "run-1",
    }
    assert request["MlflowConfig"] == {
        "MlflowResourceArn": MLFLOW,
        "MlflowExperimentName": "llm",
        "MlflowRunName": "run-1",
    }
    assert request["ModelPackageConfig"] == {"ModelPackageGroupArn": PACKAGE_GROUP}
    pairs = grants(template_of("whole_api"), _role("Everything"))
    sagemaker = {(a, r) for a, r in pairs if a.startswith("sagemaker")}
    base = "arn:aws:sagemaker:us-east-1:111111111111:"
    assert {(a, r) for a, r in sagemaker if r == MLFLOW} == {(a, MLFLOW) for a in MLFLOW_ACTIONS}
    jobs = {r for _, r in sagemaker if ":training-job/" in r}
    assert [r.split(":training-job/")[1][:9] for r in jobs] == ["wholeapi-"]  # this resource's jobs
    assert {r for _, r in sagemaker} - jobs == {
        "*",  # sagemaker:Search (load_run), which has no resource-level permissions
        MLFLOW,
        f"{base}experiment/llm",
        f"{base}experiment-trial/llm-trial",
        f"{base}experiment-trial-component/llm-run-1",
        PACKAGE_GROUP,
        f"{base}model-package/llm-models/*",
    }
    assert ("sagemaker:CreateModelPackage", f"{base}model-package/llm-models/*") in sagemaker
    assert ("sagemaker:BatchPutMetrics", f"{base}experiment-trial-component/llm-run-1") in sagemaker
    # What load_run does besides: read its own job, search for the run, tag its trial component.
    assert {(a, r) for a, r in sagemaker if a in ("sagemaker:Search", "sagemaker:AddTags")} == {
        ("sagemaker:Search", "*"),
        ("sagemaker:AddTags", f"{base}experiment-trial-component/llm-run-1"),
    }
    assert {r for a, r in sagemaker if a == "sagemaker:DescribeTrainingJob"} == jobs
    assert not any(a.endswith(":*") or a == "*" for a, _ in pairs)


def test_serverless_jobs_render_no_algorithm_or_resources_and_grant_their_evaluator() -> None:
    fine_tune = _request("FineTune")
    assert "AlgorithmSpecification" not in fine_tune
    assert "ResourceConfig" not in fine_tune
    assert "StoppingCondition" not in fine_tune
    assert fine_tune["ServerlessJobConfig"] == {
        "BaseModelArn": BASE_MODEL,
        "JobType": "FineTuning",
        "AcceptEula": True,
        "CustomizationTechnique": "RLVR",
        "Peft": "LORA",
        "EvaluatorArn": "arn:aws:lambda:us-east-1:111111111111:function:reward",
        "SequenceLength": "8K",
    }
    assert fine_tune["InputDataConfig"] == [
        {"ChannelName": "train", "DataSource": {"DatasetSource": {"DatasetArn": DATASET}}}
    ]
    pairs = grants(template_of("whole_api"), _role("FineTune"))
    assert ("lambda:InvokeFunction", "arn:aws:lambda:us-east-1:111111111111:function:reward") in pairs
    source = "arn:aws:sagemaker:us-east-1:111111111111:model-package/llm-models/1"
    assert ("sagemaker:DescribeModelPackage", source) in pairs
    assert _request("Evaluate")["ServerlessJobConfig"]["EvaluationType"] == "BenchmarkEvaluation"


def test_file_system_objects_admit_the_job_and_grant_client_mounts() -> None:
    tmpl = template_of("whole_api")
    channels = {c["ChannelName"]: c["DataSource"] for c in _request("Everything")["InputDataConfig"]}
    efs_source = channels["shared"]["FileSystemDataSource"]
    assert efs_source["FileSystemType"] == "EFS" and efs_source["FileSystemAccessMode"] == "rw"
    assert efs_source["DirectoryPath"] == "/datasets"
    lustre = resolve_intrinsics(channels["scratch"]["FileSystemDataSource"], tmpl)
    assert lustre["FileSystemType"] == "FSxLustre" and lustre["DirectoryPath"].endswith("/cache")
    assert lustre["DirectoryPath"].startswith("/scratch")  # /<mount name>/cache
    pairs = grants(tmpl, _role("Everything"))
    assert {a for a, r in pairs if a.startswith("elasticfilesystem:")} == {
        "elasticfilesystem:ClientMount",
        "elasticfilesystem:ClientWrite",
    }
    job_group = next(k for k in resources(tmpl, "AWS::EC2::SecurityGroup") if k.startswith("EverythingSecurityGroup"))
    ingress = [
        r["Properties"]
        for r in resources(tmpl, "AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"].get("SourceSecurityGroupId") == {"Fn::GetAtt": [job_group, "GroupId"]}
    ]
    ports = {(i["FromPort"], i["ToPort"]) for i in ingress if "FromPort" in i}
    assert {(2049, 2049), (988, 988), (1018, 1023)} <= ports


def test_channel_model_and_hub_access_render() -> None:
    (model,) = [c for c in _request("Everything")["InputDataConfig"] if c["ChannelName"] == "model"]
    source = model["DataSource"]["S3DataSource"]
    assert source["ModelAccessConfig"] == {"AcceptEula": True}
    assert source["HubAccessConfig"]["HubContentArn"].endswith("ModelReference/llama/1.0.0")


def test_the_whole_api_stack_passes_the_handlers_model_check(handler_module: Any) -> None:
    """What the handler coerces and sends is valid against botocore's model, member by member."""
    from botocore.validate import ParamValidator

    model = botocore.session.get_session().get_service_model("sagemaker").operation_model("CreateTrainingJob")
    tmpl = template_of("whole_api")
    for logical_id, request in _requests().items():
        sent = handler_module.coerce_request(_delivered(resolve_intrinsics(request, tmpl)))
        assert model.input_shape is not None
        report = ParamValidator().validate({"TrainingJobName": "job-1", **sent}, model.input_shape)
        assert not report.has_errors(), (logical_id, report.generate_report())


def _delivered(value: Any) -> Any:
    from tests.handler_support import as_cloudformation_delivers

    return as_cloudformation_delivers(value)


# ----- bad input ------------------------------------------------------------------------------


def _job(**props: Any) -> TrainingJob:
    stack = new_stack("Bad")
    props.setdefault("image", TrainingImage.from_registry("111111111111.dkr.ecr.us-east-1.amazonaws.com/t:1"))
    return TrainingJob(stack, "Job", **props)


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        (
            {"instance_preferences": [InstancePreference("ml.p5.48xlarge", 1)], "instance_type": "ml.m5.xlarge"},
            r"instance_preferences \(ResourceConfig.InstancePreferences\): got 'instance_type .*leave it unset",
        ),
        (
            {"instance_preferences": [InstancePreference("ml.p5.48xlarge", 1)], "enable_managed_spot_training": True},
            r"instance_preferences exclude enable_managed_spot_training",
        ),
        (
            {"instance_preferences": [InstancePreference("ml.p5.48xlarge", 1), InstancePreference("ml.p4d.24xlarge")]},
            r"InstancePreferences\[\].InstanceCount\): got \[1, None\]; set on every preference or on none",
        ),
        (
            {"instance_preferences": [InstancePreference("ml.p5.48xlarge")]},
            r"set instance_count on the job or on every preference",
        ),
        (
            {
                "instance_preferences": [
                    InstancePreference("ml.p5.48xlarge", 1),
                    InstancePreference(ec2.InstanceType("p5.48xlarge"), 1),
                ],
            },
            r"InstancePreferences\[\].InstanceType\): got 'ml.p5.48xlarge'; an instance type may appear only once",
        ),
        (
            {"instance_preferences": [InstancePreference("ml.p5.48xlarge", 1, [PLAN])], "training_plan_arn": PLAN},
            r"training_plan_arn \(ResourceConfig.TrainingPlanArn\): .*excludes the job's",
        ),
        (
            {"instance_placement": "exclusive"},
            r"instance_placement \(ResourceConfig.InstancePlacementConfig\): got 'exclusive'; an InstancePlacement",
        ),
        ({"training_plan_arn": "p5-week"}, r"ResourceConfig.TrainingPlanArn"),
        ({"mlflow": MLFLOW}, r"mlflow \(MlflowConfig\): got '.*'; an MlflowConfig"),
        ({"experiment": ExperimentConfig(experiment_name="x" * 200)}, r"ExperimentConfig.ExperimentName"),
        (
            {"model_package": ModelPackageConfig("llm-models")},
            r"ModelPackageConfig.ModelPackageGroupArn",
        ),
        (
            {"serverless": ServerlessJobConfig(BASE_MODEL)},
            r"serverless \(ServerlessJobConfig\): got 'image'; a serverless job's image is SageMaker's choice",
        ),
        (
            {"image": None, "serverless": ServerlessJobConfig(BASE_MODEL, ServerlessJobType.EVALUATION)},
            r"serverless.evaluation_type \(ServerlessJobConfig.EvaluationType\): got None; required when job_type",
        ),
        (
            {
                "image": None,
                "serverless": ServerlessJobConfig(BASE_MODEL, evaluation_type=EvaluationType.BENCHMARK),
                "instance_groups": [InstanceGroup("a", "ml.m5.xlarge")],
            },
            r"got 'instance_groups'; .*(\n.*)*only for job_type ServerlessJobType.EVALUATION",
        ),
        (
            {
                "image": TrainingImage.from_registry(
                    "registry.example.com/t:1", repository_access_mode=TrainingRepositoryAccessMode.VPC
                )
            },
            r"TrainingImageConfig.TrainingRepositoryAccessMode\): got 'Vpc'; a private registry is reached through vpc",
        ),
        (
            {"inputs": [Channel("train", DatasetSource("my-dataset"))]},
            r"InputDataConfig\[0\].DataSource.DatasetSource.DatasetArn",
        ),
    ],
)
def test_bad_input_names_the_prop_and_the_member(props: dict[str, Any], expected: str) -> None:
    with pytest.raises(TrainingJobValidationError, match=expected):
        _job(**props)


def test_a_credentials_provider_needs_the_vpc_access_mode() -> None:
    stack = new_stack("Creds")
    function = lambda_.Function.from_function_arn(stack, "F", "arn:aws:lambda:us-east-1:111111111111:function:creds")
    image = TrainingImage.from_registry(
        "registry.example.com/t:1",
        repository_access_mode=TrainingRepositoryAccessMode.PLATFORM,
        credentials_provider=function,
    )
    with pytest.raises(TrainingJobValidationError, match=r"TrainingRepositoryAuthConfig\): got 'Platform'"):
        TrainingJob(stack, "Job", image=image)


def test_a_private_registry_in_a_vpc_synthesizes() -> None:
    stack = new_stack("Private")
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        max_azs=1,
        nat_gateways=0,
        subnet_configuration=[ec2.SubnetConfiguration(name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)],
    )
    function = lambda_.Function.from_function_arn(stack, "F", "arn:aws:lambda:us-east-1:111111111111:function:creds")
    job = TrainingJob(
        stack,
        "Job",
        image=TrainingImage.from_registry("registry.example.com/t:1", credentials_provider=function),
        vpc=vpc,
    )
    assert job.request["AlgorithmSpecification"]["TrainingImageConfig"]["TrainingRepositoryAccessMode"] == "Vpc"


def test_experiment_without_a_run_grants_nothing() -> None:
    stack = new_stack("Experiment")
    job = TrainingJob(
        stack,
        "Job",
        image=TrainingImage.from_registry("111111111111.dkr.ecr.us-east-1.amazonaws.com/t:1"),
        experiment=ExperimentConfig("churn", "trial-1"),
        output=S3Location.from_uri("s3://bucket/out/"),
    )
    assert job.request["ExperimentConfig"] == {"ExperimentName": "churn", "TrialName": "trial-1"}
    tmpl = template_of_stack(stack)
    role = next(k for k in resources(tmpl, "AWS::IAM::Role") if k.startswith("JobRole"))
    assert not [s for s in statements(tmpl, role) if any(a.startswith("sagemaker:") for a in as_list(s["Action"]))]


def template_of_stack(stack: cdk.Stack) -> dict[str, Any]:
    from tests.stacks import template

    return template(stack)


def test_the_whole_api_stack_is_one_of_the_reviewed_configurations() -> None:
    assert stack_of("whole_api").stack_name == "WholeApi"
    assert MlflowConfig(MLFLOW).render() == {"MlflowResourceArn": MLFLOW}
    assert InstancePlacementConfig().render() == {}
