"""A CloudFormation simulator plays realistic event sequences against the handler.

After each sequence it checks every response against the custom resource contract and
the final state of every job: none left running that should not be.
"""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.fake_sagemaker import FakeSageMaker
from tests.handler_support import LOGICAL_ID, REQUEST, RESPONSE_URL, STACK_ID, Context, FakeClock, handler, props
from tests.test_handler_lifecycle import assert_contract


@dataclass
class Stack:
    """DescribeStacks of the handler's own stack: CloudFormation's status, or a denial."""

    status: str = "UPDATE_IN_PROGRESS"
    denied: bool = False
    calls: int = 0

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        self.calls += 1
        assert StackName == STACK_ID
        if self.denied:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not authorized"}}, "DescribeStacks")
        return {"Stacks": [{"StackId": STACK_ID, "StackName": "Training", "StackStatus": self.status}]}


@dataclass
class CloudFormation:
    """Sends events the way CloudFormation does and keeps the resource's physical id."""

    sagemaker: FakeSageMaker
    stack: Stack = field(default_factory=Stack)
    physical_id: str | None = None
    properties: dict[str, Any] | None = None
    responses: list[dict[str, Any]] = field(default_factory=list)
    drop_next_response: bool = False

    def _send(
        self,
        request_type: str,
        properties: dict[str, Any],
        *,
        physical_id: str | None = None,
        old: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        evt: dict[str, Any] = {
            "RequestType": request_type,
            "ResponseURL": RESPONSE_URL,
            "StackId": STACK_ID,
            "RequestId": str(uuid.uuid4()),
            "LogicalResourceId": LOGICAL_ID,
            "ResourceType": "Custom::SageMakerTrainingJob",
            "ResourceProperties": properties,
        }
        if physical_id is not None:
            evt["PhysicalResourceId"] = physical_id
        if old is not None:
            evt["OldResourceProperties"] = old
        sent: list[dict[str, Any]] = []
        handler.handler(
            evt,
            Context(),
            client=self.sagemaker,
            cloudformation=self.stack,
            put=lambda url, body: sent.append(json.loads(body)),
        )
        assert len(sent) == 1
        assert_contract(sent[0], evt)
        if self.drop_next_response:  # the answer is lost; CloudFormation never sees it
            self.drop_next_response = False
            return {"Status": "LOST"}
        self.responses.append(sent[0])
        return sent[0]

    def create(self, properties: dict[str, Any]) -> dict[str, Any]:
        response = self._send("Create", properties)
        if response["Status"] != "LOST":
            self.physical_id, self.properties = response["PhysicalResourceId"], properties
        return response

    def update(self, properties: dict[str, Any], *, rollback: bool = False) -> tuple[dict[str, Any], str]:
        """Returns the response and the physical id CloudFormation must clean up afterwards."""
        assert self.physical_id is not None and self.properties is not None
        previous = (self.physical_id, self.properties)
        self.stack.status = "UPDATE_ROLLBACK_IN_PROGRESS" if rollback else "UPDATE_IN_PROGRESS"
        response = self._send("Update", properties, physical_id=self.physical_id, old=self.properties)
        if response["Status"] == "SUCCESS":
            self.physical_id, self.properties = response["PhysicalResourceId"], properties
        return response, previous[0]

    def delete(self, physical_id: str | None = None, properties: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._send("Delete", properties or self.properties or {}, physical_id=physical_id or self.physical_id)


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(handler.time, "monotonic", fake.monotonic)
    monkeypatch.setattr(handler.time, "sleep", fake.sleep)
    return fake


def _two_instances() -> dict[str, Any]:
    request = copy.deepcopy(REQUEST)
    request["ResourceConfig"]["InstanceCount"] = 2
    return props(request)


def test_create_update_rollback_delete() -> None:
    sm = FakeSageMaker()
    cfn = CloudFormation(sm)
    original = props()
    assert cfn.create(original)["Status"] == "SUCCESS"
    first = cfn.physical_id
    assert sm.running() == [first]

    # Update replaces the job ...
    response, _ = cfn.update(_two_instances())
    second = response["PhysicalResourceId"]
    assert second != first and sm.running() == sorted([first, second])

    # ... another resource fails, CloudFormation rolls back: Update with the old properties,
    rollback, _ = cfn.update(original, rollback=True)
    assert rollback["Status"] == "SUCCESS"
    assert rollback["PhysicalResourceId"] == first, "the rollback must return to the original job"
    assert sm.calls.count("CreateTrainingJob") == 2, "the rollback must not start another job"
    # then cleans up the replacement it no longer needs.
    assert cfn.delete(physical_id=second, properties=_two_instances())["Status"] == "SUCCESS"
    assert sm.running() == [first]
    assert sm.jobs[second].status == "Stopping"

    # Stack delete stops the original.
    assert cfn.delete()["Status"] == "SUCCESS"
    assert sm.running() == []


def test_successful_replacement_stops_the_old_job_in_cleanup() -> None:
    sm = FakeSageMaker()
    cfn = CloudFormation(sm)
    cfn.create(props())
    response, old_physical = cfn.update(_two_instances())
    assert cfn.delete(physical_id=old_physical, properties=props())["Status"] == "SUCCESS"
    assert sm.running() == [response["PhysicalResourceId"]]


def test_tag_only_update_keeps_the_job_and_changes_its_tags() -> None:
    sm = FakeSageMaker()
    cfn = CloudFormation(sm)
    cfn.create(props({**REQUEST, "Tags": [{"Key": "team", "Value": "a"}]}))
    job = cfn.physical_id
    assert job is not None
    response, _ = cfn.update(props({**REQUEST, "Tags": [{"Key": "team", "Value": "b"}]}))
    assert response["PhysicalResourceId"] == job
    assert sm.jobs[job].tags["team"] == "b"
    assert sm.calls.count("CreateTrainingJob") == 1


def test_create_fail_then_delete_completes_the_rollback() -> None:
    sm = FakeSageMaker()
    sm.fail_next_create = ClientError(
        {"Error": {"Code": "ValidationException", "Message": "Image not found"}}, "CreateTrainingJob"
    )
    cfn = CloudFormation(sm)
    failed = cfn.create(props())
    assert failed["Status"] == "FAILED" and "Image not found" in failed["Reason"]
    # CloudFormation rolls back with the physical id the failed Create answered.
    assert cfn.delete(physical_id=failed["PhysicalResourceId"], properties=props())["Status"] == "SUCCESS"
    assert sm.jobs == {}


def test_create_abandoned_then_delete_with_an_invented_id_stops_the_job() -> None:
    sm = FakeSageMaker()
    cfn = CloudFormation(sm)
    cfn.drop_next_response = True
    cfn.create(props())
    assert len(sm.running()) == 1, "the job started, but CloudFormation never heard of it"
    invented = f"Training-{LOGICAL_ID}-{uuid.uuid4().hex[:12].upper()}"
    assert cfn.delete(physical_id=invented, properties=props())["Status"] == "SUCCESS"
    assert sm.running() == []


def test_abandoned_create_delete_leaves_other_resources_jobs_alone() -> None:
    sm = FakeSageMaker()
    other = CloudFormation(sm)
    other_props = props()
    other.create(other_props)
    # A different logical id in the same stack with the same prefix would be found by name,
    # but its tags name another resource.
    assert other.physical_id is not None
    sm.jobs[other.physical_id].tags[handler.TAG_RESOURCE] = "AnotherJob"
    cfn = CloudFormation(sm)
    assert cfn.delete(physical_id="Training-Train-INVENTED", properties=props())["Status"] == "SUCCESS"
    assert sm.running() == [other.physical_id]


def test_stack_delete_with_delete_behaviour_frees_the_name() -> None:
    sm = FakeSageMaker()
    cfn = CloudFormation(sm)
    cfn.create(props(RemovalBehavior="delete"))
    name = cfn.physical_id
    original_stop = sm.stop_training_job

    def stop_and_finish(TrainingJobName: str) -> dict[str, Any]:
        result = original_stop(TrainingJobName=TrainingJobName)
        sm.finish(TrainingJobName, "Stopped")
        return result

    sm.stop_training_job = stop_and_finish  # type: ignore[method-assign]
    assert cfn.delete()["Status"] == "SUCCESS"
    assert name not in sm.jobs


def _failed_original() -> tuple[FakeSageMaker, CloudFormation, str, str]:
    """The original job failed; an Update replaced it, then another resource failed."""
    sm = FakeSageMaker()
    cfn = CloudFormation(sm)
    cfn.create(props())
    original = cfn.physical_id
    assert original is not None
    sm.finish(original, "Failed", FailureReason="AlgorithmError: out of memory")
    response, _ = cfn.update(_two_instances())
    assert response["Status"] == "SUCCESS"
    return sm, cfn, original, response["PhysicalResourceId"]


def test_a_rollback_returns_to_a_failed_original_job_without_running_it_again() -> None:
    sm, cfn, original, replacement = _failed_original()
    rollback, _ = cfn.update(props(), rollback=True)
    assert (rollback["Status"], rollback["PhysicalResourceId"]) == ("SUCCESS", original)
    assert rollback["Data"]["TrainingJobStatus"] == "Failed"
    assert sm.calls.count("CreateTrainingJob") == 2, "the failed configuration must not run again"
    assert cfn.stack.calls == 1
    assert cfn.delete(physical_id=replacement, properties=_two_instances())["Status"] == "SUCCESS"
    assert sm.running() == []


@pytest.mark.parametrize(
    "stack",
    [
        pytest.param(Stack(status="UPDATE_IN_PROGRESS"), id="a change back, not a rollback"),
        pytest.param(Stack(denied=True), id="DescribeStacks denied"),
    ],
)
def test_outside_a_rollback_a_failed_job_of_the_same_spec_is_not_reused(stack: Stack) -> None:
    sm, cfn, original, _ = _failed_original()
    cfn.stack = stack
    evt_props = props()
    response = cfn._send("Update", evt_props, physical_id=cfn.physical_id, old=cfn.properties)
    assert response["Status"] == "SUCCESS"
    assert response["PhysicalResourceId"] not in (original, cfn.physical_id)
    assert sm.calls.count("CreateTrainingJob") == 3
    assert stack.calls == 1
