"""The handler's lifecycle matrix, error paths through botocore's Stubber.

Every row of the README's lifecycle table is one test here.
"""

from __future__ import annotations

import copy
import json
import re
import urllib.request
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from botocore.exceptions import ClientError

from tests.fake_sagemaker import FakeSageMaker
from tests.handler_support import (
    PREFIX,
    REQUEST,
    Context,
    FakeClock,
    Run,
    arn_of,
    description,
    event,
    handler,
    identity_tags,
    name_for,
    not_found,
    props,
)


def assert_contract(body: dict[str, Any], evt: dict[str, Any]) -> None:
    """The CloudFormation custom resource response contract."""
    assert set(body) >= {"Status", "PhysicalResourceId", "StackId", "RequestId", "LogicalResourceId"}
    assert body["Status"] in ("SUCCESS", "FAILED")
    assert (body["StackId"], body["RequestId"], body["LogicalResourceId"]) == (
        evt["StackId"],
        evt["RequestId"],
        evt["LogicalResourceId"],
    )
    assert isinstance(body["PhysicalResourceId"], str) and 0 < len(body["PhysicalResourceId"]) <= 1024
    if body["Status"] == "FAILED":
        assert body["Reason"]
    if evt["RequestType"] == "Delete":
        assert body["PhysicalResourceId"] == evt["PhysicalResourceId"]
    assert len(json.dumps(body).encode()) <= 4096
    assert all(isinstance(v, str) for v in body.get("Data", {}).values())


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(handler.time, "monotonic", fake.monotonic)
    monkeypatch.setattr(handler.time, "sleep", fake.sleep)
    return fake


def expect_create(run: Run, evt: dict[str, Any], name: str, request: dict[str, Any] | None = None) -> None:
    expected = dict(request or REQUEST)
    expected["TrainingJobName"] = name
    expected["Tags"] = [*expected.get("Tags", []), *identity_tags(evt)]
    run.stub.add_response("create_training_job", {"TrainingJobArn": arn_of(name)}, expected)


# ----- Create ----------------------------------------------------------------------------


def test_a_script_mode_job_learns_its_name_through_the_toolkits_hyperparameter(clock: FakeClock) -> None:
    request = {**REQUEST, "HyperParameters": {"sagemaker_program": '"train.py"', "sagemaker_job_name": '""'}}
    run, evt = Run(), event("Create", properties=props(request))
    name = name_for(evt)
    sent = {**request, "HyperParameters": {**request["HyperParameters"], "sagemaker_job_name": json.dumps(name)}}
    expect_create(run, evt, name, sent)
    assert run(evt)["Status"] == "SUCCESS"


def test_create_ok_is_one_call_and_returns_the_job_name_arn_and_artifacts(clock: FakeClock) -> None:
    run, evt = Run(), event("Create")
    name = name_for(evt)
    expect_create(run, evt, name)  # the only SageMaker call: the answer comes from the request and the ARN
    body = run(evt)
    assert_contract(body, evt)
    assert body["Status"] == "SUCCESS"
    assert body["PhysicalResourceId"] == name
    assert body["Data"] == {
        "TrainingJobName": name,
        "TrainingJobArn": arn_of(name),
        "ModelArtifacts": f"s3://output-bucket/jobs/{name}/output/model.tar.gz",
        "TrainingJobStatus": "InProgress",
    }


def test_generated_names_are_valid_stable_per_request_and_new_per_deployment() -> None:
    first = event("Create", request_id="r-1")
    assert name_for(first) == name_for(event("Create", request_id="r-1"))
    assert name_for(first) != name_for(event("Create", request_id="r-2"))
    assert name_for(first).startswith(PREFIX + "-")
    assert re.fullmatch(r"[a-z0-9](-*[a-z0-9]){0,62}", name_for(first))


def test_create_retried_with_the_same_request_finds_its_own_job(clock: FakeClock) -> None:
    """A retried event sends CreateTrainingJob again: the taken name leads to its own job."""
    run, evt = Run(), event("Create")
    name = name_for(evt)
    run.stub.add_client_error("create_training_job", "ResourceInUse", "Training job name in use")
    run.stub.add_response("describe_training_job", description(name), {"TrainingJobName": name})
    run.stub.add_response("list_tags", {"Tags": identity_tags(evt)}, {"ResourceArn": arn_of(name)})
    body = run(evt)
    assert_contract(body, evt)
    assert (body["Status"], body["PhysicalResourceId"]) == ("SUCCESS", name)


def test_create_resource_in_use_then_lagging_reads_is_lag_not_absence(clock: FakeClock) -> None:
    """ResourceInUse proves the job exists: "not found" from Describe and ListTags is waited out."""
    run, evt = Run(), event("Create")
    name = name_for(evt)
    run.stub.add_client_error("create_training_job", "ResourceInUse", "Training job name in use")
    for _ in range(3):
        run.stub.add_client_error("describe_training_job", **not_found(name))
    run.stub.add_response("describe_training_job", description(name), {"TrainingJobName": name})
    run.stub.add_client_error("list_tags", **not_found(arn_of(name)))
    run.stub.add_response("list_tags", {"Tags": identity_tags(evt)}, {"ResourceArn": arn_of(name)})
    body = run(evt)
    assert (body["Status"], body["PhysicalResourceId"]) == ("SUCCESS", name)
    assert len(clock.slept) == 4


