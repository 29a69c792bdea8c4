"""The app the end-to-end test deploys: a job on 2 instances in a VPC, reading from a data
bucket of the stack. The VPC is the stack's own, or an existing one when the context names
it (vpc_id, subnet_ids, azs)."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_s3 as s3

from constructs_lib import Channel, S3Location, TrainingImage, TrainingJob


def main() -> None:
    app = cdk.App()
    env = cdk.Environment(account=app.node.try_get_context("account"), region=app.node.try_get_context("region"))
    stack = cdk.Stack(app, app.node.try_get_context("stack_name") or "VpcTraining", env=env)
    vpc_id = app.node.try_get_context("vpc_id")
    if vpc_id:
        vpc = ec2.Vpc.from_vpc_attributes(
            stack,
            "Vpc",
            vpc_id=vpc_id,
            availability_zones=app.node.get_context("azs").split(","),
            private_subnet_ids=app.node.get_context("subnet_ids").split(","),
        )
    else:
        vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=1)
    data = s3.Bucket(
        stack,
        "Data",
        encryption=s3.BucketEncryption.S3_MANAGED,
        enforce_ssl=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        removal_policy=cdk.RemovalPolicy.RETAIN,
    )
    repository = ecr.Repository.from_repository_name(stack, "Repository", "trainer")
    job = TrainingJob(
        stack,
        "Distributed",
        image=TrainingImage.from_ecr_repository(repository, "1.0"),
        inputs=[Channel("train", S3Location.from_bucket(data, "train/"))],
        instance_type="ml.c5.2xlarge",
        instance_count=2,
        vpc=vpc,
    )
    cdk.CfnOutput(stack, "TrainingJobName", value=job.training_job_name)
    cdk.CfnOutput(stack, "TrainingJobArn", value=job.training_job_arn)
    cdk.CfnOutput(stack, "ModelArtifacts", value=job.model_artifacts_s3_uri)
    app.synth()


if __name__ == "__main__":
    main()
