"""Forged events: the handler acts only for its own stack and answers only CloudFormation.

An attacker who may invoke the function (or deploy a template naming its service token)
sends events; nothing reaches SageMaker, and answers go nowhere but CloudFormation's bucket.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.handler_support import PREFIX, RESPONSE_URL, STACK_ID, Context, event, handler

FOREIGN_STACK = STACK_ID.replace("stack/Training/", "stack/Attacker/")


class _NoSageMaker:
    def __getattr__(self, operation: str) -> Any:
        pytest.fail(f"SageMaker {operation} was called for a refused event")


def deliver(evt: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    sent: list[tuple[str, dict[str, Any]]] = []
    handler.handler(evt, Context(), client=_NoSageMaker(), put=lambda url, body: sent.append((url, json.loads(body))))
    return sent


@pytest.mark.parametrize("request_type", ["Create", "Update", "Delete"])
def test_an_event_of_another_stack_is_refused_with_a_failed_answer(
    request_type: str, capsys: pytest.CaptureFixture[str]
) -> None:
    evt = {**event(request_type, physical_id=f"{PREFIX}-0a1b2c3d"), "StackId": FOREIGN_STACK}
    ((url, body),) = deliver(evt)
    assert url == RESPONSE_URL
    assert body["Status"] == "FAILED"
    assert STACK_ID in body["Reason"]
    if request_type != "Create":
        assert body["PhysicalResourceId"] == evt["PhysicalResourceId"]
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert any(line.get("action") == "refused-event" and line.get("stack_id") == FOREIGN_STACK for line in logged)


@pytest.mark.parametrize(
    "url",
    [
        "http://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x?X-Amz-Signature=1",
        "https://attacker.example.com/collect",
        "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com.attacker.example.com/x",
        "https://cloudformation-custom-resource-response-euwest1.s3.eu-west-1.amazonaws.com/x",  # another region
        "https://user:pw@cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x",
        "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com:8443/x",
        "https://s3.amazonaws.com/attacker-bucket/x",
        "file:///etc/passwd",
    ],
)
def test_an_answer_to_anything_but_cloudformation_is_never_sent(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    for evt in (event("Create"), {**event("Create"), "StackId": FOREIGN_STACK}):
        assert deliver({**evt, "ResponseURL": url}) == []
    out = capsys.readouterr().out
    assert "refused-event" in out
    assert "X-Amz-Signature" not in out and "/collect" not in out  # only the host is logged


@pytest.mark.parametrize(
    ("stack_id", "url"),
    [
        (STACK_ID, RESPONSE_URL),
        (STACK_ID, "https://cloudformation-custom-resource-response-useast1.s3.us-east-1.amazonaws.com/a?b"),
        (STACK_ID, "https://s3.amazonaws.com/cloudformation-custom-resource-response-useast1/a?b"),
        (STACK_ID, "https://s3-external-1.amazonaws.com/cloudformation-custom-resource-response-useast1/a?b"),
        (
            "arn:aws:cloudformation:eu-west-1:111111111111:stack/S/1",
            "https://cloudformation-custom-resource-response-euwest1.s3-eu-west-1.amazonaws.com/a?b",
        ),
        (
            "arn:aws-cn:cloudformation:cn-north-1:111111111111:stack/S/1",
            "https://cloudformation-custom-resource-response-cnnorth1.s3.cn-north-1.amazonaws.com.cn/a?b",
        ),
        (
            "arn:aws-us-gov:cloudformation:us-gov-west-1:111111111111:stack/S/1",
            "https://cloudformation-custom-resource-response-usgovwest1.s3.us-gov-west-1.amazonaws.com/a?b",
        ),
    ],
)
def test_cloudformations_response_urls_are_accepted(stack_id: str, url: str) -> None:
    assert handler.allowed_response_url(url, stack_id)


def test_cloudformation_urls_of_another_partition_are_refused() -> None:
    cn = "https://cloudformation-custom-resource-response-cnnorth1.s3.cn-north-1.amazonaws.com.cn/a"
    assert not handler.allowed_response_url(cn, "arn:aws:cloudformation:cn-north-1:111111111111:stack/S/1")


def test_loopback_is_accepted_it_never_leaves_the_functions_sandbox() -> None:
    for url in ("http://127.0.0.1:4566/cfnresponse?x", "http://localhost:5000/a", "https://[::1]/a"):
        assert handler.allowed_response_url(url, STACK_ID)
    assert not handler.allowed_response_url("http://127.0.0.1.attacker.example.com/a", STACK_ID)


def test_without_its_stack_in_its_configuration_the_handler_says_so_and_still_answers_only_cloudformation(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Code deployed without the provider's configuration: no stack to check, the URL rule holds."""
    monkeypatch.delenv("STACK_ID")
    assert deliver({**event("Create"), "ResponseURL": "https://attacker.example.com/x"}) == []
    assert "unconfigured" in capsys.readouterr().out


def test_a_squatted_name_is_neither_adopted_nor_stopped() -> None:
    """A job in this stack's namespace without this resource's identity tags stays as it is."""
    from tests.fake_sagemaker import FakeSageMaker

    sm, evt = FakeSageMaker(), event("Create")
    name = handler.job_name(handler.parse_props(evt["ResourceProperties"]), evt)
    sm.create_training_job(TrainingJobName=name, Tags=[{"Key": handler.TAG_STACK, "Value": STACK_ID}])
    sent: list[dict[str, Any]] = []
    handler.handler(evt, Context(), client=sm, put=lambda url, body: sent.append(json.loads(body)))
    assert [s["Status"] for s in sent] == ["FAILED"]
    delete = event("Delete", physical_id=sent[0]["PhysicalResourceId"])
    handler.handler(delete, Context(), client=sm, put=lambda url, body: sent.append(json.loads(body)))
    assert sent[-1]["Status"] == "SUCCESS"
    assert sm.running() == [name]
    assert "StopTrainingJob" not in sm.calls
