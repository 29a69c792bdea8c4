"""Bad props fail when the construct is created, naming the prop, the value and what is allowed."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_kms as kms

from constructs_lib import (
    Channel,
    InstanceGroup,
    S3Location,
    TrainingImage,
    TrainingJob,
    TrainingJobValidationError,
)


def _build(**props: Any) -> TrainingJob:
    stack = cdk.Stack(cdk.App(), "Bad", env=cdk.Environment(account="111111111111", region="us-east-1"))
    repo = ecr.Repository.from_repository_name(stack, "Repo", "trainer")
    if props.pop("_no_image", False) is False and "image" not in props:
        props["image"] = TrainingImage.from_ecr_repository(repo)
    for name, factory in list(props.items()):
        if callable(factory) and name.startswith("_make_"):
            props[name.removeprefix("_make_")] = factory(stack)
            del props[name]
    return TrainingJob(stack, "Job", **props)


def _key(stack: cdk.Stack) -> kms.IKey:
    return kms.Key.from_key_arn(
        stack, "K", "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    )


def _vpc(stack: cdk.Stack) -> ec2.IVpc:
    return ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=1)


DATA = S3Location.from_uri("s3://my-data/train/")

CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("neither image nor algorithm", {"_no_image": True}, ["image / algorithm_name", "exactly one"]),
    ("both image and algorithm", {"algorithm_name": "my-algo"}, ["image / algorithm_name", "exactly one"]),
    (
        "instance type not in the API enum",
        {"instance_type": "ml.m5.huge"},
        ["instance_type (ResourceConfig.InstanceType)", "'ml.m5.huge'", "one of"],
    ),
    ("zero instances", {"instance_count": 0}, ["instance_count", "got 0", "at least 1"]),
    ("fractional volume", {"volume_size": cdk.Size.mebibytes(1500)}, ["volume_size", "whole number of GiB"]),
    (
        "volume key on NVMe instance",
        {"instance_type": "ml.p4d.24xlarge", "_make_volume_kms_key": _key},
        ["volume_kms_key", "ml.p4d.24xlarge", "NVMe"],
    ),
    ("spot without max wait", {"enable_managed_spot_training": True}, ["max_wait", "required"]),
    (
        "spot max wait below runtime",
        {"enable_managed_spot_training": True, "max_runtime": cdk.Duration.hours(2), "max_wait": cdk.Duration.hours(1)},
        ["max_wait", "3600", ">= max_runtime (7200"],
    ),
    ("max wait without spot", {"max_wait": cdk.Duration.hours(1)}, ["max_wait", "enable_managed_spot_training"]),
    (
        "duplicate channels",
        {"inputs": [Channel("train", DATA), Channel("train", DATA)]},
        ["inputs", "'train'", "unique"],
    ),
    (
        "bad channel name",
        {"inputs": [Channel("bad name!", DATA)]},
        ["inputs[0].channel_name (InputDataConfig[0].ChannelName)", "'bad name!'", "pattern"],
    ),
    ("aws: tag", {"tags": {"aws:owner": "me"}}, ["tags", "'aws:owner'", "reserved"]),
    ("too many tags", {"tags": {f"k{i}": "v" for i in range(46)}}, ["tags", "46 tags", "at most 45"]),
    ("invalid fixed name", {"training_job_name": "Not_Valid"}, ["training_job_name", "'Not_Valid'", "1-63"]),
    ("fixed name too long", {"training_job_name": "a" * 64}, ["training_job_name", "1-63"]),
    (
        "hyperparameter of another type",
        {"hyperparameters": {"layers": [1, 2]}},
        ["hyperparameters['layers'] (HyperParameters)", "[1, 2]", "str, int, float or bool", "script mode"],
    ),
    (
        "too many hyperparameters",
        {"hyperparameters": {f"h{i}": 1 for i in range(101)}},
        ["hyperparameters (HyperParameters)", "101 entries", "at most 100"],
    ),
    (
        "hyperparameter value too long",
        {"hyperparameters": {"text": "x" * 2501}},
        ["hyperparameters", "2501 characters", "at most 2500"],
    ),
    ("max runtime too short", {"max_runtime": cdk.Duration.seconds(0)}, ["max_runtime", "got 0", ">= 1"]),
    (
        "subnets without vpc",
        {"vpc_subnets": ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)},
        ["vpc", "required when vpc_subnets"],
    ),
    ("environment key", {"environment": {"1BAD": "x"}}, ["environment", "'1BAD'"]),
]


@pytest.mark.parametrize(("props", "expected"), [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_bad_props_are_refused_with_a_clear_message(props: dict[str, Any], expected: list[str]) -> None:
    with pytest.raises(TrainingJobValidationError) as raised:
        _build(**props)
    message = str(raised.value)
    assert "Bad/Job" in message
    for fragment in expected:
        assert fragment in message


def test_several_problems_are_reported_together() -> None:
    with pytest.raises(TrainingJobValidationError) as raised:
        _build(instance_count=0, tags={"aws:x": "y"}, training_job_name="_")
    assert len(raised.value.problems) == 3  # the model's own message for the name is not repeated


def test_cross_prop_and_model_problems_are_reported_in_one_error() -> None:
    with pytest.raises(TrainingJobValidationError) as raised:
        _build(
            enable_managed_spot_training=True,  # max_wait missing: a rule across props
            instance_type="ml.m5.xlargee",  # not in the model's enum
            environment={"A" * 600: "x"},  # a key longer than the model allows
        )
    text = "\n".join(raised.value.problems)
    assert "max_wait (StoppingCondition.MaxWaitTimeInSeconds): got None; required" in text
    assert "instance_type (ResourceConfig.InstanceType): got 'ml.m5.xlargee'; did you mean 'ml.m5.xlarge'" in text
    assert "Environment" in text


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        ({"max_runtime": 3600}, r"max_runtime \(StoppingCondition.MaxRuntimeInSeconds\): got 3600; a Duration"),
        ({"max_runtime": "4h"}, r"max_runtime \(StoppingCondition.MaxRuntimeInSeconds\): got '4h'; a Duration"),
        ({"volume_size": 100}, r"volume_size \(ResourceConfig.VolumeSizeInGB\): got 100; a Size, e.g. Size.gibibytes"),
        ({"inputs": "train"}, r"inputs \(InputDataConfig\): got 'train'; a list of Channel"),
        ({"image": "my-image:1"}, r"image \(AlgorithmSpecification.TrainingImage\): got 'my-image:1'; a TrainingImage"),
        ({"input_mode": "File"}, r"input_mode \(AlgorithmSpecification.TrainingInputMode\): got 'File'; an InputMode"),
        ({"instance_count": True}, r"instance_count \(ResourceConfig.InstanceCount\): got True; a whole number"),
        ({"removal_behavior": "stop"}, r"removal_behavior: got 'stop'; one of JobRemovalBehavior.STOP"),
    ],
)
def test_a_prop_of_the_wrong_type_is_reported_with_its_api_member(props: dict[str, Any], expected: str) -> None:
    with pytest.raises(TrainingJobValidationError, match=expected):
        _build(**props)


def test_a_single_channel_instead_of_a_list_says_how_to_fix_it() -> None:
    channel = Channel("train", S3Location.from_uri("s3://bucket/train/"))
    with pytest.raises(TrainingJobValidationError, match=r"wrap the single channel in \[ \]"):
        _build(inputs=channel)


def test_sizes_and_durations_are_shown_in_their_units() -> None:
    with pytest.raises(TrainingJobValidationError) as raised:
        _build(volume_size=cdk.Size.mebibytes(512), max_runtime=cdk.Duration.days(30))
    text = "\n".join(raised.value.problems)
    assert "volume_size (ResourceConfig.VolumeSizeInGB): got 512 MiB; a whole number of GiB" in text
    assert "max_runtime (StoppingCondition.MaxRuntimeInSeconds): got '2592000 s'; at most 28 days" in text


def test_an_enum_value_newer_than_the_local_model_can_be_accepted_with_a_warning() -> None:
    with pytest.raises(TrainingJobValidationError, match="allow-unknown-enum-values"):
        _build(instance_type="ml.future9.xlarge")
    app = cdk.App(context={"@constructs-lib/allow-unknown-enum-values": True})
    stack = cdk.Stack(app, "Newer", env=cdk.Environment(account="111111111111", region="us-east-1"))
    repo = ecr.Repository.from_repository_name(stack, "Repo", "trainer")
    TrainingJob(stack, "Job", image=TrainingImage.from_ecr_repository(repo), instance_type="ml.future9.xlarge")
    match = cdk.assertions.Match.string_like_regexp("ml.future9.xlarge")
    assert cdk.assertions.Annotations.from_stack(stack).find_warning("*", match)


def test_malformed_s3_uri_is_refused() -> None:
    with pytest.raises(TrainingJobValidationError, match=r"uri: got 'https://bucket/key'; expected s3://"):
        S3Location.from_uri("https://bucket/key")


def test_nvme_instance_gets_no_default_volume_key() -> None:
    job = _build(instance_type="ml.g5.2xlarge")
    assert "VolumeKmsKeyId" not in job.request["ResourceConfig"]


def test_valid_fixed_name_and_tokens_are_accepted() -> None:
    job = _build(training_job_name="nightly-retrain-1")
    assert job.fixed_training_job_name == "nightly-retrain-1"


def test_file_system_channel_needs_a_network_and_renders_its_source() -> None:
    from constructs_lib import FileSystemAccessMode, FileSystemLocation, FileSystemType

    lustre = FileSystemLocation(
        file_system_id="fs-0123456789abcdef0", file_system_type=FileSystemType.FSX_LUSTRE, directory_path="/fsx/train"
    )
    with pytest.raises(
        TrainingJobValidationError,
        match=r"inputs\[0\]\.data \(InputDataConfig\[0\]\.DataSource\.FileSystemDataSource\): "
        r"got 'fs-0123456789abcdef0'; a file system",
    ):
        _build(inputs=[Channel("train", lustre)])
    job = _build(inputs=[Channel("train", lustre)], _make_vpc=_vpc)
    assert job.request["InputDataConfig"][0]["DataSource"] == {
        "FileSystemDataSource": {
            "FileSystemId": "fs-0123456789abcdef0",
            "FileSystemAccessMode": FileSystemAccessMode.READ_ONLY.value,
            "FileSystemType": "FSxLustre",
            "DirectoryPath": "/fsx/train",
        }
    }


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        (
            {"inputs": [Channel("train", "s3://bucket/prefix/")]},  # type: ignore[arg-type]
            "inputs[0].data (InputDataConfig[0]): got 's3://bucket/prefix/'; an S3Location: "
            "S3Location.from_uri('s3://bucket/prefix/')",
        ),
        (
            {"inputs": [Channel("train", DATA, distribution="ShardedByS3Key")]},  # type: ignore[arg-type]
            "inputs[0].distribution (InputDataConfig[0]): got 'ShardedByS3Key'; one of "
            "S3DataDistributionType.FULLY_REPLICATED, S3DataDistributionType.SHARDED_BY_S3_KEY",
        ),
        (
            {"inputs": [Channel("train", DATA, manifest_data=["s3://bucket/images/"])]},  # type: ignore[list-item]
            "inputs[0].manifest_data (InputDataConfig[0]): got ['s3://bucket/images/']; a list, each an S3Location: "
            "S3Location.from_uri('s3://bucket/images/')",
        ),
        (
            {"instance_groups": [InstanceGroup("gpu", "ml.p4d.24xlarge", "2")]},  # type: ignore[arg-type]
            "instance_groups[0].instance_count (ResourceConfig.InstanceGroups[0]): got '2'; an int",
        ),
    ],
)
def test_nested_values_are_type_checked_like_the_props(props: dict[str, Any], expected: str) -> None:
    with pytest.raises(TrainingJobValidationError) as raised:
        _build(**props)
    assert expected in str(raised.value)


def test_ecr_uris_without_a_tag_or_with_a_region_token_are_accepted_and_pulled() -> None:
    from tests.stacks import grants, resources, template

    job = _build(image=TrainingImage.from_registry("382416733822.dkr.ecr.us-east-1.amazonaws.com/blazingtext"))
    assert job.request["AlgorithmSpecification"]["TrainingImage"].endswith("/blazingtext")
    agnostic = cdk.Stack(cdk.App(), "Agnostic")  # environment-agnostic: the region is a deploy-time value
    uri = f"382416733822.dkr.ecr.{cdk.Aws.REGION}.amazonaws.com/blazingtext:1"
    TrainingJob(agnostic, "Job", image=TrainingImage.from_registry(uri))
    tmpl = template(agnostic)
    role = next(k for k in resources(tmpl, "AWS::IAM::Role") if k.startswith("JobRole"))
    pulls = [r for a, r in grants(tmpl, role) if a == "ecr:BatchGetImage"]
    assert pulls == ["arn:aws:ecr:us-east-1:382416733822:repository/blazingtext"]  # the region, as deployed


def test_a_bad_ecr_uri_is_reported_with_the_other_problems_naming_the_member() -> None:
    with pytest.raises(TrainingJobValidationError) as raised:
        _build(image=TrainingImage.from_registry("123.dkr.ecr.us-east-1.amazonaws.com/Trainer:1"), instance_count=0)
    problems = raised.value.problems
    assert len(problems) == 2
    assert any(
        p.startswith(
            "image (AlgorithmSpecification.TrainingImage): got '123.dkr.ecr.us-east-1.amazonaws.com/Trainer:1'; "
            "an ECR image URI is <account>.dkr.ecr.<region>.amazonaws.com/<repository>[:<tag> or @sha256:<digest>]"
        )
        for p in problems
    )


def test_an_image_is_shown_as_the_user_wrote_it() -> None:
    with pytest.raises(TrainingJobValidationError) as raised:
        _build(image=TrainingImage.from_registry("registry.example.com/trainer:2"), algorithm_name="my-algo")
    text = str(raised.value)
    assert "TrainingImage.from_registry('registry.example.com/trainer:2')" in text
    assert "object at 0x" not in text
