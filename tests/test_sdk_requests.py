"""Requests the SageMaker Python SDK really sends (recorded by tools/sdk_requests.py), given to
``from_cli_input_json``: every member lands on a typed prop (no override, no override warning),
the handler sends SageMaker the SDK's request (key ids and aliases as ARNs), and the job's role
reaches every S3 location, key and function the request names with the action the job needs."""

from __future__ import annotations

import copy
import fnmatch
import json
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import assertions
from constructs import Construct

from constructs_lib import TrainingJob
from constructs_lib.cli_input import props_from_cli_input
from constructs_lib.script_mode import code_location
from tests.handler_support import as_cloudformation_delivers
from tests.stacks import as_list, only, resources
from tools.intrinsics import resolve_intrinsics
from tools.summary import request_of

CORPUS = Path(__file__).parent / "sdk_requests"
CASES = sorted(p.stem for p in CORPUS.glob("*.json"))
ACCOUNT, REGION = "123456789012", "us-east-1"
ROLE_NAME = "SageMakerTraining"


def _doc(name: str) -> dict[str, Any]:
    return json.loads((CORPUS / f"{name}.json").read_text())  # type: ignore[no-any-return]


@cache
def _app() -> cdk.App:
    return cdk.App()


@cache
def _synth(name: str) -> tuple[dict[str, Any], list[str]]:
    """The template of a stack holding the SDK's job, and the warnings synth raised."""
    stack = cdk.Stack(_app(), name.replace("_", "-"), env=cdk.Environment(account=ACCOUNT, region=REGION))
    TrainingJob.from_cli_input_json(stack, "Job", _doc(name))
    annotations = assertions.Annotations.from_stack(stack)
    warnings = [str(w.entry.data) for w in annotations.find_warning("*", assertions.Match.any_value())]
    return dict(assertions.Template.from_stack(stack).to_json()), warnings


def _kms_arn(key: str) -> str:
    if key.startswith("arn:"):
        return key
    kind = "alias" if key.startswith("alias/") else "key"
    return f"arn:aws:kms:{REGION}:{ACCOUNT}:{kind}/{key.removeprefix('alias/')}"


@pytest.fixture(scope="module")
def handler(handler_module: ModuleType) -> ModuleType:
    return handler_module


def test_the_corpus_covers_the_cases_the_issue_names() -> None:
    assert len(CASES) >= 16
    members = set().union(*(_doc(name) for name in CASES))
    for member in (
        "CheckpointConfig",
        "DebugHookConfig",
        "DebugRuleConfigurations",
        "ExperimentConfig",
        "InfraCheckConfig",
        "ProfilerRuleConfigurations",
        "RemoteDebugConfig",
        "RetryStrategy",
        "SessionChainingConfig",
        "TensorBoardOutputConfig",
        "VpcConfig",
    ):
        assert member in members


@pytest.mark.parametrize("name", CASES)
def test_every_member_has_a_typed_prop(name: str) -> None:
    scope = Construct(cdk.Stack(_app(), f"Props-{name.replace('_', '-')}"), "Imports")
    props = props_from_cli_input(scope, _doc(name))
    assert "overrides" not in props
    _, warnings = _synth(name)
    assert not [w for w in warnings if "override" in w], warnings


@pytest.mark.parametrize("name", CASES)
def test_the_handler_sends_the_sdks_request(name: str, handler: ModuleType) -> None:
    template, _ = _synth(name)
    _, resource = only(template, "Custom::SageMakerTrainingJob")
    delivered = as_cloudformation_delivers(resolve_intrinsics(request_of(resource["Properties"]), template))
    sent = handler.coerce_request(delivered)
    sent.pop("Tags", None)  # the stack's tags (none here); the handler adds its identity tags
    expected = copy.deepcopy(_doc(name))
    assert resource["Properties"]["TrainingJobName"] == expected.pop("TrainingJobName")
    for section, member in (("OutputDataConfig", "KmsKeyId"), ("ResourceConfig", "VolumeKmsKeyId")):
        if member in expected.get(section, {}):
            expected[section][member] = _kms_arn(expected[section][member])
    assert sent == expected


