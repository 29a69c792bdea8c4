"""``make package-check``: the distribution as a user gets it.

Builds the wheel and the sdist, checks what they carry, installs the wheel into a fresh
virtualenv outside the repository with the oldest aws-cdk-lib the dependency range admits,
synthesizes a small app of three different jobs there, and runs ``mypy --strict`` over it (so
a file missing from the wheel, a dependency floor that is too low or a type the package does
not export fails CI).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

APP = '''\
"""Three jobs, as a user of the installed package writes them."""

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_s3 as s3

from constructs_lib import Channel, S3Location, TrainingImage, TrainingJob


def build(app: cdk.App) -> cdk.Stack:
    stack = cdk.Stack(app, "Training", env=cdk.Environment(account="111111111111", region="us-east-1"))
    repository = ecr.Repository.from_repository_name(stack, "Repository", "my-training")
    image = TrainingImage.from_ecr_repository(repository, "1.0")
    data = s3.Bucket.from_bucket_name(stack, "Data", "my-training-data")
    plain: TrainingJob = TrainingJob(stack, "Plain", image=image, hyperparameters={"epochs": 10})
    vpc = ec2.Vpc.from_vpc_attributes(
        stack,
        "Vpc",
        vpc_id="vpc-0123456789abcdef0",
        availability_zones=["us-east-1a", "us-east-1b"],
        private_subnet_ids=["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
    )
    TrainingJob(
        stack,
        "Distributed",
        image=image,
        inputs=[Channel("train", S3Location.from_bucket(data, "train/"))],
        instance_type="ml.c5.2xlarge",
        instance_count=2,
        vpc=vpc,
        max_runtime=cdk.Duration.hours(4),
    )
    TrainingJob(
        stack,
        "Spot",
        image=image,
        enable_managed_spot_training=True,
        max_runtime=cdk.Duration.hours(1),
        max_wait=cdk.Duration.hours(3),
        checkpoint=S3Location.from_bucket(data, "checkpoints/"),
    )
    artifacts: str = plain.model_artifacts_s3_uri
    cdk.CfnOutput(stack, "ModelArtifacts", value=artifacts)
    return stack


if __name__ == "__main__":
    application = cdk.App(outdir="cdk.out")
    build(application)
    application.synth()
'''


def run(*command: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    print("$", " ".join(command), flush=True)
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stdout[-3000:], done.stderr[-3000:], sep="\n")
        raise SystemExit(f"failed: {' '.join(command)}")
    return done.stdout


def floor_of(requirement: str) -> str:
    """``aws-cdk-lib>=X,<3`` -> ``X``."""
    found = re.search(r">=\s*([0-9.]+)", requirement)
    if not found:
        raise SystemExit(f"no floor in {requirement!r}")
    return found.group(1)


def main() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (cdk_requirement,) = [d for d in project["dependencies"] if d.startswith("aws-cdk-lib")]
    floor = floor_of(cdk_requirement)
    with tempfile.TemporaryDirectory(prefix="package-check-") as folder:
        work = Path(folder)
        dist = work / "dist"
        run(sys.executable, "-m", "build", "--no-isolation", "--wheel", "--sdist", "--outdir", str(dist), cwd=ROOT)
        (wheel,) = dist.glob("*.whl")
        (sdist,) = dist.glob("*.tar.gz")
        names = set(zipfile.ZipFile(wheel).namelist())
        for needed in ("constructs_lib/py.typed", "constructs_lib/_handler/training_job/index.py"):
            assert needed in names, f"{needed} is missing from {wheel.name}"
        metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        assert re.search(rf"^Requires-Dist: aws-cdk-lib[<>=0-9.,]*>={re.escape(floor)}[^;]*$", metadata, re.M), metadata
        assert "Classifier: Typing :: Typed" in metadata and "License-Expression: MIT" in metadata
        with tarfile.open(sdist) as archive:
            members = {m.name.split("/", 1)[1] for m in archive.getmembers() if "/" in m.name}
        for needed in ("lambda/training_job/index.py", "constructs_lib/py.typed", "LICENSE", "PYPI.md"):
            assert needed in members, f"{needed} is missing from {sdist.name}"
        print(f"{wheel.name} and {sdist.name} carry the handler, py.typed and the metadata")

        venv = work / "venv"
        run(sys.executable, "-m", "venv", str(venv))
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        run(*pip, str(wheel), f"aws-cdk-lib=={floor}", "mypy>=1.15")
        app = work / "app"
        app.mkdir()
        (app / "app.py").write_text(APP)
        env = {
            **os.environ,
            "PATH": f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ['PATH']}",
            "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
        }
        run(str(venv / "bin" / "python"), "app.py", cwd=app, env=env)
        template = json.loads((app / "cdk.out" / "Training.template.json").read_text())
        jobs = [r for r in template["Resources"].values() if r["Type"] == "Custom::SageMakerTrainingJob"]
        assert len(jobs) == 3, f"expected 3 training jobs, found {len(jobs)}"
        handlers = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
        assert len(handlers) == 1 and handlers[0]["Properties"]["Runtime"].startswith("python")
        print(f"synthesized 3 jobs with aws-cdk-lib {floor} from the installed wheel")
        run(str(venv / "bin" / "mypy"), "--strict", "app.py", cwd=app, env=env)
        print("mypy --strict: the app type-checks against the installed package")


if __name__ == "__main__":
    main()
