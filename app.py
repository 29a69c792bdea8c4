#!/usr/bin/env python3
"""Example app: one training job on defaults plus a training image.

Synthesizes with no AWS account: account and region come from context
(``cdk.json``; override with ``-c account=... -c region=...``).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ecr as ecr
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from constructs_lib import TrainingImage, TrainingJob


class TrainingExampleStack(cdk.Stack):
    """A training job whose image lives in an existing ECR repository."""

    def __init__(self, scope: Construct, construct_id: str, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        repository = ecr.Repository.from_repository_name(self, "TrainingRepository", "my-training")
        job = TrainingJob(
            self,
            "Train",
            image=TrainingImage.from_ecr_repository(repository, "1.0"),
            hyperparameters={"epochs": 10, "learning_rate": 0.01, "early_stopping": True},
        )
        cdk.CfnOutput(self, "TrainingJobName", value=job.training_job_name)
        cdk.CfnOutput(self, "TrainingJobArn", value=job.training_job_arn)
        cdk.CfnOutput(self, "ModelArtifacts", value=job.model_artifacts_s3_uri)


def build_app(app: cdk.App | None = None) -> cdk.App:
    app = app or cdk.App()
    env = cdk.Environment(
        account=str(app.node.try_get_context("account") or "111111111111"),
        region=str(app.node.try_get_context("region") or "us-east-1"),
    )
    TrainingExampleStack(app, "TrainingExample", env=env)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


if __name__ == "__main__":
    build_app().synth()
