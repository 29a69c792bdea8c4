"""The library's cdk-nag acknowledgments are visible to an auditor (#21.17): cdk-nag 3 drops an
acknowledged finding before CDK's validation report (no ``suppressedViolations`` entry), so they are
listed by ``constructs_lib.nag.acknowledgments`` and, with ``write_suppressions_to_cloud_formation``,
written into the template's ``Metadata.cdk_nag``."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from app import build_app
from constructs_lib.nag import REGULATED_PACKS, acknowledgments
from tests.stacks import stack_of


def test_every_acknowledgment_is_listed_with_its_construct_and_reason() -> None:
    found = acknowledgments(stack_of("example"))
    assert found and all(a.reason.strip() and a.construct_path.startswith("TrainingExample/") for a in found)
    assert all(a.rule_id.startswith(("AwsSolutions-", *REGULATED_PACKS)) for a in found)
    handler_role = [a for a in found if a.construct_path == "TrainingExample/SageMakerTrainingJobProvider/Role"]
    assert "AwsSolutions-IAM5[Resource::*]" in {a.rule_id for a in handler_role}
    assert "ListTrainingJobs" in next(a.reason for a in handler_role if a.rule_id == "AwsSolutions-IAM5[Resource::*]")


def _metadata(template: Mapping[str, Any]) -> dict[str, list[dict[str, str]]]:
    return {
        logical_id: resource["Metadata"]["cdk_nag"]["rules_to_suppress"]
        for logical_id, resource in template["Resources"].items()
        if "cdk_nag" in resource.get("Metadata", {})
    }


def test_the_example_app_writes_each_acknowledgment_into_its_templates() -> None:
    with tempfile.TemporaryDirectory() as outdir:
        app = build_app(cdk.App(outdir=outdir))
        template = app.synth().get_stack_by_name("TrainingExample").template
    written = _metadata(template)
    (handler_role,) = [
        k
        for k in written
        if k.startswith("SageMakerTrainingJobProviderRole") and template["Resources"][k]["Type"] == "AWS::IAM::Role"
    ]
    rules = {rule["id"]: rule["reason"] for rule in written[handler_role]}
    assert "ListTrainingJobs" in rules["AwsSolutions-IAM5[Resource::*]"]
    # Every acknowledgment on a construct reaches the resources below it.
    listed = {a.rule_id for a in acknowledgments(app.node.find_child("TrainingExample"))}
    assert listed == {rule["id"] for rules_ in written.values() for rule in rules_}


def test_without_the_option_the_templates_are_unchanged() -> None:
    app = cdk.App()
    stack = stack_of("example")
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    assert _metadata(cdk.assertions.Template.from_stack(stack).to_json()) == {}
