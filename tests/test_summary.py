"""``python -m constructs_lib.summary``: what a synthesized assembly's training jobs will do, and
each job's request preview written next to its template."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3

from app import TrainingExampleStack
from constructs_lib import S3Location, TrainingImage, TrainingJob
from constructs_lib.summary import main, readable, request_of, summarize
from tests.stacks import ENV, template_of

EXAMPLE_JOB = "Train781835F2"
KEY = "GetAtt(SageMakerTrainingStorageKey10F3A471.Arn)"


@pytest.fixture(scope="module")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example app's first stack, and a stage holding a job with no VPC and no keys."""
    out_dir = tmp_path_factory.mktemp("cdk.out")
    app = cdk.App(outdir=str(out_dir), context={"@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True})
    TrainingExampleStack(app, "TrainingExample", env=ENV, analytics_reporting=False)
    stack = cdk.Stack(cdk.Stage(app, "Dev"), "Plain", env=ENV, analytics_reporting=False)
    TrainingJob(
        stack,
        "Plain",
        image=TrainingImage.from_registry("111111111111.dkr.ecr.us-east-1.amazonaws.com/plain:1"),
        output=S3Location.from_bucket(s3.Bucket.from_bucket_name(stack, "Out", "plain-output"), "models/"),
        encrypt_volume=False,
    )
    app.synth()
    return out_dir


def _job_block(summary: str, logical_id: str) -> list[str]:
    lines = summary.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"  training job {logical_id}"))
    return lines[start : start + 12]


def _job_resource(template_path: Path, logical_id: str) -> dict[str, Any]:
    resource: dict[str, Any] = json.loads(template_path.read_text())["Resources"][logical_id]
    return resource


def test_example_job_shows_its_keys_isolation_and_encryption(assembly: Path) -> None:
    block = _job_block(summarize(assembly), EXAMPLE_JOB)
    assert block == [
        f"  training job {EXAMPLE_JOB}:",
        "    instances: 1 x ml.m5.xlarge, 30 GB volume",
        "    input channels: none",
        "    network isolation: no",
        "    inter-container traffic encryption: no",
        "    VPC: none (SageMaker's own network)",
        f"    volume key: {KEY}",
        "    output path: s3://${Ref(SageMakerTrainingStorageOutputBD237A33)}/trainingexample-2327-a3ff110e/",
        f"    output key: {KEY}",
        "    role: GetAtt(TrainRole2EAAD23F.Arn)",
        "    stopping condition: max runtime 24 h (86400 s)",
        f"    request preview: {assembly / f'TrainingExample.{EXAMPLE_JOB}.request.json'}",
    ]


def test_the_request_preview_is_the_resources_request(assembly: Path) -> None:
    summarize(assembly)
    resource = _job_resource(assembly / "TrainingExample.template.json", EXAMPLE_JOB)
    preview = json.loads((assembly / f"TrainingExample.{EXAMPLE_JOB}.request.json").read_text())
    assert preview == resource["Properties"]["Request"]
    assert preview["ResourceConfig"]["VolumeKmsKeyId"] == {"Fn::GetAtt": ["SageMakerTrainingStorageKey10F3A471", "Arn"]}


def test_a_stage_is_summarized_and_a_job_without_vpc_or_keys_shows_none(assembly: Path) -> None:
    summary = summarize(assembly)
    nested = assembly / "assembly-Dev"
    (template,) = sorted(nested.glob("*.template.json"))
    stack = template.name.removesuffix(".template.json")
    count = len(json.loads(template.read_text())["Resources"])
    assert f"Stack Dev/Plain: {template}  ({count} resources)" in summary.splitlines()
    block = _job_block(summary, "Plain295EB121")
    assert block[5:9] == [
        "    VPC: none (SageMaker's own network)",
        "    volume key: none (SageMaker's default volume encryption)",
        "    output path: s3://plain-output/models/",
        "    output key: none (SageMaker uses the account's default KMS key for S3)",
    ]
    preview = nested / f"{stack}.Plain295EB121.request.json"
    assert block[-1] == f"    request preview: {preview}"
    assert json.loads(preview.read_text()) == _job_resource(template, "Plain295EB121")["Properties"]["Request"]
    assert summary.splitlines()[-1].startswith("Deploying a change to a training job's request starts a new job")


