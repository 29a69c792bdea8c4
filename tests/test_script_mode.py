"""Script mode: a local script and dataset as assets, framework images by name, launchers.

The requests are compared with what the SageMaker Python SDK sent for the same script
(tests/sdk_requests, recorded by tools/sdk_requests.py): equal apart from the code's S3 location
and the job's name."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
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
    if "model_dir" in hyperparameters and json.loads(hyperparameters["model_dir"])[:1] != "/":
        # TensorFlow's s3://<output>/<job name>/model: the handler fills it in with the job's name.
        hyperparameters["model_dir"] = "(the job's)"
    return out


TF = ("tensorflow", "2.16", {"py_version": "py310"})
PT = ("pytorch", "2.3.0", {"py_version": "py311"})
CHECKPOINTS = "s3://sdk-training-data/checkpoints/"


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
        ("tensorflow_script_mode", TF, {"instance_type": "ml.g5.xlarge", "hyperparameters": {"epochs": 3}}),
        (
            "tensorflow_mpi",  # model_dir is the container's /opt/ml/model under MPI
            TF,
            {"instance_type": "ml.p4d.24xlarge", "instance_count": 2, "distributed": MPI(process_count_per_node=8)},
        ),
        # No metrics time series for scikit-learn and XGBoost
        ("sklearn_script_mode", ("sklearn", "1.2-1", {"py_version": "py3"}), {"instance_type": "ml.m5.xlarge"}),
        (
            "xgboost_script_mode",
            ("xgboost", "1.7-1", {"py_version": "py3"}),
            {"instance_type": "ml.m5.xlarge", "hyperparameters": {"num_round": 10}},
        ),
        (
            "pytorch_checkpoints",  # no default Debugger hook with checkpoints
            PT,
            {
                "instance_type": "ml.g5.xlarge",
                "checkpoint": S3Location.from_uri(CHECKPOINTS),
                "checkpoint_local_path": "/opt/ml/checkpoints",
            },
        ),
        (
            "pytorch_checkpoint_uri_only",  # the SDK keeps its hook without a local path
            PT,
            {"instance_type": "ml.g5.xlarge", "checkpoint": S3Location.from_uri(CHECKPOINTS)},
        ),
        (
            "pytorch_debugging_off",
            PT,
            {"instance_type": "ml.g5.xlarge", "source": {"debugger_hook_config": False, "disable_profiler": True}},
        ),
        (
            "pytorch_structured_hyperparameters",
            PT,
            {
                "instance_type": "ml.g5.xlarge",
                "hyperparameters": {
                    "layers": [64, 32],
                    "optimizer": {"name": "adam", "lr": 0.001},
                    "seed": None,
                    "name": "run-1",
                    "epochs": 3,
                    "lr": 0.001,
                    "shuffle": True,
                },
            },
        ),
        (
            "pytorch_smdataparallel",
            ("pytorch", "2.2.0", {"py_version": "py310"}),
            {"instance_type": "ml.p4d.24xlarge", "instance_count": 2, "distributed": SmDataParallel()},
        ),
    ],
)
def test_the_request_is_the_sdks_apart_from_the_code_location(
    case: str, framework: tuple[str, str, dict[str, Any]], props: dict[str, Any], tmp_path: Path
) -> None:
    stack = _stack()
    name, version, options = framework
    props = dict(props)
    source = dataclasses.replace(_source(tmp_path), **props.pop("source", {}))
    TrainingJob(
        stack,
        "Job",
        image=TrainingImage.from_framework(name, version, **options),
        source_code=source,
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
    assert '"$P" -m pip install --no-cache-dir -r "$1"; shift' in entrypoint[2]
    assert entrypoint[2].endswith('exec "$P" "$@"')
    assert entrypoint[3:] == ["train.py", "requirements.txt", "train.py"]  # $0, the requirements, the script
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
    def hyperparameters(distribution: Any, instance_type: str, version: str = "2.3.0") -> dict[str, str]:
        job = TrainingJob(
            _stack(),
            "Job",
            image=TrainingImage.from_framework(
                "pytorch", version, py_version="py311" if version == "2.3.0" else "py310"
            ),
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
    assert hyperparameters(SmDataParallel(), "ml.p4d.24xlarge", "2.2.0") == {
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
    shell, command, script, program, requirements, processes, name = job.request["AlgorithmSpecification"][
        "ContainerEntrypoint"
    ]
    assert (shell, command, requirements, processes, name) == ("/bin/sh", "-c", "requirements.txt", "gpu", "train.py")
    # $0: the launcher, reading the job's hosts on its input; "$@": its arguments, the script and its arguments
    assert script.endswith('exec "$P" -c "$0" "$@" <../input/config/resourceconfig.json')
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
            [sys.executable, "-c", program, "gpu", "train.py", "--epochs", "3"],
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


def test_the_handler_fills_in_tensorflows_model_dir_as_the_sdk_writes_it(tmp_path: Path) -> None:
    from tests.handler_support import Run, event, identity_tags, name_for, props

    stack = _stack()
    TrainingJob(
        stack,
        "Job",
        image=TrainingImage.from_framework(*TF[:2], **TF[2]),
        source_code=_source(tmp_path),
        instance_type="ml.g5.xlarge",
        output=S3Location.from_uri(OUTPUT),
    )
    request = _request(stack)
    assert request["HyperParameters"]["model_dir"] == '""'  # filled in at deploy, with the job's name
    run, evt = Run(), event("Create", properties=props(request))
    name = name_for(evt)
    sent = copy.deepcopy(request)
    sent["TrainingJobName"] = name
    sent["HyperParameters"]["sagemaker_job_name"] = json.dumps(name)
    sent["HyperParameters"]["model_dir"] = json.dumps(f"{OUTPUT}{name}/model")  # the SDK's, for that name
    sent["Tags"] = [*sent.get("Tags", []), *identity_tags(evt)]
    arn = f"arn:aws:sagemaker:us-east-1:111111111111:training-job/{name}"
    run.stub.add_response("create_training_job", {"TrainingJobArn": arn}, sent)
    assert run(evt)["Status"] == "SUCCESS"
    sdk = _sdk("tensorflow_script_mode")
    job = sdk["TrainingJobName"]
    assert sdk["HyperParameters"]["model_dir"] == json.dumps(f"{OUTPUT}{job}/model")


def test_a_users_model_dir_is_kept(tmp_path: Path) -> None:
    job = TrainingJob(
        _stack(),
        "Job",
        image=TrainingImage.from_framework(*TF[:2], **TF[2]),
        source_code=_source(tmp_path),
        hyperparameters={"model_dir": "/opt/ml/model"},
    )
    assert job.request["HyperParameters"]["model_dir"] == '"/opt/ml/model"'


def test_structured_hyperparameters_outside_script_mode_are_refused_naming_the_key() -> None:
    stack = _stack()
    repo = ecr.Repository.from_repository_name(stack, "Repo", "trainer")
    with pytest.raises(TrainingJobValidationError) as raised:
        TrainingJob(
            stack,
            "Job",
            image=TrainingImage.from_ecr_repository(repo),
            hyperparameters={"layers": [64, 32], "seed": None, "epochs": 3},
        )
    text = "\n".join(raised.value.problems)
    assert "hyperparameters['layers'] (HyperParameters): got [64, 32]; str, int, float or bool" in text
    assert "hyperparameters['seed'] (HyperParameters): got None" in text
    assert "script mode" in text
    assert len(raised.value.problems) == 2  # not reported again by the API model's check


def test_smdataparallel_refuses_framework_versions_the_sdk_does_not_list(tmp_path: Path) -> None:
    with pytest.raises(TrainingJobValidationError) as raised:
        TrainingJob(
            _stack(),
            "Job",
            image=TrainingImage.from_framework("pytorch", "2.3.0", py_version="py311"),
            source_code=_source(tmp_path),
            instance_type="ml.p4d.24xlarge",
            distributed=SmDataParallel(),
        )
    assert "distributed (SmDataParallel): got 'pytorch 2.3.0'; smdataparallel supports pytorch " in str(raised.value)
    assert "2.2.0" in str(raised.value)
    with pytest.raises(TrainingJobValidationError, match=r"got 'pytorch 2.1'; smdataparallel supports"):
        TrainingJob(  # a Hugging Face image is checked by its base framework's version, as the SDK does
            _stack(),
            "Job",
            image=TrainingImage.from_framework(
                "huggingface", "4.36", py_version="py310", base_framework_version="pytorch2.1"
            ),
            source_code=_source(tmp_path),
            instance_type="ml.p4d.24xlarge",
            distributed=SmDataParallel(),
        )


def test_the_code_archive_is_a_gzipped_tar_under_its_hash_as_documented(tmp_path: Path) -> None:
    import constructs_lib.source_code as source_code

    stack = _stack()
    TrainingJob(
        stack,
        "Job",
        image=TrainingImage.from_framework("pytorch", "2.3.0", py_version="py311"),
        source_code=_source(tmp_path),
    )
    uri = json.loads(_request(stack)["HyperParameters"]["sagemaker_submit_directory"])
    key = uri.rsplit("/", 1)[1]
    assert re.fullmatch(r"[0-9a-f]{64}\.gz", key)
    doc = source_code.__doc__ or ""
    assert "<hash>.gz" in doc and "sourcedir.tar.gz" not in doc.split("SDK")[0]


GPU_TYPES = (
    "ml.g5.xlarge",
    "ml.g6.2xlarge",
    "ml.g6e.xlarge",
    "ml.p5e.48xlarge",
    "ml.p5en.48xlarge",
    "ml.p6-b200.48xlarge",
)


@pytest.mark.parametrize("instance_type", GPU_TYPES)
def test_torchrun_accepts_every_gpu_family_on_any_image(instance_type: str, tmp_path: Path) -> None:
    stack = _stack()
    job = TrainingJob(
        stack,
        "Job",
        image=TrainingImage.from_ecr_repository(ecr.Repository.from_repository_name(stack, "Repo", "trainer")),
        source_code=_source(tmp_path),
        instance_type=instance_type,
        encrypt_volume=False,
        distributed=Torchrun(),
    )
    assert "gpu" in job.request["AlgorithmSpecification"]["ContainerEntrypoint"]


def test_every_gpu_training_type_of_the_api_model_is_a_gpu_or_trainium_type_for_torchrun() -> None:
    import botocore.session

    from constructs_lib.distributed import accelerator_of

    shape = botocore.session.get_session().get_service_model("sagemaker").shape_for("TrainingInstanceType")
    types = getattr(shape, "enum", [])
    accelerated = [t for t in types if t.split(".")[1][0] in "gp" or t.startswith("ml.trn")]
    assert len(accelerated) >= 62
    assert [t for t in accelerated if accelerator_of(t) is None] == []
    assert accelerator_of("ml.m5.xlarge") is None and accelerator_of("ml.c5.4xlarge") is None


def test_torchrun_without_the_frameworks_data_still_accepts_gpu_types(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from constructs_lib import frameworks

    def missing(*_: Any) -> Any:
        raise frameworks.FrameworkNotFound("framework images need the SageMaker Python SDK's published data")

    monkeypatch.setattr(frameworks, "_config", missing)
    stack = _stack()
    repo = ecr.Repository.from_repository_name(stack, "Repo", "trainer")
    TrainingJob(
        stack,
        "Job",
        image=TrainingImage.from_ecr_repository(repo),
        source_code=_source(tmp_path),
        instance_type="ml.p4d.24xlarge",
        distributed=Torchrun(),
    )


def test_mpi_without_a_gpu_count_names_process_count_per_node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from constructs_lib import frameworks

    monkeypatch.setattr(frameworks, "gpu_count", lambda *_: None)  # a GPU type the SDK's table lacks
    with pytest.raises(TrainingJobValidationError) as raised:
        TrainingJob(
            _stack(),
            "Job",
            image=TrainingImage.from_framework("pytorch", "2.3.0", py_version="py311"),
            source_code=_source(tmp_path),
            instance_type="ml.g6.xlarge",
            encrypt_volume=False,
            distributed=MPI(),
        )
    assert "distributed (MPI.process_count_per_node): got 'ml.g6.xlarge'; " in str(raised.value)
    assert "set MPI(process_count_per_node=" in str(raised.value)


def test_an_instance_type_typo_is_reported_once_by_the_instance_type_rule(tmp_path: Path) -> None:
    stack = _stack()
    repo = ecr.Repository.from_repository_name(stack, "Repo", "trainer")
    with pytest.raises(TrainingJobValidationError) as raised:
        TrainingJob(
            stack,
            "Job",
            image=TrainingImage.from_ecr_repository(repo),
            source_code=_source(tmp_path),
            instance_type="ml.g5.xlarg",
            distributed=Torchrun(),
        )
    assert len(raised.value.problems) == 1
    assert raised.value.problems[0].startswith("instance_type (ResourceConfig.InstanceType): got 'ml.g5.xlarg'")


def test_a_requirements_file_of_another_name_reaches_the_toolkit_as_requirements_txt(tmp_path: Path) -> None:
    import tarfile

    source = tmp_path / "src"
    source.mkdir()
    (source / "train.py").write_text("print('training')\n")
    (source / "requirements-train.txt").write_text("numpy==2.1.0\n")
    (source / "requirements-eval.txt").write_text("pandas\n")

    def archive(requirements: str) -> tuple[str, dict[str, bytes]]:
        stack = _stack()
        TrainingJob(
            stack,
            "Job",
            image=TrainingImage.from_framework("pytorch", "2.3.0", py_version="py311"),
            source_code=SourceCode.from_directory(source, "train.py", requirements=requirements),
        )
        key = json.loads(_request(stack)["HyperParameters"]["sagemaker_submit_directory"]).rsplit("/", 1)[1]
        assembly = cdk.App.of(stack).synth()  # type: ignore[union-attr]
        (path,) = Path(assembly.directory).glob("asset.*.tar.gz")
        with tarfile.open(path) as opened:
            return key, {m.name: opened.extractfile(m).read() for m in opened.getmembers()}  # type: ignore[union-attr]

    key, files = archive("requirements-train.txt")
    assert files["requirements.txt"] == b"numpy==2.1.0\n"  # what the toolkit installs
    other_key, other_files = archive("requirements-eval.txt")
    assert other_files["requirements.txt"] == b"pandas\n"
    assert other_key != key  # another requirements file: another archive, a new job


def _fake_runtime(tmp_path: Path, *, python: str) -> tuple[Path, dict[str, str]]:
    """A container's /opt/ml (under tmp_path) and a PATH holding sh, tar and a recording ``python``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sh", "tar", "gzip", "mkdir", "cat"):
        found = shutil.which(tool)
        assert found is not None
        (bin_dir / tool).symlink_to(found)
    recorder = bin_dir / python
    recorder.write_text(f'#!/bin/sh\necho "{python} $*" >> {tmp_path}/ran\n')
    recorder.chmod(0o755)
    return bin_dir, {"PATH": str(bin_dir)}


