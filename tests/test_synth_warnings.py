"""Warnings a user needs before deploying: a fixed job name, a volume key left out for NVMe types."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import assertions
from aws_cdk import aws_ecr as ecr

from constructs_lib import TrainingImage, TrainingJob

ENV = cdk.Environment(account="111111111111", region="us-east-1")


def _warnings(**props: object) -> list[str]:
    stack = cdk.Stack(cdk.App(), "Warned", env=ENV)
    repo = ecr.Repository.from_repository_name(stack, "Repo", "trainer")
    TrainingJob(stack, "Job", image=TrainingImage.from_ecr_repository(repo), **props)  # type: ignore[arg-type]
    found = assertions.Annotations.from_stack(stack).find_warning("*", assertions.Match.any_value())
    return [str(w.entry.data) for w in found]


def test_a_fixed_name_warns_that_a_later_replacement_cannot_deploy() -> None:
    (warning,) = [w for w in _warnings(training_job_name="nightly") if "training_job_name" in w]
    assert "'nightly' is fixed" in warning and "cannot deploy" in warning
    assert not [w for w in _warnings() if "training_job_name" in w]


def test_a_volume_key_left_out_for_nvme_storage_is_said() -> None:
    (warning,) = [w for w in _warnings(instance_type="ml.g5.xlarge") if "encrypt_volume" in w]
    assert "ml.g5.xlarge has local NVMe storage" in warning
    assert not [w for w in _warnings(instance_type="ml.m5.xlarge") if "encrypt_volume" in w]
    assert not [w for w in _warnings(instance_type="ml.g5.xlarge", encrypt_volume=False) if "encrypt_volume" in w]