def _allowed(template: dict[str, Any], action: str, resource: str) -> bool:
    """Whether some statement attached to the imported role allows ``action`` on ``resource``
    (conditions aside: they narrow how, not what)."""
    for policy in resources(template, "AWS::IAM::Policy").values():
        if ROLE_NAME not in policy["Properties"]["Roles"]:
            continue
        for statement in resolve_intrinsics(policy["Properties"]["PolicyDocument"]["Statement"], template):
            if action in as_list(statement["Action"]) and any(
                fnmatch.fnmatchcase(resource, pattern) for pattern in as_list(statement["Resource"])
            ):
                return True
    return False


def _object(uri: str, name: str = "object") -> str:
    return "arn:aws:s3:::" + uri.removeprefix("s3://").rstrip("/") + f"/{name}"


def _needs(request: dict[str, Any]) -> list[tuple[str, str]]:
    """(action, resource) the job needs for what its request names."""
    needs: list[tuple[str, str]] = []
    for channel in request.get("InputDataConfig", []):
        source = channel["DataSource"].get("S3DataSource")
        if source:
            uri = source["S3Uri"]
            needs.append(("s3:GetObject", _object(uri) if uri.endswith("/") else "arn:aws:s3:::" + uri[5:]))
    written = [request["OutputDataConfig"]["S3OutputPath"]]
    written += [request[m]["S3OutputPath"] for m in ("DebugHookConfig", "TensorBoardOutputConfig") if m in request]
    written += (
        [request["ProfilerConfig"]["S3OutputPath"]] if "S3OutputPath" in request.get("ProfilerConfig", {}) else []
    )
    for member in ("DebugRuleConfigurations", "ProfilerRuleConfigurations"):
        written += [rule["S3OutputPath"] for rule in request.get(member, []) if "S3OutputPath" in rule]
    needs += [("s3:PutObject", _object(uri)) for uri in written]
    if "CheckpointConfig" in request:
        uri = request["CheckpointConfig"]["S3Uri"]
        needs += [("s3:GetObject", _object(uri)), ("s3:PutObject", _object(uri))]
    code = code_location(request.get("HyperParameters", {}))
    if code is not None:
        needs.append(("s3:GetObject", f"arn:aws:s3:::{code.bucket_name}/{code.key_prefix}"))
    auth = request["AlgorithmSpecification"].get("TrainingImageConfig", {}).get("TrainingRepositoryAuthConfig")
    if auth:
        needs.append(("lambda:InvokeFunction", auth["TrainingRepositoryCredentialsProviderArn"]))
    return needs


def _key_needs(request: dict[str, Any]) -> list[tuple[str, str]]:
    keys = []
    if "KmsKeyId" in request["OutputDataConfig"]:
        keys.append(("kms:GenerateDataKey", _kms_arn(request["OutputDataConfig"]["KmsKeyId"])))
    if "VolumeKmsKeyId" in request.get("ResourceConfig", {}):
        keys.append(("kms:CreateGrant", _kms_arn(request["ResourceConfig"]["VolumeKmsKeyId"])))
    return keys


@pytest.mark.parametrize("name", CASES)
def test_the_role_reaches_everything_the_request_names(name: str) -> None:
    template, _ = _synth(name)
    request = _doc(name)
    missing = [need for need in _needs(request) if not _allowed(template, *need)]
    for action, key_arn in _key_needs(request):
        # A key given by alias is granted on the account's keys that carry it (kms:ResourceAliases).
        target = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/any" if ":alias/" in key_arn else key_arn
        if not _allowed(template, action, target):
            missing.append((action, key_arn))
    assert missing == []


def test_a_script_mode_request_lets_the_role_read_exactly_its_code() -> None:
    template, _ = _synth("pytorch_script_mode")
    code = code_location(_doc("pytorch_script_mode")["HyperParameters"])
    assert code is not None
    assert _allowed(template, "s3:GetObject", f"arn:aws:s3:::{code.bucket_name}/{code.key_prefix}")
    assert not _allowed(template, "s3:GetObject", f"arn:aws:s3:::{code.bucket_name}/code/other-job/sourcedir.tar.gz")
    assert not _allowed(template, "s3:PutObject", f"arn:aws:s3:::{code.bucket_name}/{code.key_prefix}")
