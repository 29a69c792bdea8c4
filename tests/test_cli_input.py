"""The AWS CLI's ``--cli-input-json`` documents: accepted as is, round-tripped, and refused clearly."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import botocore.session
import pytest
from aws_cdk import assertions
from cdk_nag import AwsSolutionsChecks

from constructs_lib import TrainingJob, TrainingJobValidationError
from constructs_lib.cli_input import parse_shorthand_map, parse_shorthand_tags
from constructs_lib.overrides import parse_path
from tests.stacks import grants, resources, statements
from tools.intrinsics import resolve_intrinsics

CORPUS = Path(__file__).parent / "cli_input"
DOCUMENTS = sorted(p.name for p in CORPUS.glob("*.json"))
ENV = cdk.Environment(account="111111111111", region="us-east-1")


def _stack() -> cdk.Stack:
    return cdk.Stack(cdk.App(), "Cli", env=ENV)


def _doc(name: str) -> dict[str, Any]:
    return json.loads((CORPUS / name).read_text())  # type: ignore[no-any-return]


def _kms(value: str) -> str:
    for marker in (":key/", ":alias/"):
        if marker in value:
            return ("alias/" if marker == ":alias/" else "") + value.split(marker, 1)[1]
    return value


def _normalized(request: dict[str, Any]) -> dict[str, Any]:
    """The forms the CLI also accepts, brought to one: shorthand parsed, key ids unwrapped."""
    out = copy.deepcopy(request)
    out.pop("TrainingJobName", None)
    if isinstance(out.get("HyperParameters"), str):
        out["HyperParameters"] = parse_shorthand_map(out["HyperParameters"])
    if isinstance(out.get("Tags"), str):
        out["Tags"] = parse_shorthand_tags(out["Tags"])
    if "Tags" in out:  # a set of tags: the tag manager renders them by key
        out["Tags"] = sorted(out["Tags"], key=lambda tag: tag["Key"])
    for section, member in (("OutputDataConfig", "KmsKeyId"), ("ResourceConfig", "VolumeKmsKeyId")):
        if member in out.get(section, {}):
            out[section][member] = _kms(out[section][member])
    return out


@pytest.mark.parametrize("name", DOCUMENTS)
def test_document_synthesizes_and_round_trips(name: str) -> None:
    stack = _stack()
    job = TrainingJob.from_cli_input_json(stack, "Job", _doc(name))
    template = assertions.Template.from_stack(stack).to_json()
    rendered = resolve_intrinsics(stack.resolve(job.rendered_request()), dict(template))
    assert _normalized(rendered) == _normalized(_doc(name))
    assert job.fixed_training_job_name == _doc(name)["TrainingJobName"]


def test_the_corpus_uses_every_member_of_the_api() -> None:
    model = botocore.session.get_session().get_service_model("sagemaker")
    shape = model.operation_model("CreateTrainingJob").input_shape
    assert shape is not None
    members = set(shape.members)
    used = set().union(*(_doc(name) for name in DOCUMENTS))
    assert members - used == set()


@pytest.mark.parametrize("form", ["dict", "string", "path", "file-url"])
def test_document_is_accepted_in_every_form_the_cli_takes(form: str) -> None:
    path = CORPUS / "classic.json"
    document: Any = {
        "dict": _doc("classic.json"),
        "string": path.read_text(),
        "path": path,
        "file-url": f"file://{path}",
    }[form]
    job = TrainingJob.from_cli_input_json(_stack(), "Job", document)
    assert job.request["ResourceConfig"]["InstanceType"] == "ml.m5.xlarge"


def test_keyword_props_take_precedence_and_overrides_merge() -> None:
    job = TrainingJob.from_cli_input_json(
        _stack(),
        "Job",
        _doc("classic.json"),
        instance_count=3,
        overrides={"RetryStrategy": {"MaximumRetryAttempts": 3}},
    )
    assert job.request["ResourceConfig"]["InstanceCount"] == 3
    assert job.request["RetryStrategy"] == {"MaximumRetryAttempts": 3}


def test_imported_references_give_least_privilege_grants() -> None:
    stack = _stack()
    TrainingJob.from_cli_input_json(stack, "Job", _doc("classic.json"))
    template = dict(assertions.Template.from_stack(stack).to_json())
    (policy,) = [
        p
        for p in resources(template, "AWS::IAM::Policy").values()
        if p["Properties"]["Roles"] == ["AmazonSageMaker-ExecutionRole"]  # attached to the imported role
    ]
    pairs = {
        (a, r)
        for s in resolve_intrinsics(policy["Properties"]["PolicyDocument"]["Statement"], template)
        for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
        for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
    }
    key = "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    assert {
        ("s3:GetObject", "arn:aws:s3:::churn-data/train/*"),
        ("s3:GetObject", "arn:aws:s3:::churn-data/validation/*"),
        ("s3:PutObject", "arn:aws:s3:::churn-models/xgboost/*"),
        ("kms:GenerateDataKey", key),
        ("kms:CreateGrant", key),
        ("ec2:CreateNetworkInterface", "arn:aws:ec2:us-east-1:111111111111:subnet/subnet-0123456789abcdef0"),
        ("ec2:CreateNetworkInterface", "arn:aws:ec2:us-east-1:111111111111:security-group/sg-0123456789abcdef0"),
    } <= pairs
    assert not [
        p
        for p in pairs
        if p[0].startswith("s3:") and "churn-data" in p[1] and p[0] != "s3:GetObject" and p[0] != "s3:ListBucket"
    ]
    provider = next(k for k in resources(template, "AWS::IAM::Role") if k.startswith("SageMakerTrainingJobProvider"))
    passing = next(s for s in statements(template, provider) if s["Action"] == "iam:PassRole")
    assert "arn:aws:iam::111111111111:role/service-role/AmazonSageMaker-ExecutionRole" in passing["Resource"]
    assert (
        "sagemaker:CreateTrainingJob",
        "arn:aws:sagemaker:us-east-1:111111111111:training-job/xgboost-churn-2026-11-27",
    ) in grants(template, provider)
    report = AwsSolutionsChecks().validate_scope(stack)
    assert [v.rule_name for v in report.violations] == []


def test_debugger_profiler_and_tensorboard_outputs_are_typed_and_granted_not_warned_about() -> None:
    """The SDK's Debugger/Profiler defaults and TensorBoard output: the role can write there."""
    from tests.stacks import as_list, resources

    stack = _stack()
    TrainingJob.from_cli_input_json(stack, "Job", _doc("full.json"))
    warnings = assertions.Annotations.from_stack(stack).find_warning(
        "*", assertions.Match.string_like_regexp("overrides")
    )
    texts = " ".join(str(w.entry.data) for w in warnings)
    for path in ("DebugHookConfig", "TensorBoardOutputConfig", "ProfilerConfig", "LocalPath"):
        assert path not in texts
    tmpl = dict(assertions.Template.from_stack(stack).to_json())
    (policy,) = [p for k, p in resources(tmpl, "AWS::IAM::Policy").items() if k.startswith("JobCliInputRole")]
    written = {
        resource
        for statement in resolve_intrinsics(policy["Properties"]["PolicyDocument"]["Statement"], tmpl)
        if "s3:PutObject" in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
    }
    for prefix in ("debug/", "tensorboard/", "profiler/"):
        assert f"arn:aws:s3:::models/{prefix}*" in written