def _run_entrypoint(tmp_path: Path, job: TrainingJob, env: dict[str, str], *arguments: str) -> list[str]:
    """Runs the job's ContainerEntrypoint with /opt/ml moved under tmp_path; what python was asked."""
    import tarfile

    root = tmp_path / "opt-ml"
    (root / "input" / "data" / "code").mkdir(parents=True)
    (root / "input" / "config").mkdir(parents=True)
    (root / "input" / "config" / "resourceconfig.json").write_text('{"current_host": "algo-1", "hosts": ["algo-1"]}')
    with tarfile.open(root / "input" / "data" / "code" / "x.gz", "w:gz") as archive:
        archive.add(tmp_path / "src", arcname=".")
    entrypoint = [
        item.replace("/opt/ml", str(root)) for item in job.request["AlgorithmSpecification"]["ContainerEntrypoint"]
    ]
    subprocess.run([*entrypoint, *arguments], env=env, check=True, cwd=tmp_path, capture_output=True)
    return (tmp_path / "ran").read_text().splitlines()


def test_on_any_image_the_entry_point_falls_back_to_python3(tmp_path: Path) -> None:
    _, env = _fake_runtime(tmp_path, python="python3")
    stack = _stack()
    job = TrainingJob(
        stack,
        "Job",
        image=TrainingImage.from_ecr_repository(ecr.Repository.from_repository_name(stack, "Repo", "trainer")),
        source_code=_source(tmp_path),
    )
    assert _run_entrypoint(tmp_path, job, env, "--epochs", "3") == [
        "python3 -m pip install --no-cache-dir -r requirements.txt",
        "python3 train.py --epochs 3",
    ]


