"""Debugger, Profiler and TensorBoard output: rendered as the API has them, and the role may write
exactly there (the job otherwise fails at run time with AccessDenied after deploying)."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from constructs_lib import (
    DebugHookConfig,
    ProfilerConfig,
    RuleConfiguration,
    S3Location,
    TensorBoardOutput,
    TrainingImage,
    TrainingJob,
    TrainingJobValidationError,
)
from tests.stacks import as_list, grants, only, resources, statements, template
from tools.intrinsics import resolve_intrinsics
from tools.summary import request_of

ACCOUNT, REGION = "111111111111", "us-east-1"
RULES_IMAGE = "503895931360.dkr.ecr.us-east-1.amazonaws.com/sagemaker-debugger-rules:latest"


def _stack() -> tuple[cdk.Stack, ecr.IRepository, s3.IBucket]:
    stack = cdk.Stack(cdk.App(), "Debugged", env=cdk.Environment(account=ACCOUNT, region=REGION))
    return (
        stack,
        ecr.Repository.from_repository_name(stack, "Repo", "trainer"),
        s3.Bucket.from_bucket_name(stack, "Insights", "team-insights"),
    )


def test_every_output_is_rendered_and_writable_by_the_role_and_nothing_more() -> None:
    stack, repo, bucket = _stack()
    key = kms.Key.from_key_arn(stack, "Key", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab")
    TrainingJob(
        stack,
        "Job",
        image=TrainingImage.from_ecr_repository(repo),
        debug_hook=DebugHookConfig(
            S3Location.from_bucket(bucket, "debug/"),
            hook_parameters={"save_interval": "100"},
            collections={"losses": {}},
        ),
        debug_rules=[
            RuleConfiguration(
                "LossNotDecreasing",
                RULES_IMAGE,
                rule_parameters={"rule_to_invoke": "LossNotDecreasing"},
                s3_output=S3Location.from_bucket(bucket, "rules/"),
            )
        ],
        profiler=ProfilerConfig(
            S3Location.from_bucket(bucket, "profiler/", encryption_key=key), profiling_interval=cdk.Duration.millis(500)
        ),
        profiler_rules=[
            RuleConfiguration("ProfilerReport", RULES_IMAGE, rule_parameters={"rule_to_invoke": "ProfilerReport"})
        ],
        tensor_board_output=TensorBoardOutput(S3Location.from_bucket(bucket, "tensorboard/"), local_path="/opt/ml/tb"),
    )
    tmpl = template(stack)
    _, resource = only(tmpl, "Custom::SageMakerTrainingJob")
    request = request_of(resource["Properties"])
    assert request["DebugHookConfig"] == {
        "S3OutputPath": "s3://team-insights/debug/",
        "HookParameters": {"save_interval": "100"},
        "CollectionConfigurations": [{"CollectionName": "losses"}],
    }
    assert request["DebugRuleConfigurations"] == [
        {
            "RuleConfigurationName": "LossNotDecreasing",
            "RuleEvaluatorImage": RULES_IMAGE,
            "S3OutputPath": "s3://team-insights/rules/",
            "RuleParameters": {"rule_to_invoke": "LossNotDecreasing"},
        }
    ]
    assert request["ProfilerConfig"] == {
        "S3OutputPath": "s3://team-insights/profiler/",
        "ProfilingIntervalInMilliseconds": 500,
    }
    assert request["ProfilerRuleConfigurations"][0]["RuleConfigurationName"] == "ProfilerReport"
    assert request["TensorBoardOutputConfig"] == {
        "S3OutputPath": "s3://team-insights/tensorboard/",
        "LocalPath": "/opt/ml/tb",
    }

    role = next(k for k in resources(tmpl, "AWS::IAM::Role") if k.startswith("JobRole"))
    insights = {(a, r) for a, r in grants(tmpl, role) if "team-insights" in r or a.startswith("kms:")}
    objects = [f"arn:aws:s3:::team-insights/{p}/*" for p in ("debug", "rules", "profiler", "tensorboard")]
    key_arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    expected = {(a, o) for o in objects for a in ("s3:PutObject", "s3:AbortMultipartUpload")}
    expected |= {("kms:GenerateDataKey", key_arn), ("kms:Decrypt", key_arn), ("kms:Encrypt", key_arn)}
    # The rule evaluations (processing jobs with the job's role) read what they analyze: the debug
    # hook's output for debug rules, the profiler's for profiler rules; nothing else is read.
    expected |= {(a, f"arn:aws:s3:::team-insights/{p}/*") for p in ("debug", "profiler") for a in ("s3:GetObject",)}
    expected |= {("s3:ListBucket", "arn:aws:s3:::team-insights")}
    assert {p for p in insights if not p[1].startswith("arn:aws:kms:us-east-1:111111111111:key/sagemaker")} == expected
    # The rule evaluations are processing jobs with this role: its trust admits them beside the job's own.
    (trust,) = tmpl["Resources"][role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    sources = trust["Condition"]["ArnLike"]["aws:SourceArn"]
    resolved = [s.split(":", 5)[-1] for s in resolve_intrinsics(sources, tmpl)]
    assert len(resolved) == 2 and resolved[0].startswith("training-job/") and resolved[1] == "processing-job/*"
    listing = [s for s in statements(tmpl, role) if "s3:ListBucket" in as_list(s["Action"])]
    prefixes = {p for s in listing for p in as_list(s["Condition"]["StringLike"]["s3:prefix"])}
    assert {"debug/*", "profiler/*"} <= prefixes


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        (
            {"debug_hook": "s3://bucket/debug/"},
            r"debug_hook \(DebugHookConfig\): got 's3://bucket/debug/'; a DebugHookConfig",
        ),
        ({"tensor_board_output": "s3://x/"}, r"tensor_board_output \(TensorBoardOutputConfig\): got 's3://x/'"),
        (
            {"debug_rules": ["LossNotDecreasing"]},
            r"debug_rules \(DebugRuleConfigurations\): .*a list of RuleConfiguration",
        ),
    ],
)
def test_wrong_types_name_the_member(props: dict[str, object], expected: str) -> None:
    stack, repo, _ = _stack()
    with pytest.raises(TrainingJobValidationError, match=expected):
        TrainingJob(stack, "Job", image=TrainingImage.from_ecr_repository(repo), **props)  # type: ignore[arg-type]


def test_a_rule_name_the_api_refuses_fails_at_synth() -> None:
    stack, repo, _ = _stack()
    with pytest.raises(TrainingJobValidationError, match=r"DebugRuleConfigurations\[0\].RuleConfigurationName"):
        TrainingJob(
            stack,
            "Job",
            image=TrainingImage.from_ecr_repository(repo),
            debug_rules=[RuleConfiguration("", RULES_IMAGE)],
        )