def test_request_json_shows_the_request_in_the_cli_shape() -> None:
    job = TrainingJob.from_cli_input_json(_stack(), "Job", _doc("shorthand.json"))
    shown = json.loads(job.request_json())
    assert shown["HyperParameters"] == {
        "feature_dim": "10",
        "predictor_type": "binary_classifier",
        "mini_batch_size": "100",
    }
    assert shown["Tags"] == [{"Key": "owner", "Value": "platform"}, {"Key": "team", "Value": "ads"}]
    assert shown["AlgorithmSpecification"]["TrainingInputMode"] == "Pipe"


# ----- bad documents ---------------------------------------------------------------------

DELETE = object()


def _mutated(path: str, value: Any, base: str = "classic.json") -> dict[str, Any]:
    doc = _doc(base)
    steps = parse_path(path)
    node: Any = doc
    for step in steps[:-1]:
        node = node[step]
    if value is DELETE:
        del node[steps[-1]]
    else:
        node[steps[-1]] = value
    return doc


def _channel(name: str = "extra") -> dict[str, Any]:
    return {"ChannelName": name, "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://d/x/"}}}


BAD: list[tuple[str, Any, list[str]]] = [
    ("role-not-an-arn", _mutated("RoleArn", "my-role"), ["RoleArn", "'my-role'", "pattern"]),
    ("role-missing", _mutated("RoleArn", DELETE), ["RoleArn", "required"]),
    ("output-missing", _mutated("OutputDataConfig", DELETE), ["OutputDataConfig", "required"]),
    (
        "output-http",
        _mutated("OutputDataConfig.S3OutputPath", "http://x/y"),
        ["output (OutputDataConfig.S3OutputPath)", "pattern"],
    ),
    (
        "output-empty-bucket",
        _mutated("OutputDataConfig.S3OutputPath", "s3://"),
        ["OutputDataConfig.S3OutputPath", "pattern"],
    ),
    (
        "output-https-url",
        _mutated("OutputDataConfig.S3OutputPath", "https://b.s3.amazonaws.com/x"),
        ["OutputDataConfig.S3OutputPath", "expected s3://"],
    ),
    (
        "instance-type",
        _mutated("ResourceConfig.InstanceType", "ml.fake.xlarge"),
        ["instance_type", "'ml.fake.xlarge'", "one of"],
    ),
    ("instance-count-zero", _mutated("ResourceConfig.InstanceCount", 0), ["instance_count", "got 0", "at least 1"]),
    ("instance-count-string", _mutated("ResourceConfig.InstanceCount", "2"), ["instance_count", "'2'", "whole number"]),
    ("volume-negative", _mutated("ResourceConfig.VolumeSizeInGB", -1), ["volume_size", "-1", ">= 0"]),
    ("runtime-zero", _mutated("StoppingCondition.MaxRuntimeInSeconds", 0), ["max_runtime", "got 0", ">= 1"]),
    ("runtime-string", _mutated("StoppingCondition.MaxRuntimeInSeconds", "3600"), ["max_runtime", "whole number"]),
    ("input-mode", _mutated("AlgorithmSpecification.TrainingInputMode", "Stream"), ["input_mode", "'Stream'", "Pipe"]),
    (
        "input-mode-missing",
        _mutated("AlgorithmSpecification.TrainingInputMode", DELETE),
        ["TrainingInputMode", "required"],
    ),
    (
        "image-and-algorithm",
        _mutated("AlgorithmSpecification.AlgorithmName", "algo"),
        ["image / algorithm_name", "exactly one"],
    ),
    ("neither-image-nor-algorithm", _mutated("AlgorithmSpecification.TrainingImage", DELETE), ["exactly one"]),
    (
        "image-too-long",
        _mutated("AlgorithmSpecification.TrainingImage", "a" * 256),
        ["image", "256 characters", "at most 255"],
    ),
    (
        "metric-name-too-long",
        _mutated("AlgorithmSpecification.MetricDefinitions", [{"Name": "n" * 256, "Regex": "x"}]),
        ["metric_definitions (name)", "at most 255"],
    ),
    (
        "metric-without-regex",
        _mutated("AlgorithmSpecification.MetricDefinitions", [{"Name": "loss"}]),
        ["Regex", "required"],
    ),
    ("channel-name-missing", _mutated("InputDataConfig[0].ChannelName", DELETE), ["ChannelName", "required"]),
    (
        "channel-name-pattern",
        _mutated("InputDataConfig[0].ChannelName", "bad name"),
        ["inputs[0].channel_name", "pattern"],
    ),
    ("channel-names-duplicate", _mutated("InputDataConfig[1].ChannelName", "train"), ["inputs", "'train'", "unique"]),
    (
        "s3-data-type",
        _mutated("InputDataConfig[0].DataSource.S3DataSource.S3DataType", "Folder"),
        ["S3DataType", "'Folder'", "S3Prefix"],
    ),
    (
        "distribution",
        _mutated("InputDataConfig[0].DataSource.S3DataSource.S3DataDistributionType", "Random"),
        ["S3DataDistributionType", "'Random'", "ShardedByS3Key"],
    ),
    ("compression", _mutated("InputDataConfig[0].CompressionType", "Zip"), ["CompressionType", "'Zip'", "Gzip"]),
    (
        "record-wrapper",
        _mutated("InputDataConfig[0].RecordWrapperType", "Avro"),
        ["RecordWrapperType", "'Avro'", "RecordIO"],
    ),
    (
        "channel-input-mode",
        _mutated("InputDataConfig[0].InputMode", "Stream"),
        ["InputDataConfig[0].InputMode", "FastFile"],
    ),
    ("s3-uri-missing", _mutated("InputDataConfig[0].DataSource.S3DataSource.S3Uri", DELETE), ["S3Uri", "required"]),
    (
        "s3-uri-bad-bucket",
        _mutated("InputDataConfig[0].DataSource.S3DataSource.S3Uri", "s3://Bad_Bucket/x"),
        ["S3Uri", "'s3://Bad_Bucket/x'", "expected s3://"],
    ),
    (
        "too-many-channels",
        _mutated("InputDataConfig", [_channel(f"c{i}") for i in range(21)]),
        ["inputs", "21 items", "at most 20"],
    ),
    ("no-channels", _mutated("InputDataConfig", []), ["inputs", "0 items", "at least 1"]),
    (
        "too-many-hyperparameters",
        _mutated("HyperParameters", {f"h{i}": "1" for i in range(101)}),
        ["hyperparameters", "101 entries", "at most 100"],
    ),
    (
        "hyperparameter-value-too-long",
        _mutated("HyperParameters", {"text": "x" * 2501}),
        ["hyperparameters['text']", "at most 2500"],
    ),
    (
        "hyperparameter-key-too-long",
        _mutated("HyperParameters", {"k" * 257: "1"}),
        ["hyperparameters key", "at most 256"],
    ),
    (
        "hyperparameter-shorthand",
        _mutated("HyperParameters", "epochs"),
        ["HyperParameters", "'epochs'", "KeyName1=string"],
    ),
    (
        "hyperparameter-number",
        _mutated("HyperParameters", {"epochs": 10}),
        ["hyperparameters['epochs']", "expected a string"],
    ),
    (
        "too-many-tags",
        _mutated("Tags", [{"Key": f"k{i}", "Value": "v"} for i in range(51)]),
        ["tags", "51 items", "at most 50"],
    ),
    ("aws-tag", _mutated("Tags", [{"Key": "aws:owner", "Value": "me"}]), ["tags", "'aws:owner'", "reserved"]),
    ("tag-shorthand", _mutated("Tags", "team=ml"), ["Tags", "'team=ml'", "Key=string,Value=string"]),
    ("tag-without-value", _mutated("Tags", [{"Key": "team"}]), ["Value", "required"]),
    ("environment-key", _mutated("Environment", {"1BAD": "x"}), ["environment key '1BAD'", "pattern"]),
    (
        "too-many-environment",
        _mutated("Environment", {f"K{i}": "v" for i in range(101)}),
        ["environment", "at most 100"],
    ),
    ("vpc-without-subnets", _mutated("VpcConfig.Subnets", DELETE), ["Subnets", "required"]),
    (
        "too-many-security-groups",
        _mutated("VpcConfig.SecurityGroupIds", [f"sg-{i}" for i in range(6)]),
        ["security_groups", "6 items", "at most 5"],
    ),
    ("subnet-pattern", _mutated("VpcConfig.Subnets", ["subnet_x"]), ["vpc_subnets", "'subnet_x'", "pattern"]),
    (
        "boolean-as-string",
        _mutated("EnableNetworkIsolation", "yes"),
        ["EnableNetworkIsolation", "'yes'", "true or false"],
    ),
    ("unknown-member", _mutated("Foo", 1), ["Foo", "unknown member", "allowed"]),
    (
        "unknown-nested-member",
        _mutated("ResourceConfig.Foo", 1),
        ["ResourceConfig.Foo", "unknown member", "InstanceType"],
    ),
    ("job-name-pattern", _mutated("TrainingJobName", "bad_name"), ["TrainingJobName", "'bad_name'", "pattern"]),
    ("job-name-too-long", _mutated("TrainingJobName", "a" * 64), ["TrainingJobName", "at most 63"]),
    (
        "checkpoint-without-uri",
        _mutated("CheckpointConfig", {"LocalPath": "/opt/ml/c"}),
        ["CheckpointConfig.S3Uri", "required"],
    ),
    (
        "retries-too-many",
        _mutated("RetryStrategy", {"MaximumRetryAttempts": 31}),
        ["MaximumRetryAttempts", "31", "<= 30"],
    ),
    (
        "max-wait-without-spot",
        _mutated("StoppingCondition.MaxWaitTimeInSeconds", 7200),
        ["max_wait", "enable_managed_spot_training"],
    ),
    (
        "spot-wait-below-runtime",
        _mutated("StoppingCondition.MaxWaitTimeInSeconds", 60, base="full.json"),
        ["max_wait", ">= max_runtime"],
    ),
    ("kms-key-pattern", _mutated("OutputDataConfig.KmsKeyId", "not a key!"), ["KmsKeyId", "pattern"]),
    ("volume-key-on-nvme", _mutated("ResourceConfig.InstanceType", "ml.p4d.24xlarge"), ["volume_kms_key", "NVMe"]),
    ("experiment-name", _mutated("ExperimentConfig", {"ExperimentName": "bad name"}), ["ExperimentName", "pattern"]),
    (
        "too-many-debug-rules",
        _mutated(
            "DebugRuleConfigurations",
            [{"RuleConfigurationName": f"r{i}", "RuleEvaluatorImage": "i"} for i in range(21)],
        ),
        ["DebugRuleConfigurations", "at most 20"],
    ),
    (
        "profiler-interval-string",
        _mutated("ProfilerConfig", {"ProfilingIntervalInMilliseconds": "100"}),
        ["ProfilingIntervalInMilliseconds", "whole number"],
    ),
    (
        "keep-alive-too-long",
        _mutated("ResourceConfig.KeepAlivePeriodInSeconds", 21601),
        ["keep_alive_period", "<= 21600"],
    ),
    (
        "file-system-type",
        _mutated("InputDataConfig[0].DataSource.FileSystemDataSource.FileSystemType", "NFS", base="file_system.json"),
        ["FileSystemType", "'NFS'", "FSxLustre"],
    ),
    ("not-json", "{not json", ["document", "not valid JSON"]),
    ("json-list", "[1, 2]", ["document", "expected a JSON object"]),
    ("missing-file", "/nonexistent/job.json", ["document", "cannot read"]),
]


