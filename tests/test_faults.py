"""Faults between the handler and the services, injected by an emulator on 127.0.0.1.

The handler runs unmodified with a real botocore client; only its clock is the emulator's
(scaled where minutes of throttling or lag must play out in seconds). Each case ends with
exactly one answer per event, SUCCESS for every job the handler started, no job running
without a resource that owns it, and no duplicate job.
"""

from __future__ import annotations

import contextlib
import copy
import io
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fault_injection import Emulator, TokenBucket, emulated
from tests.handler_support import LOGICAL_ID, REQUEST, STACK_ID, Context, event, handler, name_for, props

CREATE, DESCRIBE, STOP = "CreateTrainingJob", "DescribeTrainingJob", "StopTrainingJob"
LIST = "ListTrainingJobs"


@pytest.fixture
def quiet() -> Iterator[None]:
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def run(
    emulator: Emulator,
    evt: dict[str, Any],
    remaining_ms: int = 900_000,
    client: Any = None,
    cloudformation: Any = None,
) -> dict[str, Any]:
    """One invocation; returns the one answer it delivered."""
    before = len(emulator.answers)
    handler.handler(
        {**evt, "ResponseURL": emulator.response_url()},
        Context(remaining_ms),
        client=client,
        cloudformation=cloudformation,
    )
    assert len(emulator.answers) == before + 1, emulator.answers[before:]
    return emulator.answers[-1][1]


def delete_event(create: dict[str, Any], physical_id: str) -> dict[str, Any]:
    return event("Delete", physical_id=physical_id, properties=create["ResourceProperties"])


def assert_one_job_owned_by(emulator: Emulator, answer: dict[str, Any]) -> None:
    assert answer["Status"] == "SUCCESS", answer
    assert list(emulator.sagemaker.jobs) == [answer["PhysicalResourceId"]]
    assert emulator.running() == [answer["PhysicalResourceId"]]


# ----- ambiguous Creates and lagging reads --------------------------------------------------------


def test_lost_create_answer_then_lagging_reads_adopts_its_own_job(monkeypatch: pytest.MonkeyPatch, quiet: None) -> None:
    """The Create reached SageMaker, its answer was lost, the retry met ResourceInUse and the
    reads still said "not found": lag, not absence."""
    with emulated(monkeypatch, handler, speed=10) as emulator:
        emulator.faults.drop[CREATE] = 1
        emulator.faults.read_lag = 20.0
        evt = event("Create")
        answer = run(emulator, evt)
        assert_one_job_owned_by(emulator, answer)
        assert answer["PhysicalResourceId"] == name_for(evt)
        assert [c.outcome for c in emulator.calls(CREATE)] == ["ok, answer dropped", "ResourceInUse"]
        assert emulator.calls(DESCRIBE)[0].outcome == "ValidationException"  # the lag was met, and waited out


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param({"drop": 3}, id="answer lost three times"),
        pytest.param({"fail": 2}, id="500 twice"),
        pytest.param({"delay": [1.5]}, id="read timeout"),
        pytest.param({"throttle": True}, id="throttled"),
    ],
)
def test_transient_create_faults_end_in_one_job_and_success(
    fault: dict[str, Any], monkeypatch: pytest.MonkeyPatch, quiet: None
) -> None:
    monkeypatch.setattr(handler.calls, "READ_TIMEOUT_SECONDS", 0.5)
    with emulated(monkeypatch, handler, speed=10) as emulator:
        emulator.faults.read_lag = 5.0
        emulator.faults.drop[CREATE] = fault.get("drop", 0)
        emulator.faults.fail[CREATE] = fault.get("fail", 0)
        emulator.faults.delay[CREATE] = list(fault.get("delay", []))
        if fault.get("throttle"):
            emulator.faults.throttle[CREATE] = TokenBucket(rate=0.05, clock=emulator.clock, tokens=0.0)
        answer = run(emulator, event("Create"))
        assert_one_job_owned_by(emulator, answer)


def test_a_clean_create_is_one_call_even_while_reads_lag(monkeypatch: pytest.MonkeyPatch, quiet: None) -> None:
    with emulated(monkeypatch, handler) as emulator:
        emulator.faults.read_lag = 3600.0
        evt = event("Create")
        answer = run(emulator, evt)
        assert_one_job_owned_by(emulator, answer)
        assert [c.operation for c in emulator.received] == [CREATE]
        name = name_for(evt)
        assert answer["Data"] == {
            "TrainingJobName": name,
            "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:111111111111:training-job/{name}",
            "ModelArtifacts": f"s3://output-bucket/jobs/{name}/output/model.tar.gz",
            "TrainingJobStatus": "InProgress",
        }