def test_a_long_requirements_path_fits_the_torchrun_entry_point(tmp_path: Path) -> None:
    _, env = _fake_runtime(tmp_path, python="python")
    source = tmp_path / "src"
    deep = Path("dependencies") / "for-the-distributed-training-run" / "pinned-by-the-platform-team"
    (source / deep).mkdir(parents=True)
    (source / "train.py").write_text("print('training')\n")
    (source / deep / "requirements-gpu.txt").write_text("numpy\n")
    requirements = str(deep / "requirements-gpu.txt")
    assert len(requirements) > 90
    stack = _stack()
    job = TrainingJob(
        stack,
        "Job",
        image=TrainingImage.from_ecr_repository(ecr.Repository.from_repository_name(stack, "Repo", "trainer")),
        source_code=SourceCode.from_directory(source, "train.py", requirements=requirements),
        instance_type="ml.g5.12xlarge",
        distributed=Torchrun(),
    )
    entrypoint = job.request["AlgorithmSpecification"]["ContainerEntrypoint"]
    assert max(map(len, entrypoint)) <= 256
    ran = _run_entrypoint(tmp_path, job, env, "--epochs", "3")
    assert ran[0] == f"python -m pip install --no-cache-dir -r {requirements}"
    assert ran[1].startswith("python -c import json") and ran[1].endswith(" gpu train.py --epochs 3")