@pytest.mark.parametrize(("document", "expected"), [(b[1], b[2]) for b in BAD], ids=[b[0] for b in BAD])
def test_bad_document_is_refused_naming_the_field_and_what_is_allowed(document: Any, expected: list[str]) -> None:
    with pytest.raises(TrainingJobValidationError) as raised:
        TrainingJob.from_cli_input_json(_stack(), "Job", document)
    message = str(raised.value)
    for fragment in expected:
        assert fragment in message, message


def test_overrides_within_what_the_role_reaches_do_not_warn() -> None:
    stack = _stack()
    TrainingJob.from_cli_input_json(
        stack,
        "Job",
        _doc("classic.json"),
        overrides={
            "TensorBoardOutputConfig": {"S3OutputPath": "s3://churn-models/xgboost/tensorboard/"},
            "DebugHookConfig": {"S3OutputPath": "s3://elsewhere/debug/"},
        },
    )
    warnings = assertions.Annotations.from_stack(stack).find_warning(
        "*", assertions.Match.string_like_regexp("overrides")
    )
    texts = " ".join(str(w.entry.data) for w in warnings)
    assert "DebugHookConfig.S3OutputPath" in texts
    assert "TensorBoardOutputConfig" not in texts


def test_a_document_without_a_volume_key_gets_none_even_without_resource_config() -> None:
    document = _doc("classic.json")
    document.pop("ResourceConfig")
    document["OutputDataConfig"]["KmsKeyId"] = (
        "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    )
    job = TrainingJob.from_cli_input_json(_stack(), "Job", document)
    assert "VolumeKmsKeyId" not in job.request["ResourceConfig"]
