"""An Update event carries ResourceProperties and OldResourceProperties; Lambda accepts at most 1 MB
per asynchronous invocation (256 KB under the older quota): a request that cannot reach the handler
is refused at synth, naming the size and the members that make it up."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import assertions
from aws_cdk import aws_ecr as ecr

from constructs_lib import RuleConfiguration, TrainingImage, TrainingJob
from constructs_lib.payload import ASYNC_PAYLOAD_LIMIT, OLDER_ASYNC_PAYLOAD_LIMIT, update_event_bytes
from tests.stacks import template

ENV = cdk.Environment(account="111111111111", region="us-east-1")


def _stack_with(hyperparameters: dict[str, str], rules: int = 0) -> tuple[cdk.Stack, TrainingJob]:
    stack = cdk.Stack(cdk.App(), "Sized", env=ENV)
    repo = ecr.Repository.from_repository_name(stack, "Repo", "trainer")
    parameters = {f"p{i:03d}" + "k" * 252: "v" * 256 for i in range(100)}  # the API's largest RuleParameters
    job = TrainingJob(
        stack,
        "Job",
        image=TrainingImage.from_ecr_repository(repo),
        hyperparameters=hyperparameters,
        debug_rules=[
            RuleConfiguration(f"rule-{i}", "111111111111.dkr.ecr.us-east-1.amazonaws.com/rules:1", parameters)
            for i in range(rules)
        ],
    )
    return stack, job


LARGEST_HYPERPARAMETERS = {f"h{i:03d}" + "k" * 252: "x" * 2500 for i in range(100)}  # 100 x (256 + 2,500)


def test_a_request_within_the_older_quota_synthesizes_quietly() -> None:
    stack, _ = _stack_with({f"h{i}": "x" * 2500 for i in range(40)})  # 100 KB: 200 KB as an Update event
    template(stack)
    annotations = assertions.Annotations.from_stack(stack)
    assert not annotations.find_warning("*", assertions.Match.string_like_regexp("payload limit"))


def test_over_256_kb_warns_and_over_1_mb_refuses_naming_the_size_and_the_members() -> None:
    stack, job = _stack_with(LARGEST_HYPERPARAMETERS)  # about 280 KB: 560 KB as an Update event
    assert OLDER_ASYNC_PAYLOAD_LIMIT < update_event_bytes({"Request": job.rendered_request()}) < ASYNC_PAYLOAD_LIMIT
    template(stack)
    (warning,) = assertions.Annotations.from_stack(stack).find_warning(
        "*", assertions.Match.string_like_regexp("asynchronous payload limit")
    )
    assert "256 KB" in str(warning.entry.data) and "HyperParameters" in str(warning.entry.data)
    stack, job = _stack_with(LARGEST_HYPERPARAMETERS, rules=5)  # + 5 rules of 100 x (256 + 256)
    assert update_event_bytes({"Request": job.rendered_request()}) > ASYNC_PAYLOAD_LIMIT
    with pytest.raises(
        Exception, match=r"about 1,\d\d\d,\d\d\d bytes, over Lambda's 1 MB .*HyperParameters [\d,]+ bytes \(h\d+"
    ):
        template(stack)
