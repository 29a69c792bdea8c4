"""Training again on new data with an unchanged request (#21.20): ``run_trigger`` is a resource
property whose change starts a new job; without it, nothing about a job's identity changes."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ecr as ecr

from constructs_lib import TrainingImage, TrainingJob, TrainingJobValidationError
from tests.handler_support import handler, props
from tests.stacks import only, template

ENV = cdk.Environment(account="111111111111", region="us-east-1")


def _job(run_trigger: Any = None, *, gated: bool = False, stack: cdk.Stack | None = None) -> dict[str, Any]:
    stack = stack or cdk.Stack(cdk.App(), "Retrain", env=ENV)
    repo = ecr.Repository.from_repository_name(stack, "Repo", "trainer")
    extra: dict[str, Any] = {"run_trigger": run_trigger} if run_trigger is not None else {}
    if gated:
        extra.update(wait_for_completion=cdk.Duration.hours(3), max_runtime=cdk.Duration.hours(2))
    TrainingJob(stack, "Job", image=TrainingImage.from_ecr_repository(repo), **extra)
    _, job = only(template(stack), "Custom::SageMakerTrainingJob")
    return job["Properties"]  # type: ignore[no-any-return]


def _spec(properties: dict[str, Any]) -> str:
    return handler.parse_props(json.loads(json.dumps(properties, default=str))).spec_hash()  # type: ignore[no-any-return]


def test_the_trigger_is_a_resource_property_and_absent_by_default() -> None:
    assert "RunTrigger" not in _job()
    properties = _job("data-2026-12-01")
    assert properties["RunTrigger"] == "data-2026-12-01"
    assert properties["Request"] == _job()["Request"]


def test_a_changed_trigger_is_a_new_job_and_a_new_gate_and_the_same_one_is_not() -> None:
    first, again, second = (_job(t, gated=True) for t in ("v1", "v1", "v2"))
    assert (first["GateId"], _spec(first)) == (again["GateId"], _spec(again))
    assert first["GateId"] != second["GateId"] and _spec(first) != _spec(second)
    untriggered = _job(gated=True)
    assert untriggered["GateId"] not in (first["GateId"], second["GateId"])


def test_without_a_trigger_the_spec_of_existing_jobs_is_unchanged() -> None:
    """A job started before run_trigger existed keeps its spec: no deployment replaces it."""
    parsed = handler.parse_props(props())
    assert "trigger" not in parsed.immutable() and parsed.run_trigger is None
    assert handler.parse_props(props(RunTrigger="v1")).immutable()["trigger"] == "v1"


def test_a_deploy_time_trigger_is_passed_as_its_reference() -> None:
    stack = cdk.Stack(cdk.App(), "Retrain", env=ENV)
    version = cdk.CfnParameter(stack, "DataVersion", type="String")
    assert _job(version.value_as_string, stack=stack)["RunTrigger"] == {"Ref": "DataVersion"}


@pytest.mark.parametrize("bad", ["", "   "])
def test_an_empty_trigger_fails_synth_naming_the_prop(bad: str) -> None:
    with pytest.raises(
        TrainingJobValidationError,
        match=r"run_trigger \(RunTrigger property\): got '\s*'; a non-empty string whose change starts",
    ):
        _job(bad)


def test_a_trigger_of_another_type_fails_synth_naming_the_prop() -> None:
    with pytest.raises(
        TrainingJobValidationError, match=r"run_trigger \(RunTrigger property\): got 20261201; a non-empty string"
    ):
        _job(20261201)


def test_the_summary_shows_the_trigger(tmp_path: Any) -> None:
    from constructs_lib.summary import job_lines

    stack = cdk.Stack(cdk.App(), "Retrain", env=ENV)
    version = cdk.CfnParameter(stack, "DataVersion", type="String")
    resource = {"Type": "Custom::SageMakerTrainingJob", "Properties": _job(version.value_as_string, stack=stack)}
    assert "    run trigger: Ref(DataVersion)" in job_lines("Job", resource, tmp_path / "request.json")
    resource = {"Type": "Custom::SageMakerTrainingJob", "Properties": _job()}
    assert not [line for line in job_lines("Job", resource, tmp_path / "request.json") if "run trigger" in line]