# ----- the deadline ----------------------------------------------------------------------


@pytest.fixture
def short_lambda(monkeypatch: pytest.MonkeyPatch) -> float:
    """A Lambda with 3 s left: work stops 1.5 s before its end, the answer is due 0.5 s before it."""
    monkeypatch.setattr(handler, "TIMEOUT_MARGIN_SECONDS", 0.5)
    monkeypatch.setattr(handler.calls, "CALL_SECONDS", 1.0)
    return 3.0


def test_a_create_in_flight_at_the_deadline_is_waited_for_and_answered(
    short_lambda: float, monkeypatch: pytest.MonkeyPatch, quiet: None
) -> None:
    with emulated(monkeypatch, handler) as emulator:
        emulator.faults.delay[CREATE] = [short_lambda + 0.3]  # still in flight when the deadline fires
        answer = run(emulator, event("Create"), remaining_ms=int(short_lambda * 1000))
        assert_one_job_owned_by(emulator, answer)
        answered_at = emulator.answers[-1][0]
        assert all(c.at < answered_at for c in emulator.received)


def test_nothing_is_sent_after_the_answer(short_lambda: float, monkeypatch: pytest.MonkeyPatch, quiet: None) -> None:
    """Throttled to the end: FAILED, no Create after the answer, and the rollback Delete finds nothing."""
    with emulated(monkeypatch, handler) as emulator:
        emulator.faults.throttle[CREATE] = TokenBucket(rate=0.0, clock=emulator.clock, tokens=0.0)
        evt = event("Create")
        answer = run(emulator, evt, remaining_ms=int(short_lambda * 1000))
        assert answer["Status"] == "FAILED"
        assert answer["PhysicalResourceId"] == handler.NOT_CREATED + name_for(evt)
        answered_at = emulator.answers[-1][0]
        assert emulator.calls(CREATE) and all(c.at < answered_at for c in emulator.calls(CREATE))
        assert run(emulator, delete_event(evt, answer["PhysicalResourceId"]))["Status"] == "SUCCESS"
        assert emulator.sagemaker.jobs == {}


def test_after_the_answer_no_create_starts() -> None:
    sent: list[bytes] = []
    responder = handler.Responder(event("Create"), lambda url, body: sent.append(body))
    responder.send("FAILED", "not-created:x", "ran out of time")

    class _NeverCalled:
        def create_training_job(self, **kwargs: Any) -> Any:
            pytest.fail("CreateTrainingJob was sent after the answer")

    with pytest.raises(handler.TooLate):
        responder.create(_NeverCalled(), {}, "x", deadline=handler.time.monotonic() + 3600)
    assert len(sent) == 1


def test_an_unconfirmed_create_at_the_deadline_is_found_and_stopped_by_the_delete(
    monkeypatch: pytest.MonkeyPatch, quiet: None
) -> None:
    """The job became readable only after the Create had answered FAILED: its Delete waits for it."""
    with emulated(monkeypatch, handler, speed=30) as emulator:
        emulator.faults.drop[CREATE] = 1
        emulator.faults.read_lag = 90.0
        evt = event("Create")
        answer = run(emulator, evt, remaining_ms=90_000)
        assert answer["Status"] == "FAILED"
        assert answer["PhysicalResourceId"] == handler.UNCONFIRMED + name_for(evt)
        assert emulator.running() == [name_for(evt)]  # it did start
        deleted = run(emulator, delete_event(evt, answer["PhysicalResourceId"]))
        assert deleted["Status"] == "SUCCESS"
        assert emulator.running() == []
        assert [c.outcome for c in emulator.calls(STOP)] == ["ok"]


def test_a_foreign_job_holding_the_name_is_not_adopted_nor_stopped(
    monkeypatch: pytest.MonkeyPatch, quiet: None
) -> None:
    with emulated(monkeypatch, handler) as emulator:
        evt = event("Create")
        name = name_for(evt)
        emulator.sagemaker.create_training_job(TrainingJobName=name, Tags=[{"Key": "owner", "Value": "someone-else"}])
        answer = run(emulator, evt)
        assert answer["Status"] == "FAILED"
        assert answer["PhysicalResourceId"] == handler.NOT_CREATED + name
        assert run(emulator, delete_event(evt, answer["PhysicalResourceId"]))["Status"] == "SUCCESS"
        assert emulator.running() == [name]


