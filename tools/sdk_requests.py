"""Records the CreateTrainingJob requests the SageMaker Python SDK (v2) sends, as test fixtures.

Not part of the project's environment (the SDK pulls in pandas, numpy and more): run it with a
virtualenv that has ``sagemaker>=2.250,<3`` and ``moto[s3,sts]``::

    python3 -m venv /tmp/sdk && /tmp/sdk/bin/pip install 'sagemaker>=2.250,<3' 'moto[s3,sts]'
    /tmp/sdk/bin/python tools/sdk_requests.py tests/sdk_requests

Each case builds an ``Estimator`` (or a framework estimator) as users do and calls
``fit(wait=False)``. S3 and STS are moto's, in process (the SDK uploads script-mode code there);
CreateTrainingJob never leaves the process: a botocore hook records the request the SDK
built and answers it. Nothing reaches AWS.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ACCOUNT, REGION = "123456789012", "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/SageMakerTraining"
BUCKET = "sdk-training-data"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{KEY_ID}"
ALIAS_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/ml-artifacts"
SUBNETS = ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"]
GROUPS = ["sg-0a1b2c3d4e5f60003"]
CUSTOM_IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/trainer:1.4"
TRAIN = f"s3://{BUCKET}/train/"
VALIDATION = f"s3://{BUCKET}/validation/"
OUTPUT = f"s3://{BUCKET}/output/"
SCRIPT = "import argparse\nprint('training')\n"


def main(out: Path) -> None:
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        AWS_EC2_METADATA_DISABLED="true",
    )
    import boto3
    import moto

    with moto.mock_aws():
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
        out.mkdir(parents=True, exist_ok=True)
        for name, case in CASES.items():
            request = _record(case)
            (out / f"{name}.json").write_text(json.dumps(request, indent=2, sort_keys=True) + "\n")
            print(f"{name}: {len(json.dumps(request))} bytes")


def _record(case: Callable[[Any], None]) -> dict[str, Any]:
    import boto3
    import sagemaker

    recorded: dict[str, Any] = {}
    boto_session = boto3.Session(region_name=REGION)

    def record(params: dict[str, Any], **_: Any) -> None:
        recorded.update(json.loads(json.dumps(params, default=str)))

    def answer(**_: Any) -> tuple[Any, dict[str, Any]]:
        arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/{recorded['TrainingJobName']}"
        return (type("Http", (), {"status_code": 200, "headers": {}})(), {"TrainingJobArn": arn})

    session = sagemaker.Session(boto_session=boto_session, default_bucket=BUCKET)
    events = session.sagemaker_client.meta.events
    events.register("before-parameter-build.sagemaker.CreateTrainingJob", record)
    events.register("before-call.sagemaker.CreateTrainingJob", answer)
    with tempfile.TemporaryDirectory() as source_dir:
        Path(source_dir, "train.py").write_text(SCRIPT)
        Path(source_dir, "requirements.txt").write_text("numpy\n")
        case(_Context(session, source_dir))
    return recorded


class _Context:
    def __init__(self, session: Any, source_dir: str) -> None:
        self.session = session
        self.source_dir = source_dir

    def common(self, **extra: Any) -> dict[str, Any]:
        return {"role": ROLE, "sagemaker_session": self.session, "output_path": OUTPUT, **extra}


def builtin_xgboost(ctx: _Context) -> None:
    from sagemaker import image_uris
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput

    image = image_uris.retrieve("xgboost", REGION, "1.7-1")
    estimator = Estimator(image, instance_count=1, instance_type="ml.m5.xlarge", **ctx.common())
    estimator.set_hyperparameters(objective="reg:squarederror", num_round=100)
    estimator.fit(
        {
            "train": TrainingInput(TRAIN, content_type="text/csv"),
            "validation": TrainingInput(VALIDATION, content_type="text/csv"),
        },
        wait=False,
    )


def pytorch_script_mode(ctx: _Context) -> None:
    from sagemaker.pytorch import PyTorch

    PyTorch(
        entry_point="train.py",
        source_dir=ctx.source_dir,
        framework_version="2.3.0",
        py_version="py311",
        instance_count=1,
        instance_type="ml.g5.xlarge",
        hyperparameters={"epochs": 3, "lr": 0.001},
        code_location=f"s3://{BUCKET}/code",
        **ctx.common(),
    ).fit({"train": TRAIN}, wait=False)


def pytorch_distributed(ctx: _Context) -> None:
    from sagemaker.pytorch import PyTorch

    PyTorch(
        entry_point="train.py",
        source_dir=ctx.source_dir,
        framework_version="2.3.0",
        py_version="py311",
        instance_count=2,
        instance_type="ml.p4d.24xlarge",
        distribution={"torch_distributed": {"enabled": True}},
        code_location=f"s3://{BUCKET}/code",
        **ctx.common(),
    ).fit({"train": TRAIN}, wait=False)


def huggingface(ctx: _Context) -> None:
    from sagemaker.huggingface import HuggingFace

    HuggingFace(
        entry_point="train.py",
        source_dir=ctx.source_dir,
        transformers_version="4.36",
        pytorch_version="2.1",
        py_version="py310",
        instance_count=1,
        instance_type="ml.g5.2xlarge",
        hyperparameters={"model_name_or_path": "distilbert-base-uncased", "epochs": 1},
        code_location=f"s3://{BUCKET}/code",
        **ctx.common(),
    ).fit({"train": TRAIN}, wait=False)


def spot_checkpoints(ctx: _Context) -> None:
    from sagemaker.estimator import Estimator

    Estimator(
        CUSTOM_IMAGE,
        instance_count=1,
        instance_type="ml.g5.2xlarge",
        use_spot_instances=True,
        max_run=3600,
        max_wait=7200,
        checkpoint_s3_uri=f"s3://{BUCKET}/checkpoints/",
        checkpoint_local_path="/opt/ml/checkpoints",
        **ctx.common(),
    ).fit({"train": TRAIN}, wait=False)


def vpc_isolated_encrypted(ctx: _Context) -> None:
    from sagemaker.estimator import Estimator

    Estimator(
        CUSTOM_IMAGE,
        instance_count=2,
        instance_type="ml.c5.2xlarge",
        subnets=SUBNETS,
        security_group_ids=GROUPS,
        enable_network_isolation=True,
        encrypt_inter_container_traffic=True,
        volume_kms_key=KEY_ID,
        output_kms_key=KEY_ARN,
        **ctx.common(),
    ).fit({"train": TRAIN}, wait=False)


def key_aliases(ctx: _Context) -> None:
    from sagemaker.estimator import Estimator

    Estimator(
        CUSTOM_IMAGE,
        instance_count=1,
        instance_type="ml.m5.xlarge",
        volume_kms_key="alias/ml-volumes",
        output_kms_key=ALIAS_ARN,
        **ctx.common(),
    ).fit({"train": TRAIN}, wait=False)


def warm_pool_retries(ctx: _Context) -> None:
    from sagemaker.estimator import Estimator

    Estimator(
        CUSTOM_IMAGE,
        instance_count=1,
        instance_type="ml.m5.xlarge",
        keep_alive_period_in_seconds=1800,
        max_retry_attempts=3,
        **ctx.common(),
    ).fit({"train": TRAIN}, wait=False)


def debugger_profiler_tensorboard(ctx: _Context) -> None:
    from sagemaker.debugger import (
        CollectionConfig,
        DebuggerHookConfig,
        ProfilerConfig,
        ProfilerRule,
        Rule,
        TensorBoardOutputConfig,
        rule_configs,
    )
    from sagemaker.pytorch import PyTorch

    PyTorch(
        entry_point="train.py",
        source_dir=ctx.source_dir,
        framework_version="2.0",
        py_version="py310",
        instance_count=1,
        instance_type="ml.g4dn.xlarge",
        code_location=f"s3://{BUCKET}/code",
        debugger_hook_config=DebuggerHookConfig(
            s3_output_path=f"s3://{BUCKET}/debug",
            hook_parameters={"save_interval": "100"},
            collection_configs=[CollectionConfig("losses", parameters={"save_interval": "10"})],
        ),
        rules=[
            Rule.sagemaker(rule_configs.loss_not_decreasing()),
            ProfilerRule.sagemaker(rule_configs.ProfilerReport()),
        ],
        profiler_config=ProfilerConfig(s3_output_path=f"s3://{BUCKET}/profiler", system_monitor_interval_millis=500),
        tensorboard_output_config=TensorBoardOutputConfig(
            s3_output_path=f"s3://{BUCKET}/tensorboard", container_local_output_path="/opt/ml/output/tensorboard"
        ),
        **ctx.common(),
    ).fit({"train": TRAIN}, wait=False)


def file_systems(ctx: _Context) -> None:
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import FileSystemInput

    Estimator(
        CUSTOM_IMAGE,
        instance_count=1,
        instance_type="ml.m5.xlarge",
        subnets=SUBNETS,
        security_group_ids=GROUPS,
        **ctx.common(),
    ).fit(
        {
            "efs": FileSystemInput("fs-0123456789abcdef0", "EFS", "/training", "ro"),
            "fsx": FileSystemInput("fs-0fedcba9876543210", "FSxLustre", "/fsx/cache", "rw"),
        },
        wait=False,
    )


def pipe_fastfile_manifests(ctx: _Context) -> None:
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput

    Estimator(CUSTOM_IMAGE, instance_count=1, instance_type="ml.m5.xlarge", input_mode="Pipe", **ctx.common()).fit(
        {
            "train": TrainingInput(
                f"s3://{BUCKET}/manifests/train.manifest",
                s3_data_type="AugmentedManifestFile",
                attribute_names=["source-ref", "label"],
                record_wrapping="RecordIO",
                content_type="application/x-recordio",
                distribution="ShardedByS3Key",
            ),
            "validation": TrainingInput(
                f"s3://{BUCKET}/manifests/validation.manifest", s3_data_type="ManifestFile", input_mode="FastFile"
            ),
        },
        wait=False,
    )


def heterogeneous_cluster(ctx: _Context) -> None:
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput
    from sagemaker.instance_group import InstanceGroup

    Estimator(
        CUSTOM_IMAGE,
        instance_groups=[
            InstanceGroup("data", "ml.c5.18xlarge", 2),
            InstanceGroup("dnn", "ml.p4d.24xlarge", 1),
        ],
        **ctx.common(),
    ).fit({"train": TrainingInput(TRAIN, instance_groups=["data"])}, wait=False)


def experiments_session_chaining(ctx: _Context) -> None:
    from sagemaker.estimator import Estimator

    Estimator(
        CUSTOM_IMAGE,
        instance_count=1,
        instance_type="ml.m5.xlarge",
        enable_session_tag_chaining=True,
        **ctx.common(),
    ).fit(
        {"train": TRAIN},
        wait=False,
        experiment_config={"ExperimentName": "churn", "TrialName": "churn-trial", "TrialComponentDisplayName": "train"},
    )


def remote_debug_infra_check(ctx: _Context) -> None:
    from sagemaker.estimator import Estimator

    Estimator(
        CUSTOM_IMAGE,
        instance_count=1,
        instance_type="ml.m5.xlarge",
        enable_remote_debug=True,
        enable_infra_check=True,
        **ctx.common(),
    ).fit({"train": TRAIN}, wait=False)


def private_registry(ctx: _Context) -> None:
    from sagemaker.estimator import Estimator

    Estimator(
        "registry.example.com/team/trainer:2.0",
        instance_count=1,
        instance_type="ml.m5.xlarge",
        subnets=SUBNETS,
        security_group_ids=GROUPS,
        training_repository_access_mode="Vpc",
        training_repository_credentials_provider_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:registry-credentials",
        **ctx.common(),
    ).fit({"train": TRAIN}, wait=False)


def entry_point_arguments(ctx: _Context) -> None:
    from sagemaker.estimator import Estimator

    Estimator(
        CUSTOM_IMAGE,
        instance_count=1,
        instance_type="ml.m5.xlarge",
        container_entry_point=["python", "-m", "trainer"],
        container_arguments=["--epochs", "3", "--lr", "0.01"],
        environment={"LOG_LEVEL": "debug"},
        **ctx.common(),
    ).fit({"train": TRAIN}, wait=False)


def _script_mode(ctx: _Context, estimator: Any, **props: Any) -> None:
    """A framework estimator on the recorded script, as users write it."""
    estimator(
        entry_point="train.py", source_dir=ctx.source_dir, code_location=f"s3://{BUCKET}/code", **props, **ctx.common()
    ).fit({"train": TRAIN}, wait=False)


def tensorflow_script_mode(ctx: _Context) -> None:
    from sagemaker.tensorflow import TensorFlow

    _script_mode(
        ctx,
        TensorFlow,
        framework_version="2.16",
        py_version="py310",
        instance_count=1,
        instance_type="ml.g5.xlarge",
        hyperparameters={"epochs": 3},
    )


def tensorflow_mpi(ctx: _Context) -> None:
    from sagemaker.tensorflow import TensorFlow

    _script_mode(
        ctx,
        TensorFlow,
        framework_version="2.16",
        py_version="py310",
        instance_count=2,
        instance_type="ml.p4d.24xlarge",
        distribution={"mpi": {"enabled": True, "processes_per_host": 8, "custom_mpi_options": ""}},
    )


def sklearn_script_mode(ctx: _Context) -> None:
    from sagemaker.sklearn import SKLearn

    _script_mode(
        ctx, SKLearn, framework_version="1.2-1", py_version="py3", instance_count=1, instance_type="ml.m5.xlarge"
    )


def xgboost_script_mode(ctx: _Context) -> None:
    from sagemaker.xgboost import XGBoost

    _script_mode(
        ctx,
        XGBoost,
        framework_version="1.7-1",
        py_version="py3",
        instance_count=1,
        instance_type="ml.m5.xlarge",
        hyperparameters={"num_round": 10},
    )


def pytorch_checkpoints(ctx: _Context) -> None:
    from sagemaker.pytorch import PyTorch

    _script_mode(
        ctx,
        PyTorch,
        framework_version="2.3.0",
        py_version="py311",
        instance_count=1,
        instance_type="ml.g5.xlarge",
        checkpoint_s3_uri=f"s3://{BUCKET}/checkpoints/",
        checkpoint_local_path="/opt/ml/checkpoints",
    )


def pytorch_checkpoint_uri_only(ctx: _Context) -> None:
    from sagemaker.pytorch import PyTorch

    _script_mode(
        ctx,
        PyTorch,
        framework_version="2.3.0",
        py_version="py311",
        instance_count=1,
        instance_type="ml.g5.xlarge",
        checkpoint_s3_uri=f"s3://{BUCKET}/checkpoints/",
    )


def pytorch_debugging_off(ctx: _Context) -> None:
    from sagemaker.pytorch import PyTorch

    _script_mode(
        ctx,
        PyTorch,
        framework_version="2.3.0",
        py_version="py311",
        instance_count=1,
        instance_type="ml.g5.xlarge",
        debugger_hook_config=False,
        disable_profiler=True,
    )


def pytorch_structured_hyperparameters(ctx: _Context) -> None:
    from sagemaker.pytorch import PyTorch

    _script_mode(
        ctx,
        PyTorch,
        framework_version="2.3.0",
        py_version="py311",
        instance_count=1,
        instance_type="ml.g5.xlarge",
        hyperparameters={
            "layers": [64, 32],
            "optimizer": {"name": "adam", "lr": 0.001},
            "seed": None,
            "name": "run-1",
            "epochs": 3,
            "lr": 0.001,
            "shuffle": True,
        },
    )


def pytorch_smdataparallel(ctx: _Context) -> None:
    from sagemaker.pytorch import PyTorch

    _script_mode(
        ctx,
        PyTorch,
        framework_version="2.2.0",
        py_version="py310",
        instance_count=2,
        instance_type="ml.p4d.24xlarge",
        distribution={"smdistributed": {"dataparallel": {"enabled": True}}},
    )


CASES: dict[str, Callable[[Any], None]] = {
    f.__name__: f
    for f in (
        builtin_xgboost,
        pytorch_script_mode,
        pytorch_distributed,
        huggingface,
        spot_checkpoints,
        vpc_isolated_encrypted,
        key_aliases,
        warm_pool_retries,
        debugger_profiler_tensorboard,
        file_systems,
        pipe_fastfile_manifests,
        heterogeneous_cluster,
        experiments_session_chaining,
        remote_debug_infra_check,
        private_registry,
        entry_point_arguments,
        tensorflow_script_mode,
        tensorflow_mpi,
        sklearn_script_mode,
        xgboost_script_mode,
        pytorch_checkpoints,
        pytorch_checkpoint_uri_only,
        pytorch_debugging_off,
        pytorch_structured_hyperparameters,
        pytorch_smdataparallel,
    )
}

if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "tests/sdk_requests"))