def test_the_last_read_of_a_lagging_write_waits_only_as_long_as_the_deadline_allows(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A backoff that would pass the deadline is cut short to one last read before it: a write
    that becomes readable in that time is seen, whatever the jitter drew."""
    monkeypatch.setattr(handler.calls.random, "uniform", lambda low, high: high)  # the longest waits
    readable_at = clock.now + 60.0  # the reads at +59 and, uncut, +69.5 straddle it
    deadline = readable_at + handler.calls.CALL_SECONDS + 1.0
    reads: list[float] = []

    def read() -> dict[str, Any] | None:
        reads.append(clock.now)
        return {"TrainingJobName": "job"} if clock.now >= readable_at else None

    assert handler.calls.await_visible(read, deadline) == {"TrainingJobName": "job"}
    assert readable_at <= reads[-1] <= deadline - handler.calls.CALL_SECONDS
    reads.clear()  # never readable: None, the last read still in time for its answer
    assert handler.calls.await_visible(lambda: reads.append(clock.now), deadline) is None
    assert reads[-1] == deadline - handler.calls.CALL_SECONDS


def test_create_name_taken_reported_as_a_validation_error_is_adopted_too(clock: FakeClock) -> None:
    run, evt = Run(), event("Create")
    name = name_for(evt)
    run.stub.add_client_error(
        "create_training_job",
        "ValidationException",
        "Training job names must be unique within an AWS account and region, and a training job with this name "
        "already exists",
    )
    run.stub.add_response("describe_training_job", description(name), {"TrainingJobName": name})
    run.stub.add_response("list_tags", {"Tags": identity_tags(evt)}, {"ResourceArn": arn_of(name)})
    assert run(evt)["Status"] == "SUCCESS"


def test_create_resource_in_use_by_a_foreign_job_fails_clearly(clock: FakeClock) -> None:
    run, evt = Run(), event("Create", properties=props(TrainingJobName="nightly"))
    run.stub.add_client_error("create_training_job", "ResourceInUse", "Training job name in use")
    run.stub.add_response("describe_training_job", description("nightly"), {"TrainingJobName": "nightly"})
    run.stub.add_response(
        "list_tags", {"Tags": [{"Key": "owner", "Value": "someone-else"}]}, {"ResourceArn": arn_of("nightly")}
    )
    body = run(evt)
    assert_contract(body, evt)
    assert body["Status"] == "FAILED"
    assert "already used by a job this resource did not create" in body["Reason"]
    assert "fixed training_job_name" in body["Reason"]
    assert body["PhysicalResourceId"] == handler.NOT_CREATED + "nightly"


def test_create_retries_while_the_new_role_propagates_then_succeeds(clock: FakeClock) -> None:
    run, evt = Run(), event("Create")
    name = name_for(evt)
    for _ in range(2):
        run.stub.add_client_error(
            "create_training_job",
            "ValidationException",
            f"Could not assume role {REQUEST['RoleArn']}. Please ensure that the role exists",
        )
    expect_create(run, evt, name)
    body = run(evt)
    assert (body["Status"], body["PhysicalResourceId"]) == ("SUCCESS", name)
    assert clock.slept == [2.0, 4.0]


def test_create_fails_with_sagemakers_message_when_iam_never_propagates(clock: FakeClock) -> None:
    run, evt = Run(), event("Create")
    name = name_for(evt)
    message = "Access denied for repository: trainer in registry ID: 111111111111"
    for _ in range(9):
        run.stub.add_client_error("create_training_job", "ValidationException", message)
    body = run(evt)
    assert_contract(body, evt)
    assert body["Status"] == "FAILED"
    assert message in body["Reason"]
    assert 100 <= sum(clock.slept) <= handler.IAM_RETRY_SECONDS
    assert body["PhysicalResourceId"] == handler.NOT_CREATED + name


def test_create_other_validation_errors_fail_at_once(clock: FakeClock) -> None:
    run, evt = Run(), event("Create")
    run.stub.add_client_error("create_training_job", "ValidationException", "Instance type not supported")
    body = run(evt)
    assert body["Status"] == "FAILED" and "Instance type not supported" in body["Reason"]
    assert clock.slept == []


def test_deploy_time_values_are_validated_before_the_api_is_called(clock: FakeClock) -> None:
    """Tokens resolve only at deploy time; botocore checks them before CreateTrainingJob is sent."""
    bad = copy.deepcopy(REQUEST)
    bad["ResourceConfig"]["InstanceCount"] = "two"
    run, evt = Run(), event("Create", properties=props(bad))
    run.stub.add_response("create_training_job", {"TrainingJobArn": "never-sent"})
    with run.stub:
        handler.handler(evt, Context(), client=run.client, put=run.put)
    with pytest.raises(AssertionError, match="1 responses remaining"):
        run.stub.assert_no_pending_responses()  # the API call was never made
    body = run.sent[0][1]
    assert body["Status"] == "FAILED"
    assert "the CreateTrainingJob request is invalid" in body["Reason"]
    assert "InstanceCount" in body["Reason"]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (
            "AccessDeniedException",
            "User: arn:aws:sts::111111111111:assumed-role/Provider/h is not authorized to "
            "perform: iam:PassRole on resource: " + REQUEST["RoleArn"],
        ),
        ("AccessDeniedException", "User is not authorized to perform: sagemaker:CreateTrainingJob"),
        ("AccessDenied", "Access Denied"),
    ],
)
def test_create_retries_an_access_denial_while_the_handlers_own_policy_propagates(
    code: str, message: str, clock: FakeClock
) -> None:
    """IAM is eventually consistent: the policy created in the same deployment may not be effective
    at the first Create. A denial is an error code, not a ValidationException message."""
    run, evt = Run(), event("Create")
    name = name_for(evt)
    for _ in range(2):
        run.stub.add_client_error("create_training_job", code, message, 400)
    expect_create(run, evt, name)
    body = run(evt)
    assert (body["Status"], body["PhysicalResourceId"]) == ("SUCCESS", name)
    assert clock.slept == [2.0, 4.0]


def test_create_fails_with_the_denial_when_access_stays_denied(clock: FakeClock) -> None:
    run, evt = Run(), event("Create")
    message = "User is not authorized to perform: iam:PassRole on resource: " + REQUEST["RoleArn"]
    for _ in range(9):
        run.stub.add_client_error("create_training_job", "AccessDeniedException", message, 400)
    body = run(evt)
    assert body["Status"] == "FAILED"
    assert f"AccessDeniedException: {message}" in body["Reason"]
    assert 100 <= sum(clock.slept) <= handler.IAM_RETRY_SECONDS


def test_uncompressed_output_answers_the_model_prefix(clock: FakeClock) -> None:
    """With CompressionType NONE SageMaker uploads the model's files under ``output/model/``."""
    request = {**REQUEST, "OutputDataConfig": {**REQUEST["OutputDataConfig"], "CompressionType": "NONE"}}
    run, evt = Run(), event("Create", properties=props(request))
    name = name_for(evt)
    expect_create(run, evt, name, request)
    body = run(evt)
    assert body["Data"]["ModelArtifacts"] == f"s3://output-bucket/jobs/{name}/output/model/"


def test_client_leaves_retries_to_the_handler_and_bounds_each_call() -> None:
    client = handler.make_client()
    config = client.meta.config
    assert config.retries == {"mode": "standard", "total_max_attempts": 1}
    assert (config.connect_timeout, config.read_timeout) == (5, 20)
    assert config.connect_timeout + config.read_timeout <= handler.CALL_SECONDS


def test_create_rides_out_throttling_with_a_real_client(clock: FakeClock) -> None:
    """A real botocore client; HTTP answered in-process, nothing leaves the machine."""
    client = handler.make_client()
    evt = event("Create")
    name = name_for(evt)
    calls: list[str] = []

    def answer(request: Any, **kwargs: Any) -> AWSResponse:
        target = request.headers["X-Amz-Target"].decode().split(".")[-1]
        calls.append(target)
        if target == "DescribeTrainingJob" and "CreateTrainingJob" not in calls:
            body = {"__type": "ValidationException", "message": f"Requested resource not found: {name}"}
            return AWSResponse(request.url, 400, HTTPHeaders(), _Raw(body))
        if target == "CreateTrainingJob" and calls.count("CreateTrainingJob") <= 2:
            return AWSResponse(
                request.url, 400, HTTPHeaders(), _Raw({"__type": "ThrottlingException", "message": "Rate exceeded"})
            )
        if target == "CreateTrainingJob":
            return AWSResponse(request.url, 200, HTTPHeaders(), _Raw({"TrainingJobArn": arn_of(name)}))
        desc = {k: v for k, v in description(name).items() if k != "CreationTime"}
        desc["CreationTime"] = 1_790_000_000
        return AWSResponse(request.url, 200, HTTPHeaders(), _Raw(desc))

    client.meta.events.register("before-send.sagemaker", answer)
    sent: list[dict[str, Any]] = []
    handler.handler(evt, Context(), client=client, put=lambda url, body: sent.append(json.loads(body)))
    assert calls == ["CreateTrainingJob"] * 3
    assert sent[0]["Status"] == "SUCCESS"
    assert len(clock.slept) == 2


class _Raw:
    def __init__(self, body: dict[str, Any]) -> None:
        self._data = json.dumps(body).encode()

    def stream(self, **kwargs: Any) -> Any:
        yield self._data

    def read(self, *args: Any) -> bytes:
        return self._data


# ----- Delete ----------------------------------------------------------------------------


def _delete(physical: str, **prop_overrides: Any) -> dict[str, Any]:
    return event("Delete", physical_id=physical, properties=props(**prop_overrides))


@pytest.mark.parametrize(
    ("status", "stops"),
    [("InProgress", True), ("Completed", False), ("Failed", False), ("Stopped", False), ("Stopping", False)],
)
def test_delete_stops_only_a_running_job(status: str, stops: bool, clock: FakeClock) -> None:
    name = f"{PREFIX}-0a1b2c3d"
    run, evt = Run(), _delete(name)
    run.stub.add_response("describe_training_job", description(name, status), {"TrainingJobName": name})
    if stops:
        run.stub.add_response("stop_training_job", {}, {"TrainingJobName": name})
    body = run(evt)
    assert_contract(body, evt)
    assert body["Status"] == "SUCCESS"


def test_delete_of_a_missing_job_succeeds(clock: FakeClock) -> None:
    name = f"{PREFIX}-0a1b2c3d"
    run, evt = Run(), _delete(name)
    run.stub.add_client_error("describe_training_job", **not_found(name))
    body = run(evt)
    assert body["Status"] == "SUCCESS"


def test_delete_when_the_job_finishes_between_describe_and_stop(clock: FakeClock) -> None:
    name = f"{PREFIX}-0a1b2c3d"
    run, evt = Run(), _delete(name)
    run.stub.add_response("describe_training_job", description(name), {"TrainingJobName": name})
    run.stub.add_client_error("stop_training_job", "ValidationException", "The job status is Completed")
    assert run(evt)["Status"] == "SUCCESS"


def test_delete_after_a_failed_create_with_nothing_created(clock: FakeClock) -> None:
    name = f"{PREFIX}-0a1b2c3d"
    run, evt = Run(), _delete(handler.NOT_CREATED + name)
    run.stub.add_client_error("describe_training_job", **not_found(name))
    body = run(evt)
    assert_contract(body, evt)
    assert body["Status"] == "SUCCESS"


def test_delete_after_a_failed_create_stops_the_job_it_did_start(clock: FakeClock) -> None:
    name = f"{PREFIX}-0a1b2c3d"
    run, evt = Run(), _delete(handler.NOT_CREATED + name)
    run.stub.add_response("describe_training_job", description(name), {"TrainingJobName": name})
    run.stub.add_response("list_tags", {"Tags": identity_tags(evt)}, {"ResourceArn": arn_of(name)})
    run.stub.add_response("stop_training_job", {}, {"TrainingJobName": name})
    assert run(evt)["Status"] == "SUCCESS"


def test_delete_with_an_invented_physical_id_stops_this_resources_running_jobs(clock: FakeClock) -> None:
    run, evt = Run(), _delete("Training-Train781835F2-1B2C3D4E5F6G")
    ours, foreign = f"{PREFIX}-0a1b2c3d", f"{PREFIX}-99999999"
    run.stub.add_response(
        "list_training_jobs",
        {
            "TrainingJobSummaries": [
                {
                    "TrainingJobName": n,
                    "TrainingJobArn": arn_of(n),
                    "CreationTime": description(n)["CreationTime"],
                    "TrainingJobStatus": "InProgress",
                }
                for n in (ours, foreign)
            ]
        },
        {"NameContains": PREFIX, "StatusEquals": "InProgress", "MaxResults": 100},
    )
    run.stub.add_response("list_tags", {"Tags": identity_tags(evt)}, {"ResourceArn": arn_of(ours)})
    other = [{"Key": handler.TAG_STACK, "Value": evt["StackId"]}, {"Key": handler.TAG_RESOURCE, "Value": "Other"}]
    run.stub.add_response("list_tags", {"Tags": other}, {"ResourceArn": arn_of(foreign)})
    run.stub.add_response("describe_training_job", description(ours), {"TrainingJobName": ours})
    run.stub.add_response("stop_training_job", {}, {"TrainingJobName": ours})
    body = run(evt)
    assert_contract(body, evt)
    assert body["Status"] == "SUCCESS"


def test_delete_with_retain_leaves_the_job_running(clock: FakeClock) -> None:
    name = f"{PREFIX}-0a1b2c3d"
    run, evt = Run(), _delete(name, RemovalBehavior="retain")
    run.stub.add_response("describe_training_job", description(name), {"TrainingJobName": name})
    assert run(evt)["Status"] == "SUCCESS"


def test_delete_with_delete_behaviour_stops_waits_and_deletes(clock: FakeClock) -> None:
    name = f"{PREFIX}-0a1b2c3d"
    run, evt = Run(), _delete(name, RemovalBehavior="delete")
    run.stub.add_response("describe_training_job", description(name), {"TrainingJobName": name})
    run.stub.add_response("stop_training_job", {}, {"TrainingJobName": name})
    run.stub.add_response("describe_training_job", description(name, "Stopping"), {"TrainingJobName": name})
    run.stub.add_response("describe_training_job", description(name, "Stopped"), {"TrainingJobName": name})
    run.stub.add_response("delete_training_job", {}, {"TrainingJobName": name})
    assert run(evt)["Status"] == "SUCCESS"
    assert clock.slept == [handler.POLL_SECONDS, handler.POLL_SECONDS]


def _deliver(sm: FakeSageMaker, evt: dict[str, Any]) -> dict[str, Any]:
    sent: list[dict[str, Any]] = []
    handler.handler(evt, Context(), client=sm, put=lambda url, body: sent.append(json.loads(body)))
    assert len(sent) == 1, sent
    return sent[0]


def _warm_pool_job(sm: FakeSageMaker, removal: str = "delete") -> tuple[str, dict[str, Any]]:
    """A Completed job of this resource that keeps an Available warm pool."""
    properties = props(_changed(KeepAlivePeriodInSeconds=600), RemovalBehavior=removal)
    created = _deliver(sm, event("Create", properties=properties))
    name = created["PhysicalResourceId"]
    sm.finish(name)
    assert sm.describe_training_job(TrainingJobName=name)["WarmPoolStatus"] == {"Status": "Available"}
    return name, properties


def test_delete_behaviour_releases_the_warm_pool_then_deletes(clock: FakeClock) -> None:
    """DeleteTrainingJob refuses a job with an Available warm pool (ResourceInUse)."""
    sm = FakeSageMaker()
    sm.warm_pool_release_reads = 2  # the pool shows Available a little while after its release
    name, properties = _warm_pool_job(sm)
    body = _deliver(sm, event("Delete", physical_id=name, properties=properties))
    assert body["Status"] == "SUCCESS"
    assert name not in sm.jobs
    assert sm.calls.count("UpdateTrainingJob") == 1 and sm.calls[-1] == "DeleteTrainingJob"


def test_delete_behaviour_retains_a_job_whose_warm_pool_outlives_the_handler(
    clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    sm = FakeSageMaker()
    sm.warm_pool_release_reads = 10_000
    name, properties = _warm_pool_job(sm)
    body = _deliver(sm, event("Delete", physical_id=name, properties=properties))
    assert body["Status"] == "SUCCESS"
    assert name in sm.jobs
    assert "retained-warm-pool-still-available" in capsys.readouterr().out


def test_delete_behaviour_retains_a_job_whose_warm_pool_release_is_denied(
    clock: FakeClock, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The handler's policy may no longer allow that keep-alive change: the Delete still succeeds."""
    sm = FakeSageMaker()
    name, properties = _warm_pool_job(sm)

    def denied(**kwargs: Any) -> Any:
        raise ClientError(
            {"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}}, "UpdateTrainingJob"
        )

    monkeypatch.setattr(sm, "update_training_job", denied)
    body = _deliver(sm, event("Delete", physical_id=name, properties=properties))
    assert body["Status"] == "SUCCESS"
    assert name in sm.jobs
    assert "retained-warm-pool-release-denied" in capsys.readouterr().out


def test_delete_never_fails_on_an_older_property_format(clock: FakeClock) -> None:
    """Version 0 properties: no SchemaVersion, the request as an object of strings."""
    name = f"{PREFIX}-0a1b2c3d"
    old = {"JobNamePrefix": PREFIX, "Request": {"ResourceConfig": {"InstanceCount": "1"}}}
    run, evt = Run(), event("Delete", physical_id=name, properties=old)
    run.stub.add_response("describe_training_job", description(name), {"TrainingJobName": name})
    run.stub.add_response("stop_training_job", {}, {"TrainingJobName": name})
    assert run(evt)["Status"] == "SUCCESS"


def test_old_property_format_is_coerced_to_api_types() -> None:
    parsed = handler.parse_props(
        {
            "JobNamePrefix": PREFIX,
            "Request": {
                "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": "2", "VolumeSizeInGB": "30"},
                "EnableNetworkIsolation": "true",
            },
        }
    )
    assert parsed.request["ResourceConfig"]["InstanceCount"] == 2
    assert parsed.request["EnableNetworkIsolation"] is True


def test_delete_with_unreadable_properties_stops_the_job_its_physical_id_names(clock: FakeClock) -> None:
    name = f"{PREFIX}-0a1b2c3d"
    run, evt = Run(), event("Delete", physical_id=name, properties={"SchemaVersion": "99"})
    run.stub.add_response("describe_training_job", description(name), {"TrainingJobName": name})
    run.stub.add_response("list_tags", {"Tags": identity_tags(event("Create"))}, {"ResourceArn": arn_of(name)})
    run.stub.add_response("stop_training_job", {}, {"TrainingJobName": name})
    body = run(evt)
    assert_contract(body, evt)
    assert body["Status"] == "SUCCESS"


def test_delete_with_unreadable_properties_searches_the_stacks_namespace_by_identity_tags(clock: FakeClock) -> None:
    """An id that names no job of this resource: its running jobs are found by prefix and tags."""
    run, evt = Run(), event("Delete", physical_id="Training-Train-1B2C3D4E", properties={"SchemaVersion": "99"})
    ours, other_resource = f"{PREFIX}-0a1b2c3d", "training-2327-0000aaaa-11112222"
    squatter = f"x-{PREFIX}-0a1b2c3d"  # contains the prefix, outside the namespace: never read
    run.stub.add_client_error("describe_training_job", **not_found(evt["PhysicalResourceId"]))
    run.stub.add_response(
        "list_training_jobs",
        {"TrainingJobSummaries": [_summary(n, "InProgress") for n in (squatter, ours, other_resource)]},
        {"NameContains": "training-2327", "StatusEquals": "InProgress", "MaxResults": 100},
    )
    run.stub.add_response("list_tags", {"Tags": identity_tags(event("Create"))}, {"ResourceArn": arn_of(ours)})
    foreign_tags = [{"Key": handler.TAG_STACK, "Value": evt["StackId"]}, {"Key": handler.TAG_RESOURCE, "Value": "B"}]
    run.stub.add_response("list_tags", {"Tags": foreign_tags}, {"ResourceArn": arn_of(other_resource)})
    run.stub.add_response("describe_training_job", description(ours), {"TrainingJobName": ours})
    run.stub.add_response("stop_training_job", {}, {"TrainingJobName": ours})
    assert run(evt)["Status"] == "SUCCESS"


def test_delete_with_unreadable_properties_and_a_name_outside_the_stack_succeeds(clock: FakeClock) -> None:
    run, evt = Run(), event("Delete", physical_id="someone-elses-job", properties={"SchemaVersion": "99"})
    run.stub.add_client_error("describe_training_job", "AccessDeniedException", "not authorized", 400)
    run.stub.add_response(
        "list_training_jobs",
        {"TrainingJobSummaries": []},
        {"NameContains": "training-2327", "StatusEquals": "InProgress", "MaxResults": 100},
    )
    assert run(evt)["Status"] == "SUCCESS"


def test_jobs_that_merely_contain_the_prefix_are_never_read(clock: FakeClock) -> None:
    """A foreign job named ``x-<prefix>-y`` must not make a spec-changing Update fail."""
    old_name = f"{PREFIX}-0a1b2c3d"
    new_request = _changed(InstanceCount=2)
    run = Run()
    evt = event("Update", physical_id=old_name, properties=props(new_request), old_properties=props())
    run.stub.add_response(
        "list_training_jobs",
        {"TrainingJobSummaries": [_summary(f"x-{PREFIX}-y", "InProgress"), _summary(old_name, "InProgress")]},
        {"NameContains": PREFIX, "MaxResults": 100},
    )
    run.stub.add_response("list_tags", {"Tags": identity_tags(event("Create"))}, {"ResourceArn": arn_of(old_name)})
    expect_create(run, evt, name_for(evt), new_request)
    assert run(evt)["Status"] == "SUCCESS"


# ----- Update ----------------------------------------------------------------------------


def _changed(**resource_config: Any) -> dict[str, Any]:
    request = copy.deepcopy(REQUEST)
    request["ResourceConfig"].update(resource_config)
    return request


def _summary(name: str, status: str) -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "TrainingJobArn": arn_of(name),
        "TrainingJobStatus": status,
        "CreationTime": description(name)["CreationTime"],
    }


def test_update_of_an_immutable_field_starts_a_new_job(clock: FakeClock) -> None:
    old_name = f"{PREFIX}-0a1b2c3d"
    new_request = _changed(InstanceCount=2)
    run = Run()
    evt = event("Update", physical_id=old_name, properties=props(new_request), old_properties=props())
    name = name_for(evt)
    run.stub.add_response(
        "list_training_jobs",
        {"TrainingJobSummaries": [_summary(old_name, "InProgress")]},
        {"NameContains": PREFIX, "MaxResults": 100},
    )
    run.stub.add_response("list_tags", {"Tags": identity_tags(event("Create"))}, {"ResourceArn": arn_of(old_name)})
    expect_create(run, evt, name, new_request)
    body = run(evt)
    assert_contract(body, evt)
    assert body["Status"] == "SUCCESS"
    assert body["PhysicalResourceId"] == name != old_name


def test_update_of_tags_only_keeps_the_job(clock: FakeClock) -> None:
    name = f"{PREFIX}-0a1b2c3d"
    old_request = {**REQUEST, "Tags": [{"Key": "team", "Value": "a"}, {"Key": "gone", "Value": "x"}]}
    new_request = {**REQUEST, "Tags": [{"Key": "team", "Value": "b"}, {"Key": "new", "Value": "y"}]}
    run = Run()
    evt = event("Update", physical_id=name, properties=props(new_request), old_properties=props(old_request))
    run.stub.add_response("describe_training_job", description(name, "Completed"), {"TrainingJobName": name})
    run.stub.add_response(
        "add_tags",
        {"Tags": []},
        {"ResourceArn": arn_of(name), "Tags": [{"Key": "team", "Value": "b"}, {"Key": "new", "Value": "y"}]},
    )
    run.stub.add_response("delete_tags", {}, {"ResourceArn": arn_of(name), "TagKeys": ["gone"]})
    body = run(evt)
    assert_contract(body, evt)
    assert (body["Status"], body["PhysicalResourceId"]) == ("SUCCESS", name)


def test_update_of_in_place_fields_calls_update_training_job(clock: FakeClock) -> None:
    name = f"{PREFIX}-0a1b2c3d"
    run = Run()
    evt = event(
        "Update", physical_id=name, properties=props(_changed(KeepAlivePeriodInSeconds=600)), old_properties=props()
    )
    run.stub.add_response("describe_training_job", description(name), {"TrainingJobName": name})
    run.stub.add_response(
        "update_training_job",
        {"TrainingJobArn": arn_of(name)},
        {"TrainingJobName": name, "ResourceConfig": {"KeepAlivePeriodInSeconds": 600}},
    )
    body = run(evt)
    assert (body["Status"], body["PhysicalResourceId"]) == ("SUCCESS", name)


def test_keep_alive_change_on_a_completed_job_with_an_available_pool_is_applied(clock: FakeClock) -> None:
    """A keep-alive of 0 ends a Completed job's Available warm pool, and its cost."""
    sm = FakeSageMaker()
    name, properties = _warm_pool_job(sm, removal="stop")
    ended = props(_changed(KeepAlivePeriodInSeconds=0), RemovalBehavior="stop")
    body = _deliver(sm, event("Update", physical_id=name, properties=ended, old_properties=properties))
    assert (body["Status"], body["PhysicalResourceId"]) == ("SUCCESS", name)
    assert sm.jobs[name].updates == [{"ResourceConfig": {"KeepAlivePeriodInSeconds": 0}}]
    assert sm.describe_training_job(TrainingJobName=name)["WarmPoolStatus"] == {"Status": "Terminated"}


def _debuggable(enabled: bool) -> dict[str, Any]:
    return props({**REQUEST, "RemoteDebugConfig": {"EnableRemoteDebug": enabled}})


@pytest.mark.parametrize(
    ("status", "secondary", "old", "new", "member"),
    [
        ("Completed", "Completed", props(), props(_changed(KeepAlivePeriodInSeconds=600)), "KeepAlivePeriodInSeconds"),
        ("InProgress", "Starting", _debuggable(False), _debuggable(True), "RemoteDebugConfig"),
        # the rollback of that change, once the job uploads its model
        ("InProgress", "Uploading", _debuggable(True), _debuggable(False), "RemoteDebugConfig"),
    ],
)
def test_in_place_changes_sagemaker_would_refuse_are_reported_not_sent(
    status: str, secondary: str, old: dict[str, Any], new: dict[str, Any], member: str, clock: FakeClock
) -> None:
    """RemoteDebugConfig changes only while SecondaryStatus is Downloading or Training, the keep-alive
    only while the job runs or keeps an Available pool: otherwise SUCCESS, with what was left in Reason."""
    sm = FakeSageMaker()
    name = _deliver(sm, event("Create", properties=old))["PhysicalResourceId"]
    sm.finish(name, status, SecondaryStatus=secondary)
    body = _deliver(sm, event("Update", physical_id=name, properties=new, old_properties=old))
    assert (body["Status"], body["PhysicalResourceId"]) == ("SUCCESS", name)
    assert member in body["Reason"] and name in body["Reason"]
    assert "UpdateTrainingJob" not in sm.calls


def test_an_in_place_refusal_never_fails_the_update(clock: FakeClock) -> None:
    """Described while Training, refused by UpdateTrainingJob (the job moved on): the job stays as it is."""
    name = f"{PREFIX}-0a1b2c3d"
    run = Run()
    evt = event("Update", physical_id=name, properties=_debuggable(True), old_properties=_debuggable(False))
    run.stub.add_response("describe_training_job", description(name), {"TrainingJobName": name})
    run.stub.add_client_error(
        "update_training_job",
        "ValidationException",
        "RemoteDebugConfig can be updated only when SecondaryStatus is Downloading or Training",
        400,
        expected_params={"TrainingJobName": name, "RemoteDebugConfig": {"EnableRemoteDebug": True}},
    )
    body = run(evt)
    assert (body["Status"], body["PhysicalResourceId"]) == ("SUCCESS", name)
    assert "RemoteDebugConfig" in body["Reason"] and "SageMaker refused it" in body["Reason"]


def test_rollback_update_returns_to_the_original_job_without_starting_another(clock: FakeClock) -> None:
    original, replacement = f"{PREFIX}-0a1b2c3d", f"{PREFIX}-11111111"
    run = Run()
    rollback = event(
        "Update", physical_id=replacement, properties=props(), old_properties=props(_changed(InstanceCount=2))
    )
    original_tags = identity_tags(rollback, request_id="first-create")
    replacement_tags = identity_tags(event("Update", properties=props(_changed(InstanceCount=2))))
    run.stub.add_response(
        "list_training_jobs",
        {"TrainingJobSummaries": [_summary(replacement, "InProgress"), _summary(original, "InProgress")]},
        {"NameContains": PREFIX, "MaxResults": 100},
    )
    run.stub.add_response("list_tags", {"Tags": replacement_tags}, {"ResourceArn": arn_of(replacement)})
    run.stub.add_response("list_tags", {"Tags": original_tags}, {"ResourceArn": arn_of(original)})
    run.stub.add_response("describe_training_job", description(original), {"TrainingJobName": original})
    body = run(rollback)
    assert_contract(body, rollback)
    assert (body["Status"], body["PhysicalResourceId"]) == ("SUCCESS", original)


def test_update_with_a_changed_job_under_a_fixed_name_fails_clearly(clock: FakeClock) -> None:
    run = Run()
    evt = event(
        "Update",
        physical_id="nightly",
        properties=props(_changed(InstanceCount=2), TrainingJobName="nightly"),
        old_properties=props(TrainingJobName="nightly"),
    )
    # A fixed name is one job: Describe settles what a listing would (the current job, another spec).
    current = event("Create", properties=props(TrainingJobName="nightly"))
    run.stub.add_response("describe_training_job", description("nightly"), {"TrainingJobName": "nightly"})
    run.stub.add_response("list_tags", {"Tags": identity_tags(current)}, {"ResourceArn": arn_of("nightly")})
    body = run(evt)
    assert body["Status"] == "FAILED"
    assert "fixed name nightly" in body["Reason"]
    assert body["PhysicalResourceId"] == "nightly"


# ----- always answer ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "broken",
    [
        {"RequestType": "Create", "ResourceProperties": {}},
        {
            "RequestType": "Create",
            "ResourceProperties": {"SchemaVersion": "1", "JobNamePrefix": PREFIX, "Request": "{not json"},
        },
        {"RequestType": "Explode"},
        {"RequestType": "Update"},
        {"StackId": None},
    ],
)
def test_malformed_events_get_a_failed_answer(broken: dict[str, Any]) -> None:
    evt = {**event("Create"), **broken}
    if evt.get("StackId") is None:
        evt.pop("StackId")
    sent: list[dict[str, Any]] = []
    handler.handler(evt, Context(), client=object(), put=lambda url, body: sent.append(json.loads(body)))
    assert len(sent) == 1
    assert sent[0]["Status"] == "FAILED"
    assert sent[0]["Reason"]


def test_an_event_without_response_url_is_logged_and_ignored(capsys: pytest.CaptureFixture[str]) -> None:
    handler.handler({"RequestType": "Create"}, Context(), client=object(), put=lambda *a: pytest.fail("sent"))
    assert "ignored-malformed-event" in capsys.readouterr().out


class _Crashing:
    def create_training_job(self, **kwargs: Any) -> Any:
        raise KeyError("boom")


def test_handler_crash_still_answers_failed() -> None:
    evt = event("Create")
    sent: list[dict[str, Any]] = []
    handler.handler(evt, Context(), client=_Crashing(), put=lambda url, body: sent.append(json.loads(body)))
    assert [s["Status"] for s in sent] == ["FAILED"]
    assert "internal error (KeyError" in sent[0]["Reason"]
    assert_contract(sent[0], evt)


class _NoCallExpected:
    def __getattr__(self, operation: str) -> Any:
        pytest.fail(f"{operation} was called with no time left to finish it")


def test_too_little_time_left_answers_failed_without_starting_anything() -> None:
    evt = event("Create")
    sent: list[dict[str, Any]] = []
    # 10.05 s left: less than one call's bound before the answer is due.
    handler.handler(
        evt, Context(remaining_ms=10_050), client=_NoCallExpected(), put=lambda u, b: sent.append(json.loads(b))
    )
    assert len(sent) == 1
    assert sent[0]["Status"] == "FAILED"
    assert "ran out of time" in sent[0]["Reason"]
    assert sent[0]["PhysicalResourceId"] == handler.NOT_CREATED + name_for(evt)


def test_oversized_reason_is_truncated_to_the_4096_byte_limit() -> None:
    sent: list[bytes] = []
    responder = handler.Responder(event("Create"), lambda url, body: sent.append(body))
    responder.send("FAILED", "not-created:x", "x" * 10_000)
    assert len(sent[0]) <= 4096
    assert json.loads(sent[0])["Reason"].endswith("...")


def test_logs_are_json_lines_without_the_response_url(capsys: pytest.CaptureFixture[str], clock: FakeClock) -> None:
    run, evt = Run(), event("Create")
    expect_create(run, evt, name_for(evt))
    run(evt)
    out = capsys.readouterr().out
    lines = [json.loads(line) for line in out.splitlines()]
    assert {line.get("action") for line in lines} >= {"created", "respond"}
    assert "X-Amz-Signature" not in out and "cloudformation-custom-resource-response" not in out


def test_default_put_targets_the_response_url_with_an_empty_content_type(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    class _Response:
        def __enter__(self) -> _Response:
            return self

        def __exit__(self, *exc: Any) -> None:
            return None

    def fake_urlopen(request: Any, timeout: float) -> _Response:
        seen.update(url=request.full_url, method=request.get_method(), headers=dict(request.header_items()))
        return _Response()

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    handler._default_put("https://example.invalid/response", b"{}")
    assert seen["method"] == "PUT"
    assert seen["headers"]["Content-type"] == ""


# ----- run_trigger ------------------------------------------------------------------------


def test_a_changed_run_trigger_starts_a_new_job_for_the_same_request(clock: FakeClock) -> None:
    old_name = f"{PREFIX}-0a1b2c3d"
    run = Run()
    old = event("Create", properties=props(RunTrigger="2026-11-01"))
    evt = event(
        "Update",
        physical_id=old_name,
        properties=props(RunTrigger="2026-12-01"),
        old_properties=props(RunTrigger="2026-11-01"),
    )
    name = name_for(evt)
    run.stub.add_response(
        "list_training_jobs",
        {"TrainingJobSummaries": [_summary(old_name, "Completed")]},
        {"NameContains": PREFIX, "MaxResults": 100},
    )
    run.stub.add_response("list_tags", {"Tags": identity_tags(old)}, {"ResourceArn": arn_of(old_name)})
    expect_create(run, evt, name, REQUEST)
    body = run(evt)
    assert_contract(body, evt)
    assert (body["Status"], body["PhysicalResourceId"]) == ("SUCCESS", name)
    assert name != old_name


def test_an_unchanged_run_trigger_keeps_the_job(clock: FakeClock) -> None:
    name = f"{PREFIX}-0a1b2c3d"
    run = Run()
    evt = event("Update", physical_id=name, properties=props(RunTrigger="v1"), old_properties=props(RunTrigger="v1"))
    run.stub.add_response("describe_training_job", description(name, "Completed"), {"TrainingJobName": name})
    body = run(evt)
    assert_contract(body, evt)
    assert (body["Status"], body["PhysicalResourceId"]) == ("SUCCESS", name)
