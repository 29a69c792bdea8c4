"""``python -m constructs_lib.watch``: a stack's jobs followed to their end, against moto's
SageMaker and CloudWatch Logs (and scripted status sequences where moto cannot fail a job)."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.config
import botocore.session
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from constructs_lib import watch

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerTraining"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield


def _moto_job(name: str) -> None:
    boto3.client("sagemaker").create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={
            "TrainingImage": "123456789012.dkr.ecr.us-east-1.amazonaws.com/t:1",
            "TrainingInputMode": "File",
        },
        RoleArn=ROLE,
        OutputDataConfig={"S3OutputPath": "s3://out/"},
        ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
    )
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName=watch.LOG_GROUP)
    for host in ("algo-1", "algo-2"):
        stream = f"{name}/{host}-1700000000"
        logs.create_log_stream(logGroupName=watch.LOG_GROUP, logStreamName=stream)
        now = int(time.time() * 1000)  # CloudWatch refuses events older than 14 days
        events = [{"timestamp": now + i, "message": f"{host} epoch {i}"} for i in range(3)]
        logs.put_log_events(logGroupName=watch.LOG_GROUP, logStreamName=stream, logEvents=events)


def test_a_completed_job_shows_its_transitions_and_every_log_line(aws: None) -> None:
    _moto_job("scriptmode-1")
    out = io.StringIO()
    completed = watch.follow(boto3.client("sagemaker"), boto3.client("logs"), "scriptmode-1", out, sleep=lambda _: None)
    text = out.getvalue()
    assert completed
    assert "scriptmode-1: Completed\n" in text
    assert "scriptmode-1: Starting - Preparing the instances for training" in text
    for host in ("algo-1", "algo-2"):
        for i in range(3):
            assert text.count(f"] {host} epoch {i}\n") == 1  # each line once
    assert "model: s3://out/scriptmode-1/output/model.tar.gz" in text
    assert "\x1b[" not in text  # not a terminal: plain lines


class _Scripted:
    """DescribeTrainingJob answers in order: a job that progresses, then fails."""

    def __init__(self, answers: list[dict[str, Any]]) -> None:
        self.answers = answers

    def describe_training_job(self, TrainingJobName: str) -> dict[str, Any]:
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def test_transitions_print_once_as_they_happen_and_a_failure_gives_its_reason(aws: None) -> None:
    steps = [("Starting", "Launching instances"), ("Downloading", "Downloading input data"), ("Training", "")]
    answers = [
        {
            "TrainingJobStatus": "InProgress",
            "SecondaryStatus": steps[n - 1][0],
            "SecondaryStatusTransitions": [{"Status": s, "StatusMessage": m} for s, m in steps[:n]],
        }
        for n in (1, 1, 2, 3)
    ]
    answers.append(
        {
            "TrainingJobStatus": "Failed",
            "SecondaryStatus": "Failed",
            "SecondaryStatusTransitions": [{"Status": s, "StatusMessage": m} for s, m in steps]
            + [{"Status": "Failed", "StatusMessage": "AlgorithmError: exit code 1"}],
            "FailureReason": "AlgorithmError: ExecuteUserScriptError: exit code 1",
        }
    )
    out = io.StringIO()
    sleeps: list[float] = []
    completed = watch.follow(_Scripted(answers), boto3.client("logs"), "job-1", out, interval=5, sleep=sleeps.append)
    lines = out.getvalue().splitlines()
    assert not completed
    assert lines == [
        "job-1: InProgress",
        "job-1: Starting - Launching instances",
        "job-1: Downloading - Downloading input data",
        "job-1: Training",
        "job-1: Failed",
        "job-1: Failed - AlgorithmError: exit code 1",
        "job-1: Failed: AlgorithmError: ExecuteUserScriptError: exit code 1",
    ]
    assert sleeps == [5, 5, 5, 5]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_in_a_terminal_the_status_line_updates_in_place(aws: None) -> None:
    _moto_job("tty-1")
    out = _Terminal()
    assert watch.follow(boto3.client("sagemaker"), boto3.client("logs"), "tty-1", out, sleep=lambda _: None)
    assert "\r\x1b[2Ktty-1: Completed / Completed (0m00s)" in out.getvalue()


def _cloudformation(resources: list[dict[str, Any]], template: dict[str, Any]) -> Any:
    client = botocore.session.get_session().create_client("cloudformation", region_name=REGION)
    stubber = Stubber(client)
    stubber.add_response("get_template", {"TemplateBody": json.dumps(template)}, {"StackName": "ScriptMode"})
    stubber.add_response("list_stack_resources", {"StackResourceSummaries": resources}, {"StackName": "ScriptMode"})
    stubber.activate()
    return client


def _summary(logical_id: str, kind: str, physical: str) -> dict[str, Any]:
    return {
        "LogicalResourceId": logical_id,
        "PhysicalResourceId": physical,
        "ResourceType": kind,
        "LastUpdatedTimestamp": "2026-11-27T10:00:00Z",
        "ResourceStatus": "CREATE_COMPLETE",
    }


def test_the_stacks_jobs_are_found_and_never_created_ones_skipped(aws: None) -> None:
    resources = [
        _summary("TrainA1B2", watch.RESOURCE_TYPE, "scriptmode-aaaa-1"),
        _summary("TrainRole", "AWS::IAM::Role", "role"),
        _summary("Other9", watch.RESOURCE_TYPE, "unconfirmed:scriptmode-bbbb-2"),
        _summary("Eval77", watch.RESOURCE_TYPE, "scriptmode-cccc-3"),
        _summary("Emulated", watch.RESOURCE_TYPE, "ScriptMode-Emulated-ABCDEF"),  # an emulator's own id
    ]
    template = {
        "Resources": {
            "Eval77": {
                "Properties": {"JobNamePrefix": "scriptmode-cccc"},
                "Metadata": {"aws:cdk:path": "S/Eval/Resource"},
            },
            "Emulated": {"Properties": {"JobNamePrefix": "scriptmode-dddd"}},
        }
    }
    _moto_job("scriptmode-dddd-4")
    sagemaker = boto3.client("sagemaker")
    found = watch.stack_jobs(_cloudformation(resources, template), sagemaker, "ScriptMode")
    assert found == ["scriptmode-aaaa-1", "scriptmode-cccc-3", "scriptmode-dddd-4"]
    assert watch.stack_jobs(_cloudformation(resources, template), sagemaker, "ScriptMode", ["S/Eval"]) == [
        "scriptmode-cccc-3"
    ]


def _session(**clients: Any) -> Any:
    """A session whose clients are moto's, or the given stand-ins."""
    return type(
        "Session",
        (),
        {
            "create_client": lambda _, service, region_name=None, config=None: (
                clients.get(service) or boto3.client(service)
            )
        },
    )()