def _summary_of(tmp_path: Path, name: str) -> str:
    (tmp_path / f"{name}.template.json").write_text(json.dumps(template_of(name)))
    return summarize(tmp_path)


def test_vpc_counts_and_inter_container_encryption(tmp_path: Path) -> None:
    block = _job_block(_summary_of(tmp_path, "vpc_two_instances"), "DistributedD40ACC48")
    assert block[1:6] == [
        "    instances: 2 x ml.c5.2xlarge, 30 GB volume",
        "    input channels: 2: train <- s3://training-data-bucket/datasets/train/, "
        "validation <- s3://training-data-bucket/datasets/validation/",
        "    network isolation: no",
        "    inter-container traffic encryption: yes",
        "    VPC: 2 subnet(s), 1 security group(s)",
    ]


def test_network_isolation_spot_and_a_local_nvme_volume(tmp_path: Path) -> None:
    block = _job_block(_summary_of(tmp_path, "spot_checkpoints"), "Spot")
    assert block[1] == "    instances: 1 x ml.g5.2xlarge, 30 GB volume, managed spot"
    assert block[3] == "    network isolation: yes"
    assert block[6] == (
        "    volume key: none (local NVMe storage of ml.g5.2xlarge, encrypted by the instance's hardware module)"
    )
    assert block[10] == "    stopping condition: max runtime 2 h (7200 s), max wait 6 h (21600 s)"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ({"Ref": "Role1ABCC5F0"}, "Ref(Role1ABCC5F0)"),
        ({"Fn::GetAtt": ["Key", "Arn"]}, "GetAtt(Key.Arn)"),
        ({"Fn::GetAtt": "Key.Arn"}, "GetAtt(Key.Arn)"),
        ({"Fn::Join": ["", ["s3://", {"Ref": "Bucket"}, "/out/"]]}, "s3://${Ref(Bucket)}/out/"),
        ({"Fn::Join": [",", [{"Ref": "A"}, "b"]]}, 'Join(",", [Ref(A), "b"])'),
        ({"Fn::ImportValue": "shared-key-arn"}, 'ImportValue("shared-key-arn")'),
        ({"Fn::Select": [0, {"Fn::Split": [",", {"Ref": "Subnets"}]}]}, 'Select(0, Split(",", Ref(Subnets)))'),
        (None, "none"),
        (30, "30"),
    ],
)
def test_cloudformation_expressions_are_shown_readably(value: Any, shown: str) -> None:
    assert readable(value) == shown


def test_a_schema_1_request_joined_with_expressions_is_restored() -> None:
    joined = {"Fn::Join": ["", ['{"RoleArn":"', {"Fn::GetAtt": ["Role", "Arn"]}, '","X":"a-', {"Ref": "B"}, '"}']]}
    assert request_of({"Request": joined}) == {
        "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
        "X": {"Fn::Join": ["", ["a-", {"Ref": "B"}]]},
    }
    assert request_of({"Request": '{"RoleArn": "arn:aws:iam::1:role/r"}'}) == {"RoleArn": "arn:aws:iam::1:role/r"}


def test_a_missing_or_empty_directory_is_one_line_and_exit_2(tmp_path: Path) -> None:
    for directory, reason in ((tmp_path / "absent", "is not a directory"), (tmp_path, "holds no CloudFormation")):
        out, err = io.StringIO(), io.StringIO()
        assert main([str(directory)], out=out, err=err) == 2
        assert out.getvalue() == ""
        assert err.getvalue().count("\n") == 1 and reason in err.getvalue()
        assert err.getvalue().startswith(f"error: {directory} ")


def test_the_command_prints_the_summary_and_has_help(assembly: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    assert main([str(assembly)], out=out) == 0
    assert out.getvalue() == summarize(assembly) + "\n"
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    assert "exit codes:" in capsys.readouterr().out