# ----- listing ----------------------------------------------------------------------------


def test_a_delete_pages_through_a_throttled_listing_to_find_the_abandoned_job(
    monkeypatch: pytest.MonkeyPatch, quiet: None
) -> None:
    """ListTrainingJobs is throttled like any call, and pages: StatusEquals filters each page once
    it is cut, so the first pages come back empty with a NextToken."""
    with emulated(monkeypatch, handler, speed=10) as emulator:
        abandoned = event("Create")
        run(emulator, abandoned)  # its answer never reached CloudFormation
        for _ in range(4):  # newer, finished jobs of the same resource fill the first two pages
            emulator.sagemaker.finish(run(emulator, event("Create"))["PhysicalResourceId"])
        emulator.sagemaker.list_page_size = 2
        emulator.faults.throttle[LIST] = TokenBucket(rate=0.5, clock=emulator.clock, tokens=0.0)
        invented = f"Training-{LOGICAL_ID}-1B2C3D4E5F6G"
        answer = run(emulator, delete_event(abandoned, invented))
        assert answer["Status"] == "SUCCESS"
        assert emulator.running() == []
        outcomes = [c.outcome for c in emulator.calls(LIST)]
        assert "throttled" in outcomes and outcomes.count("ok") == 3


def _two_instances() -> dict[str, Any]:
    request = copy.deepcopy(REQUEST)
    request["ResourceConfig"]["InstanceCount"] = 2
    return props(request)


def test_a_rollback_rides_out_a_throttled_listing(monkeypatch: pytest.MonkeyPatch, quiet: None) -> None:
    with emulated(monkeypatch, handler, speed=10) as emulator:
        created = event("Create")
        original = run(emulator, created)["PhysicalResourceId"]
        update = event("Update", physical_id=original, properties=_two_instances(), old_properties=props())
        replacement = run(emulator, update)["PhysicalResourceId"]
        emulator.sagemaker.list_page_size = 1  # the original is on the second page
        emulator.faults.throttle[LIST] = TokenBucket(rate=0.5, clock=emulator.clock, tokens=0.0)
        rollback = event("Update", physical_id=replacement, properties=props(), old_properties=_two_instances())
        answer = run(emulator, rollback)
        assert (answer["Status"], answer["PhysicalResourceId"]) == ("SUCCESS", original)
        assert len(emulator.calls(CREATE)) == 2
        assert "throttled" in [c.outcome for c in emulator.calls(LIST)]


# ----- a failed Update's lost Create ---------------------------------------------------------


class _RollingBack:
    """DescribeStacks of the handler's stack while CloudFormation rolls it back."""

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        assert StackName == STACK_ID
        return {
            "Stacks": [{"StackId": STACK_ID, "StackName": "Training", "StackStatus": "UPDATE_ROLLBACK_IN_PROGRESS"}]
        }


def _fail_a_replacement(emulator: Emulator, read_lag: float) -> tuple[str, dict[str, Any]]:
    """An Update whose CreateTrainingJob answer is lost and whose job stays unreadable until the
    deadline: FAILED, the previous job kept. Returns that job and the Update."""
    original = run(emulator, event("Create"))["PhysicalResourceId"]
    emulator.settle()
    emulator.faults.drop[CREATE] = 1
    emulator.faults.read_lag = read_lag
    update = event("Update", physical_id=original, properties=_two_instances(), old_properties=props())
    answer = run(emulator, update, remaining_ms=90_000)
    assert (answer["Status"], answer["PhysicalResourceId"]) == ("FAILED", original)
    return original, update


def test_a_rollback_stops_the_job_a_failed_updates_lost_create_left_running(
    monkeypatch: pytest.MonkeyPatch, quiet: None
) -> None:
    with emulated(monkeypatch, handler, speed=30) as emulator:
        original, update = _fail_a_replacement(emulator, read_lag=120.0)
        orphan = name_for(update)
        assert emulator.running() == sorted([original, orphan])  # it started; nobody owns it
        assert emulator.clock.monotonic() < emulator.readable_at(orphan)  # listed, not yet readable
        rollback = event("Update", physical_id=original, properties=props(), old_properties=_two_instances())
        answer = run(emulator, rollback, cloudformation=_RollingBack())
        assert (answer["Status"], answer["PhysicalResourceId"]) == ("SUCCESS", original)
        assert emulator.running() == [original]
        assert [c.name for c in emulator.calls(STOP)] == [orphan]