def test_the_command_exits_2_when_the_stack_has_no_job(aws: None) -> None:
    stack = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}
    boto3.client("cloudformation").create_stack(StackName="Empty", TemplateBody=json.dumps(stack))
    out = io.StringIO()
    assert watch.main(["Empty", "--interval", "0"], out=out, session=_session()) == 2
    assert "no training job found in stack Empty" in out.getvalue()


def test_the_command_exits_0_when_every_job_completed_and_1_when_one_did_not(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    _moto_job("cli-1")
    monkeypatch.setattr(watch, "stack_jobs", lambda *_: ["cli-1"])
    assert watch.main(["ScriptMode", "--interval", "0"], out=io.StringIO(), session=_session()) == 0
    stopped = _Scripted([{"TrainingJobStatus": "Stopped", "FailureReason": "MaxRuntimeExceeded"}])
    out = io.StringIO()
    assert watch.main(["ScriptMode", "--interval", "0"], out=out, session=_session(sagemaker=stopped)) == 1
    assert "cli-1: Stopped: MaxRuntimeExceeded" in out.getvalue()


class _Logs:
    """CloudWatch Logs with two instances' lines at given times (milliseconds)."""

    class exceptions:
        ResourceNotFoundException = KeyError

    def __init__(self, streams: dict[str, list[tuple[int, str]]]) -> None:
        self.streams = streams
        self.read: set[str] = set()

    def describe_log_streams(self, **_: Any) -> dict[str, Any]:
        return {"logStreams": [{"logStreamName": name} for name in self.streams]}

    def get_log_events(self, logStreamName: str, **kwargs: Any) -> dict[str, Any]:
        if logStreamName in self.read:
            return {"events": [], "nextForwardToken": kwargs.get("nextToken")}
        self.read.add(logStreamName)
        events = [{"timestamp": t, "message": m} for t, m in self.streams[logStreamName]]
        return {"events": events, "nextForwardToken": f"f/{logStreamName}"}


def test_log_lines_and_transitions_come_out_in_time_order() -> None:
    from datetime import UTC, datetime

    def at(second: int) -> datetime:
        return datetime(2026, 11, 27, 10, 0, second, tzinfo=UTC)

    def ms(second: int) -> int:
        return int(at(second).timestamp() * 1000)

    transitions = [
        {"Status": "Starting", "StartTime": at(0)},
        {"Status": "Downloading", "StartTime": at(2)},
        {"Status": "Training", "StartTime": at(4)},
        {"Status": "Uploading", "StartTime": at(8)},
        {"Status": "Completed", "StartTime": at(9)},
    ]
    done = {
        "TrainingJobStatus": "Completed",
        "SecondaryStatus": "Completed",
        "SecondaryStatusTransitions": transitions,
        "ModelArtifacts": {"S3ModelArtifacts": "s3://out/job-1/output/model.tar.gz"},
    }
    logs = _Logs(
        {
            "job-1/algo-1-1": [(ms(3), "algo-1 downloading"), (ms(5), "algo-1 epoch 1"), (ms(7), "algo-1 epoch 2")],
            "job-1/algo-2-1": [(ms(6), "algo-2 epoch 1")],
        }
    )
    out = io.StringIO()
    assert watch.follow(_Scripted([done]), logs, "job-1", out, sleep=lambda _: None)
    assert out.getvalue().splitlines() == [
        "job-1: Completed",
        "job-1: Starting",
        "job-1: Downloading",
        "[algo-1-1] algo-1 downloading",
        "job-1: Training",
        "[algo-1-1] algo-1 epoch 1",
        "[algo-2-1] algo-2 epoch 1",
        "[algo-1-1] algo-1 epoch 2",
        "job-1: Uploading",
        "job-1: Completed",
        "job-1: Completed; model: s3://out/job-1/output/model.tar.gz",
    ]


def test_a_missing_stack_is_one_line_and_exit_code_3(aws: None) -> None:
    out = io.StringIO()
    assert watch.main(["Nowhere", "--interval", "0"], out=out, session=_session()) == watch.NO_STACK == 3
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("stack Nowhere not found: ")


def test_an_unreachable_endpoint_is_one_line_and_exit_code_4(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setattr(watch, "_RETRIES", botocore.config.Config(retries={"max_attempts": 0}, connect_timeout=1))
    out = io.StringIO()
    assert watch.main(["ScriptMode", "--region", REGION, "--interval", "0"], out=out) == watch.UNREACHABLE == 4
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cannot reach AWS: ")


def test_help_is_plain_text_and_lists_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        watch.main(["--help"])
    text = capsys.readouterr().out
    assert "``" not in text
    for code, meaning in watch.EXIT_CODES.items():
        assert f"  {code}  {meaning}" in text
    assert set(watch.EXIT_CODES) == {0, 1, 2, 3, 4, 5}
