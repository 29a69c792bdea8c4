"""Script mode: a local script and dataset as assets, framework images by name, launchers.

The requests are compared with what the SageMaker Python SDK sent for the same script
(tests/sdk_requests, recorded by tools/sdk_requests.py): equal apart from the code's S3 location
and the job's name."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ecr as ecr

from constructs_lib import (
    MPI,
    Channel,
    S3DataDistributionType,
    S3Location,
    SmDataParallel,
    SourceCode,
    Torchrun,
    TrainingImage,
    TrainingJob,
    TrainingJobValidationError,
)
from constructs_lib.frameworks import image_uri
from tests.stacks import grants, resources, template
from tools.intrinsics import resolve_intrinsics
from tools.summary import request_of

CORPUS = Path(__file__).parent / "sdk_requests"
EXAMPLE = Path(__file__).parent.parent / "examples" / "script_mode"
ACCOUNT, REGION = "123456789012", "us-east-1"
OUTPUT = "s3://sdk-training-data/output/"
TRAIN = "s3://sdk-training-data/train/"


def _sdk(name: str) -> dict[str, Any]:
    return json.loads((CORPUS / f"{name}.json").read_text())  # type: ignore[no-any-return]


def _stack(name: str = "Script", region: str | None = REGION) -> cdk.Stack:
    env = cdk.Environment(account=ACCOUNT, region=region) if region else None
    return cdk.Stack(cdk.App(), name, env=env)


def _source(tmp_path: Path, script: str = "print('training')\n") -> SourceCode:
    source = tmp_path / "src"
    source.mkdir(exist_ok=True)
    (source / "train.py").write_text(script)
    (source / "requirements.txt").write_text("numpy\n")
    return SourceCode.from_directory(source, "train.py", requirements="requirements.txt")


def _request(stack: cdk.Stack) -> dict[str, Any]:
    tmpl = template(stack)
    (resource,) = resources(tmpl, "Custom::SageMakerTrainingJob").values()
    return resolve_intrinsics(request_of(resource["Properties"]), tmpl)  # type: ignore[no-any-return]


def _comparable(request: dict[str, Any]) -> dict[str, Any]:
    """A request without what differs by construction: the code's location, the job's name and role."""
    out = copy.deepcopy(request)
    for member in ("TrainingJobName", "RoleArn", "Tags"):
        out.pop(member, None)
    hyperparameters = out["HyperParameters"]
    assert json.loads(hyperparameters.pop("sagemaker_submit_directory")).startswith("s3://")
    hyperparameters.pop("sagemaker_job_name")
    return out


@pytest.mark.parametrize(
    ("case", "framework", "props"),
    [
        (
            "pytorch_script_mode",
            ("pytorch", "2.3.0", {"py_version": "py311"}),
            {"instance_type": "ml.g5.xlarge", "hyperparameters": {"epochs": 3, "lr": 0.001}},
        ),
        (
            "pytorch_distributed",
            ("pytorch", "2.3.0", {"py_version": "py311"}),
            {"instance_type": "ml.p4d.24xlarge", "instance_count": 2, "distributed": Torchrun()},
        ),
        (
            "huggingface",
            ("huggingface", "4.36", {"py_version": "py310", "base_framework_version": "pytorch2.1"}),
            {
                "instance_type": "ml.g5.2xlarge",
                "hyperparameters": {"model_name_or_path": "distilbert-base-uncased", "epochs": 1},
            },
        ),
    ],
)
def test_the_request_is_the_sdks_apart_from_the_code_location(
    case: str, framework: tuple[str, str, dict[str, Any]], props: dict[str, Any], tmp_path: Path
) -> None:
    stack = _stack()
    name, version, options = framework
    TrainingJob(
        stack,
        "Job",
        image=TrainingImage.from_framework(name, version, **options),
        source_code=_source(tmp_path),
        inputs=[Channel("train", S3Location.from_uri(TRAIN), distribution=S3DataDistributionType.FULLY_REPLICATED)],
        output=S3Location.from_uri(OUTPUT),
        encrypt_volume=False,
        **props,
    )
    assert _comparable(_request(stack)) == _comparable(_sdk(case))


def test_the_role_reads_exactly_the_code_archive_and_unchanged_code_keeps_its_key(tmp_path: Path) -> None:
    def synth(script: str) -> tuple[str, set[tuple[str, str]]]:
        stack = _stack()
        TrainingJob(
            stack,
            "Job",
            image=TrainingImage.from_framework("pytorch", "2.3.0", py_version="py311"),
            source_code=_source(tmp_path, script),
        )
        tmpl = template(stack)
        role = next(k for k in resources(tmpl, "AWS::IAM::Role") if k.startswith("JobRole"))
        uri = json.loads(_request(stack)["HyperParameters"]["sagemaker_submit_directory"])
        return uri, grants(tmpl, role)

    uri, pairs = synth("print('v1')\n")
    assert uri.startswith(f"s3://cdk-hnb659fds-assets-{ACCOUNT}-{REGION}/")
    archive = "arn:aws:s3:::" + uri.removeprefix("s3://")
    assets = {(a, r) for a, r in pairs if "cdk-hnb659fds-assets" in r}
    assert assets == {("s3:GetObject", archive), ("s3:ListBucket", archive.rsplit("/", 1)[0])}
    assert synth("print('v1')\n")[0] == uri  # unchanged code: the same object, no new job
    (tmp_path / "src" / "__pycache__").mkdir()
    (tmp_path / "src" / "__pycache__" / "train.cpython-311.pyc").write_bytes(b"compiled")
    assert synth("print('v1')\n")[0] == uri  # byte code left out of the archive and of its hash
    assert synth("print('v2')\n")[0] != uri  # changed code: a new object, a new job


def test_the_archive_holds_the_source_directory_without_ignored_files(tmp_path: Path) -> None:
    source = tmp_path / "src"
    (source / "pkg" / "__pycache__").mkdir(parents=True)
    (source / "train.py").write_text("import pkg\n")
    (source / "pkg" / "__init__.py").write_text("")
    (source / "pkg" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    (source / "notes.md").write_text("#")
    stack = _stack()
    TrainingJob(
        stack,
        "Job",
        image=TrainingImage.from_framework("pytorch", "2.3.0", py_version="py311"),
        source_code=SourceCode.from_directory(source, "train.py", ignore=["*.md"]),
    )
    assembly = cdk.App.of(stack).synth()  # type: ignore[union-attr]
    (archive,) = Path(assembly.directory).glob("asset.*.tar.gz")
    import tarfile

    with tarfile.open(archive) as opened:
        assert sorted(opened.getnames()) == ["pkg/__init__.py", "train.py"]


def test_any_other_image_gets_a_code_channel_and_an_installing_entry_point(tmp_path: Path) -> None:
    stack = _stack()
    repo = ecr.Repository.from_repository_name(stack, "Repo", "trainer")
    job = TrainingJob(
        stack,
        "Job",
        image=TrainingImage.from_ecr_repository(repo, "1.0"),
        source_code=_source(tmp_path),
        container_arguments=["--epochs", "3"],
    )
    request = job.request
    (code,) = [c for c in request["InputDataConfig"] if c["ChannelName"] == "code"]
    assert code["InputMode"] == "File"
    entrypoint = request["AlgorithmSpecification"]["ContainerEntrypoint"]
    assert entrypoint[:2] == ["/bin/sh", "-c"]
    assert "tar -xzf /opt/ml/input/data/code/*" in entrypoint[2]
    assert "pip install --no-cache-dir -r requirements.txt" in entrypoint[2]
    assert entrypoint[2].endswith('exec python train.py "$@"')
    assert request["AlgorithmSpecification"]["ContainerArguments"] == ["--epochs", "3"]
    assert "sagemaker_program" not in request.get("HyperParameters", {})


def test_a_local_dataset_is_an_asset_the_role_reads_exactly() -> None:
    stack = _stack()
    TrainingJob(
        stack,
        "Job",
        image=TrainingImage.from_framework("xgboost", "1.7-1"),
        inputs=[Channel("train", S3Location.from_asset(EXAMPLE / "data" / "train.csv"))],
    )
    tmpl = template(stack)
    (channel,) = _request(stack)["InputDataConfig"]
    uri = channel["DataSource"]["S3DataSource"]["S3Uri"]
    assert uri.startswith(f"s3://cdk-hnb659fds-assets-{ACCOUNT}-{REGION}/") and uri.endswith(".csv")
    role = next(k for k in resources(tmpl, "AWS::IAM::Role") if k.startswith("JobRole"))
    reads = {(a, r) for a, r in grants(tmpl, role) if "cdk-hnb659fds-assets" in r}
    assert reads == {
        ("s3:GetObject", "arn:aws:s3:::" + uri.removeprefix("s3://")),
        ("s3:ListBucket", f"arn:aws:s3:::cdk-hnb659fds-assets-{ACCOUNT}-{REGION}"),
    }


def test_framework_images_match_the_sdks_and_unknown_ones_say_what_is_known() -> None:
    assert (
        image_uri("pytorch", "2.3.0", region=REGION, py_version="py311", instance_type="ml.g5.xlarge")
        == (_sdk("pytorch_script_mode")["AlgorithmSpecification"]["TrainingImage"])
    )
    assert (
        image_uri("xgboost", "1.7-1", region=REGION)
        == _sdk("builtin_xgboost")["AlgorithmSpecification"]["TrainingImage"]
    )
    hugging_face = _sdk("huggingface")["AlgorithmSpecification"]["TrainingImage"]
    assert image_uri("huggingface", "4.36", region=REGION, py_version="py310", instance_type="ml.g5.2xlarge") == (
        hugging_face  # the one base framework of the version, named as the SDK names it
    )
    assert image_uri("pytorch", "2.3", region=REGION, py_version="py311", instance_type="ml.m5.xlarge").endswith(
        "pytorch-training:2.3-cpu-py311"
    )
    with pytest.raises(TrainingJobValidationError, match=r"version '9.9' is not known; known: .*2\.3\.0"):
        TrainingJob(_stack(), "Job", image=TrainingImage.from_framework("pytorch", "9.9"))
    with pytest.raises(TrainingJobValidationError, match=r"py_version 'py27' is not known; known: py311"):
        TrainingJob(_stack(), "Job", image=TrainingImage.from_framework("pytorch", "2.3.0", py_version="py27"))
    with pytest.raises(TrainingJobValidationError, match=r"framework 'torch' is not in .*known: .*pytorch"):
        TrainingJob(_stack(), "Job", image=TrainingImage.from_framework("torch", "2.3"))
    with pytest.raises(TrainingJobValidationError, match=r"no image in region 'xx-east-9'"):
        TrainingJob(_stack(region="xx-east-9"), "Job", image=TrainingImage.from_framework("xgboost", "1.7-1"))
    with pytest.raises(TrainingJobValidationError, match=r"a stack without a region; .*env=Environment\(region"):
        TrainingJob(_stack(region=None), "Job", image=TrainingImage.from_framework("xgboost", "1.7-1"))


def test_launchers_render_what_the_toolkit_reads(tmp_path: Path) -> None:
    def hyperparameters(distribution: Any, instance_type: str) -> dict[str, str]:
        job = TrainingJob(
            _stack(),
            "Job",
            image=TrainingImage.from_framework("pytorch", "2.3.0", py_version="py311"),
            source_code=_source(tmp_path),
            instance_type=instance_type,
            instance_count=2,
            distributed=distribution,
        )
        return {k: v for k, v in job.request["HyperParameters"].items() if "distributed" in k or "mpi" in k}

    assert hyperparameters(MPI(), "ml.p4d.24xlarge") == {
        "sagemaker_mpi_custom_mpi_options": '""',
        "sagemaker_mpi_enabled": "true",
        "sagemaker_mpi_num_of_processes_per_host": "8",  # one per GPU (the SDK's GPU data)
    }
    assert (
        hyperparameters(MPI(process_count_per_node=2), "ml.c5.4xlarge")["sagemaker_mpi_num_of_processes_per_host"]
        == "2"
    )
    assert hyperparameters(SmDataParallel(), "ml.p4d.24xlarge") == {
        "sagemaker_distributed_dataparallel_custom_mpi_options": '""',
        "sagemaker_distributed_dataparallel_enabled": "true",
    }
    assert hyperparameters(Torchrun(), "ml.g5.12xlarge") == {"sagemaker_torch_distributed_enabled": "true"}


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        ({"distributed": Torchrun(), "instance_type": "ml.m5.xlarge"}, r"got 'ml.m5.xlarge'; torchrun starts one"),
        ({"distributed": SmDataParallel(), "instance_type": "ml.g5.xlarge"}, r"got 'ml.g5.xlarge'; SMDDP runs on"),
        ({"distributed": Torchrun(), "source_code": None}, r"distributed: got 'Torchrun'; launches source_code"),
        ({"distributed": MPI(), "image": "ecr"}, r"distributed: got 'MPI'; needs a framework image whose toolkit"),
        ({"source_code": "src/train.py"}, r"source_code \(.*\): got 'src/train.py'; a SourceCode"),
    ],
)
def test_launcher_and_source_mistakes_fail_at_synth(props: dict[str, Any], expected: str, tmp_path: Path) -> None:
    stack = _stack()
    defaults: dict[str, Any] = {
        "image": TrainingImage.from_framework("pytorch", "2.3.0", py_version="py311"),
        "source_code": _source(tmp_path),
        "instance_type": "ml.p4d.24xlarge",
    }
    if props.get("image") == "ecr":
        props["image"] = TrainingImage.from_ecr_repository(ecr.Repository.from_repository_name(stack, "R", "t"))
    with pytest.raises(TrainingJobValidationError, match=expected):
        TrainingJob(stack, "Job", **{**defaults, **props})


def test_source_code_names_a_missing_directory_or_script(tmp_path: Path) -> None:
    with pytest.raises(TrainingJobValidationError, match=r"source_dir: got '.*nowhere'; an existing directory"):
        SourceCode.from_directory(tmp_path / "nowhere", "train.py")
    shutil.copytree(EXAMPLE / "src", tmp_path / "src")
    with pytest.raises(TrainingJobValidationError, match=r"entry_script: got 'main.py'; a file in"):
        SourceCode.from_directory(tmp_path / "src", "main.py")
    with pytest.raises(TrainingJobValidationError, match=r"requirements: got 'reqs.txt'"):
        SourceCode.from_directory(tmp_path / "src", "train.py", requirements="reqs.txt")


@pytest.mark.parametrize(
    ("framework", "version", "py_version", "instance_type", "expected"),
    [  # what sagemaker.image_uris.retrieve(..., "eu-west-1", image_scope="training") gave (SDK 2.257.7)
        (
            "tensorflow",
            "2.16",
            "py310",
            "ml.g5.xlarge",
            "763104351884.dkr.ecr.eu-west-1.amazonaws.com/tensorflow-training:2.16-gpu-py310",
        ),
        (
            "sklearn",
            "1.2-1",
            "py3",
            "ml.m5.xlarge",
            "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
        ),
        (
            "pytorch",
            "2.1",
            "py310",
            "ml.c5.xlarge",
            "763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch-training:2.1-cpu-py310",
        ),
        (
            "mxnet",
            "1.9.0",
            "py38",
            "ml.p3.2xlarge",
            "763104351884.dkr.ecr.eu-west-1.amazonaws.com/mxnet-training:1.9.0-gpu-py38",
        ),
    ],
)
def test_framework_images_equal_the_sdks_retrieve(
    framework: str, version: str, py_version: str, instance_type: str, expected: str
) -> None:
    assert (
        image_uri(framework, version, region="eu-west-1", py_version=py_version, instance_type=instance_type)
        == expected
    )


def test_torchrun_on_any_image_runs_the_script_on_every_host(tmp_path: Path) -> None:
    stack = _stack()
    job = TrainingJob(
        stack,
        "Job",
        image=TrainingImage.from_ecr_repository(ecr.Repository.from_repository_name(stack, "Repo", "trainer")),
        source_code=_source(tmp_path),
        instance_type="ml.g5.12xlarge",
        instance_count=2,
        distributed=Torchrun(),
        container_arguments=["--epochs", "3"],
    )
    shell, command, script, program, name = job.request["AlgorithmSpecification"]["ContainerEntrypoint"]
    assert (shell, command, name) == ("/bin/sh", "-c", "train.py")
    # $0: the launcher, reading the job's hosts on its input; "$@": the script and its arguments
    assert script.endswith('exec python -c "$0" "$@" </opt/ml/input/config/resourceconfig.json')
    assert subprocess.run(["sh", "-n", "-c", script], check=False).returncode == 0  # valid shell
    # The launcher, run on the second of two hosts, with a torchrun that prints what it was given.
    config = tmp_path / "resourceconfig.json"
    config.write_text(json.dumps({"current_host": "algo-2", "hosts": ["algo-1", "algo-2"]}))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "torchrun").write_text('#!/bin/sh\necho "$@"\n')
    (bin_dir / "torchrun").chmod(0o755)
    with config.open() as hosts:
        ran = subprocess.run(
            [sys.executable, "-c", program, "train.py", "--epochs", "3"],
            stdin=hosts,
            env={"PATH": f"{bin_dir}:/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=True,
        )
    assert ran.stdout.split() == [
        "--nnodes=2", "--node_rank=1", "--master_addr=algo-1", "--master_port=29500", "--nproc_per_node=gpu",
        "train.py", "--epochs", "3",
    ]  # fmt: skip


def test_a_built_in_algorithm_runs_no_script_and_an_asset_is_never_written_to(tmp_path: Path) -> None:
    with pytest.raises(TrainingJobValidationError, match=r"source_code: got 'kmeans'; kmeans's image is a built-in"):
        TrainingJob(_stack(), "Job", image=TrainingImage.from_framework("kmeans", "1"), source_code=_source(tmp_path))
    data = S3Location.from_asset(EXAMPLE / "data" / "train.csv")
    with pytest.raises(TrainingJobValidationError, match=r"checkpoint \(CheckpointConfig.S3Uri\): got '.*train.csv'"):
        TrainingJob(_stack(), "Job", image=TrainingImage.from_framework("xgboost", "1.7-1"), checkpoint=data)