def test_a_failed_update_stops_the_job_its_lost_create_started_once_it_is_readable(
    monkeypatch: pytest.MonkeyPatch, quiet: None
) -> None:
    """Readable after the FAILED answer, before the invocation ends: stopped by the Update itself."""
    with emulated(monkeypatch, handler, speed=30) as emulator:
        original, update = _fail_a_replacement(emulator, read_lag=45.0)
        assert emulator.running() == [original]
        assert [c.name for c in emulator.calls(STOP)] == [name_for(update)]
        assert all(c.at > emulator.answers[-1][0] for c in emulator.calls(STOP))


# ----- the completion gate's check ------------------------------------------------------------


def test_the_gate_check_rides_out_read_lag_of_the_job_just_created(
    monkeypatch: pytest.MonkeyPatch, quiet: None
) -> None:
    with emulated(monkeypatch, handler, speed=10) as emulator:
        emulator.faults.read_lag = 20.0
        job = run(emulator, event("Create", properties=props(GateId="gate-1")))["PhysicalResourceId"]
        check = event(
            "Create",
            properties={"TrainingJobName": job, "ConditionLogicalId": "JobCompletionCondition", "GateId": "gate-1"},
        )
        check["ResourceType"] = handler.GATE_TYPE
        answer = run(emulator, check)
        assert answer["Status"] == "SUCCESS", answer
        assert answer["Data"] == {"TrainingJobStatus": "InProgress"}
        assert emulator.calls(DESCRIBE)[0].outcome == "ValidationException"  # the lag was met, and waited out


# ----- the answer ----------------------------------------------------------------------


def test_transient_put_failures_are_retried_and_delivered_once(monkeypatch: pytest.MonkeyPatch, quiet: None) -> None:
    with emulated(monkeypatch, handler, speed=10) as emulator:
        emulator.faults.failing_puts = 2
        answer = run(emulator, event("Create"))
        assert_one_job_owned_by(emulator, answer)
        assert emulator.puts == 3


def test_an_undeliverable_answer_fails_the_invocation_so_lambda_retries_it(
    monkeypatch: pytest.MonkeyPatch, quiet: None
) -> None:
    with emulated(monkeypatch, handler, speed=10) as emulator:
        emulator.faults.failing_puts = 4  # every attempt of the first invocation
        evt = {**event("Create"), "ResponseURL": emulator.response_url()}
        with pytest.raises(handler.ResponseNotDelivered):
            handler.handler(evt, Context())
        assert emulator.answers == []
        answer = run(emulator, evt)  # Lambda's retry of the same asynchronous invocation
        assert_one_job_owned_by(emulator, answer)
        assert [c.outcome for c in emulator.calls(CREATE)] == ["ok", "ResourceInUse"]


# ----- load -------------------------------------------------------------------------------


def deploy_concurrently(emulator: Emulator, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every event at once, as CloudFormation sends a large stack's resources; one shared client."""
    client = handler.make_client()
    threads = [
        threading.Thread(
            target=handler.handler,
            args=({**e, "ResponseURL": emulator.response_url()}, Context()),
            kwargs={"client": client},
        )
        for e in events
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return [body for _, body in emulator.answers]


def test_a_burst_of_creates_rides_out_the_throttle_then_deletes_stop_every_job(
    monkeypatch: pytest.MonkeyPatch, quiet: None
) -> None:
    """Scaled down here (40 jobs); `make bench` runs 400 and records the figures."""
    jobs = 40
    with emulated(monkeypatch, handler, speed=20) as emulator:
        emulator.faults.throttle[CREATE] = TokenBucket(rate=2.5, clock=emulator.clock)
        creates = [event("Create") for _ in range(jobs)]
        answers = deploy_concurrently(emulator, creates)
        assert [a["Status"] for a in answers] == ["SUCCESS"] * jobs
        assert len(emulator.running()) == jobs
        assert len([c for c in emulator.calls(CREATE) if c.outcome == "ok"]) == jobs
        assert emulator.calls(DESCRIBE) == []  # one call per clean Create

        emulator.faults.throttle[STOP] = TokenBucket(rate=10, clock=emulator.clock)
        emulator.faults.throttle[DESCRIBE] = TokenBucket(rate=10, clock=emulator.clock)
        deletes = [delete_event(e, a["PhysicalResourceId"]) for e, a in zip(creates, answers, strict=True)]
        answers = deploy_concurrently(emulator, deletes)[jobs:]
        assert [a["Status"] for a in answers] == ["SUCCESS"] * jobs
        assert emulator.running() == []