def test_a_path_too_long_for_an_entry_point_item_names_its_prop(tmp_path: Path) -> None:
    with pytest.raises(TrainingJobValidationError, match=r"source_code.requirements: got '.{300}'; at most 256"):
        SourceCode(str(tmp_path), "train.py", requirements="r" * 300)


@pytest.mark.parametrize("entry_script", ["my train.py", "-m.py", "./train.py"])
def test_entry_script_names_the_toolkit_refuses_are_refused_at_synth(entry_script: str, tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / entry_script.removeprefix("./")).write_text("print('training')\n")
    with pytest.raises(TrainingJobValidationError, match=r"source_code.entry_script: got '.*'; .*spaces, a leading"):
        SourceCode.from_directory(source, entry_script)


def test_torchrun_on_trainium_starts_one_process_per_neuron_core(tmp_path: Path) -> None:
    stack = _stack()
    job = TrainingJob(
        stack,
        "Job",
        image=TrainingImage.from_ecr_repository(ecr.Repository.from_repository_name(stack, "Repo", "neuron")),
        source_code=_source(tmp_path),
        instance_type="ml.trn1.32xlarge",
        instance_count=2,
        distributed=Torchrun(),
    )
    assert job.request["AlgorithmSpecification"]["ContainerEntrypoint"][-2:] == ["32", "train.py"]
