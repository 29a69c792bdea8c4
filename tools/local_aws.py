"""``make local`` and the end-to-end test: the emulated deployment of ``constructs_lib.local``
(moto on loopback, the real CDK CLI), run from the repository with its own CDK CLI.

``python -m tools.local_aws demo`` deploys the example app; ``python -m tools.local_aws serve PORT``
starts the emulator only.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from constructs_lib import local
from constructs_lib.local import (
    ACCOUNT,
    REGION,
    free_port,
    local_environment,
    refuse_unless_local,
    run_python_function,
    serve,
)

__all__ = [
    "ACCOUNT",
    "REGION",
    "LocalAws",
    "demo",
    "free_port",
    "local_environment",
    "refuse_unless_local",
    "run_python_function",
    "script_mode",
    "serve",
]

ROOT = Path(__file__).resolve().parent.parent


class LocalAws(local.LocalAws):
    """``constructs_lib.local.LocalAws`` run in the repository with its CDK CLI (node_modules)."""

    def __init__(self) -> None:
        super().__init__(cdk=ROOT / "node_modules" / ".bin" / "cdk", cwd=ROOT)


def demo() -> None:
    """``make local``: bootstrap, deploy the example app, show the job, destroy, show what stays."""
    with LocalAws() as aws:
        print(f"local AWS on {aws.endpoint} (moto); CDK CLI from node_modules")
        aws.bootstrap()
        print("cdk bootstrap: done")
        outputs = aws.deploy("TrainingExample")
        print("cdk deploy TrainingExample: done\n\nstack outputs:")
        for key, value in sorted(outputs.items()):
            print(f"  {key}: {value}")
        job = aws.client("sagemaker").describe_training_job(TrainingJobName=outputs["TrainingJobName"])
        print("\ntraining job, as the emulated SageMaker describes it:")
        print(f"  name: {job['TrainingJobName']}\n  status: {job['TrainingJobStatus']}\n  role: {job['RoleArn']}")
        for channel in job.get("InputDataConfig", []):
            print(f"  input {channel['ChannelName']}: {channel['DataSource']['S3DataSource']['S3Uri']}")
        print(f"  output: {job['OutputDataConfig']['S3OutputPath']} (KMS {job['OutputDataConfig'].get('KmsKeyId')})")
        print(f"  volume KMS key: {job['ResourceConfig'].get('VolumeKmsKeyId')}")
        print(f"  VPC: {job.get('VpcConfig', 'none')}")
        aws.destroy("TrainingExample")
        buckets = [b["Name"] for b in aws.client("s3").list_buckets()["Buckets"] if "trainingstorage" in b["Name"]]
        keys = aws.client("kms").list_keys()["Keys"]
        print(f"\ncdk destroy TrainingExample: done; retained buckets: {buckets}; retained KMS keys: {len(keys)}")
        script_mode(aws)
    print("local AWS stopped")


def script_mode(aws: LocalAws) -> None:
    """The script-mode example: code and data uploaded as assets, the job followed by the watch command."""
    from constructs_lib import watch

    outputs = aws.deploy("ScriptModeExample")
    job = aws.client("sagemaker").describe_training_job(TrainingJobName=outputs["TrainingJobName"])
    print("\ncdk deploy ScriptModeExample: done (code and data uploaded as assets)")
    print(f"  image: {job['AlgorithmSpecification']['TrainingImage']}")
    print(f"  code: {json.loads(job['HyperParameters']['sagemaker_submit_directory'])}")
    for channel in job.get("InputDataConfig", []):
        print(f"  input {channel['ChannelName']}: {channel['DataSource']['S3DataSource']['S3Uri']}")
    print("\npython -m constructs_lib.watch ScriptModeExample:")
    session = type(
        "Session", (), {"create_client": lambda _, service, region_name=None, config=None: aws.client(service)}
    )()
    code = watch.main(["ScriptModeExample", "--interval", "1"], session=session)
    print(f"watch exited with {code}")
    aws.destroy("ScriptModeExample")
    print("cdk destroy ScriptModeExample: done")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        refuse_unless_local(os.environ)
        serve(int(sys.argv[2]))
    elif len(sys.argv) == 2 and sys.argv[1] == "demo":
        refuse_unless_local(os.environ)
        demo()
    else:
        raise SystemExit("usage: python -m tools.local_aws serve PORT | demo")
