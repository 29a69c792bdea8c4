"""What the job does at run time with its role, as AWS documents it: the data a manifest names,
an MLflow app or tracking server and its artifact store."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import assertions
from aws_cdk import aws_ecr as ecr

from constructs_lib import Channel, MlflowConfig, S3DataType, S3Location, TrainingImage, TrainingJob
from tests.stacks import grants, resources, template

ENV = cdk.Environment(account="111111111111", region="us-east-1")
APP = "arn:aws:sagemaker:us-east-1:111111111111:mlflow-app/app-1234"
SERVER = "arn:aws:sagemaker:us-east-1:111111111111:mlflow-tracking-server/main"


def _job(stack: cdk.Stack, construct_id: str, **props: object) -> TrainingJob:
    repo = ecr.Repository.from_repository_name(stack, f"{construct_id}Repo", "trainer")
    return TrainingJob(stack, construct_id, image=TrainingImage.from_ecr_repository(repo), **props)  # type: ignore[arg-type]


def _role(tmpl: dict, construct_id: str) -> str:
    return next(k for k in resources(tmpl, "AWS::IAM::Role") if k.startswith(f"{construct_id}Role"))


def test_a_manifest_channel_warns_unless_the_data_it_names_is_given_and_then_grants_it() -> None:
    stack = cdk.Stack(cdk.App(), "Manifests", env=ENV)
    manifest = S3Location.from_uri("s3://labels/manifests/train.manifest")
    _job(stack, "Bare", inputs=[Channel("train", manifest, s3_data_type=S3DataType.AUGMENTED_MANIFEST_FILE)])
    _job(
        stack,
        "Given",
        inputs=[
            Channel(
                "train",
                manifest,
                s3_data_type=S3DataType.MANIFEST_FILE,
                manifest_data=[S3Location.from_uri("s3://images/raw/")],
            )
        ],
    )
    annotations = assertions.Annotations.from_stack(stack)
    warnings = annotations.find_warning("*", assertions.Match.string_like_regexp("manifest"))
    assert [w.id for w in warnings] == ["/Manifests/Bare"]
    assert "the role may read the manifest only" in str(warnings[0].entry.data)
    tmpl = template(stack)
    bare, given = grants(tmpl, _role(tmpl, "Bare")), grants(tmpl, _role(tmpl, "Given"))
    assert ("s3:GetObject", "arn:aws:s3:::images/raw/*") in given
    assert ("s3:GetObject", "arn:aws:s3:::labels/manifests/train.manifest*") in given
    assert not any("images" in r for _, r in bare)


def test_an_mlflow_app_is_called_through_call_mlflow_app_api_and_a_server_through_sagemaker_mlflow() -> None:
    stack = cdk.Stack(cdk.App(), "Mlflow", env=ENV)
    store = S3Location.from_uri("s3://mlflow-artifacts/team/")
    _job(stack, "OnApp", mlflow=MlflowConfig(APP))
    _job(stack, "OnServer", mlflow=MlflowConfig(SERVER, artifact_store=store))
    tmpl = template(stack)
    on_app, on_server = grants(tmpl, _role(tmpl, "OnApp")), grants(tmpl, _role(tmpl, "OnServer"))
    # SAR: sagemaker-mlflow actions document only the mlflow-tracking-server resource type;
    # an mlflow-app is called through sagemaker:CallMlflowAppApi.
    assert {(a, r) for a, r in on_app if r == APP} == {("sagemaker:CallMlflowAppApi", APP)}
    assert {a for a, r in on_server if r == SERVER} >= {"sagemaker-mlflow:LogMetric", "sagemaker-mlflow:CreateRun"}
    assert not any(a == "sagemaker:CallMlflowAppApi" for a, _ in on_server)
    # Artifacts go straight to the server's store, with the job's role.
    assert {a for a, r in on_server if r == "arn:aws:s3:::mlflow-artifacts/team/*"} == {
        "s3:GetObject",
        "s3:PutObject",
        "s3:AbortMultipartUpload",
    }
    assert not any("mlflow-artifacts" in r for _, r in on_app)
