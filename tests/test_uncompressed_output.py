"""With OutputDataConfig.CompressionType NONE, SageMaker uploads the model's files uncompressed under
``<output>/<job name>/output/model/`` (API reference, OutputDataConfig): the grants follow."""

from __future__ import annotations

from typing import cast

import aws_cdk as cdk
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam

from constructs_lib import OutputCompressionType, S3Location, TrainingImage, TrainingJob
from constructs_lib.training_job_base import TrainingJobBase
from tests.stacks import grants, resources, template

ENV = cdk.Environment(account="111111111111", region="us-east-1")


def _reader_grants(compression: OutputCompressionType | None) -> set[tuple[str, str]]:
    stack = cdk.Stack(cdk.App(), "Models", env=ENV)
    repo = ecr.Repository.from_repository_name(stack, "Repo", "trainer")
    job = cast(
        TrainingJobBase,
        TrainingJob.from_training_job_attributes(
            stack, "Imported", training_job_name="train-1", output=S3Location.from_uri("s3://models/out/")
        ),
    )
    if compression is not None:
        job = TrainingJob(
            stack,
            "Job",
            image=TrainingImage.from_ecr_repository(repo),
            output=S3Location.from_uri("s3://models/out/"),
            output_compression=compression,
        )
    reader = iam.Role(stack, "Reader", assumed_by=iam.AccountRootPrincipal())
    job.grant_read_model_artifacts(reader)
    tmpl = template(stack)
    return grants(tmpl, next(k for k in resources(tmpl, "AWS::IAM::Role") if k.startswith("Reader")))


def test_compressed_models_are_read_as_model_tar_gz_and_uncompressed_ones_below_output_model() -> None:
    assert _reader_grants(None) == {("s3:GetObject", "arn:aws:s3:::models/out/train-1/output/model.tar.gz")}
    uncompressed = _reader_grants(OutputCompressionType.NONE)
    (objects,) = [r for a, r in uncompressed if a == "s3:GetObject"]
    assert objects.startswith("arn:aws:s3:::models/out/") and objects.endswith("/output/model/*")
    assert ("s3:ListBucket", "arn:aws:s3:::models") in uncompressed
    assert not any(r.endswith("model.tar.gz") for _, r in uncompressed)
