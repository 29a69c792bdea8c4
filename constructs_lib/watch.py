"""Follow a stack's training jobs from a terminal, as the SDK's ``fit(logs=True)`` does.

    python -m constructs_lib.watch STACK [JOB ...] [--region R] [--interval SECONDS]

finds the stack's ``Custom::SageMakerTrainingJob`` resources (JOB narrows them by logical id,
construct path or job name), then for each job prints its status, and every secondary status
transition and CloudWatch log line (``/aws/sagemaker/TrainingJobs``, one stream per instance) in
time order, until the job ends. In a terminal the current status stays on one updating line;
otherwise (CI, a pipe) plain lines only. Exit codes: see ``EXIT_CODES``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

import botocore.config
import botocore.exceptions
import botocore.session

_RETRIES = botocore.config.Config(retries={"mode": "standard", "max_attempts": 10})
RESOURCE_TYPE = "Custom::SageMakerTrainingJob"
LOG_GROUP = "/aws/sagemaker/TrainingJobs"
ENDED = ("Completed", "Failed", "Stopped")
NOT_CREATED = ("unconfirmed:", "not-created:")  # the handler's physical ids for jobs never confirmed
JOB_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")

COMPLETED, FAILED, NO_JOB, NO_STACK, UNREACHABLE, REFUSED = 0, 1, 2, 3, 4, 5
EXIT_CODES = {
    COMPLETED: "every job completed",
    FAILED: "a job failed or stopped (SageMaker's reason is printed)",
    NO_JOB: "the stack has no training job (or none matches JOB)",
    NO_STACK: "the stack does not exist in the region",
    UNREACHABLE: "AWS could not be reached (no endpoint, no region or no credentials)",
    REFUSED: "AWS refused a call (for example access denied); the message names it",
}
DESCRIPTION = (
    "Follow a stack's training jobs to their end: status, secondary status transitions and the CloudWatch "
    "log lines of every instance, in time order, as the SageMaker Python SDK's fit(logs=True) shows them."
)


def stack_jobs(cloudformation: Any, sagemaker: Any, stack: str, wanted: Sequence[str] = ()) -> list[str]:
    """The names of the stack's training jobs, narrowed to ``wanted`` logical ids, construct paths
    or job names when given. A resource's physical id is its job's name; where it is not (an
    emulator's own ids), the newest job under the resource's ``JobNamePrefix`` is."""
    template = cloudformation.get_template(StackName=stack)["TemplateBody"]
    if isinstance(template, str):
        template = json.loads(template)
    names = []
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack):
        for resource in page["StackResourceSummaries"]:
            physical = resource.get("PhysicalResourceId", "")
            if resource["ResourceType"] != RESOURCE_TYPE or not physical or physical.startswith(NOT_CREATED):
                continue  # not a job, or one that was never created
            logical = resource["LogicalResourceId"]
            path = template.get("Resources", {}).get(logical, {}).get("Metadata", {}).get("aws:cdk:path", "")
            if wanted and not any(w in (logical, physical) or w in path for w in wanted):
                continue
            prefix = template.get("Resources", {}).get(logical, {}).get("Properties", {}).get("JobNamePrefix")
            name = _job_name(sagemaker, physical, prefix)
            if name is not None:
                names.append(name)
    return names


def _job_name(sagemaker: Any, physical: str, prefix: str | None) -> str | None:
    if JOB_NAME.fullmatch(physical) and (prefix is None or physical.startswith(prefix)):
        return physical
    if prefix is None:
        return None
    jobs = sagemaker.list_training_jobs(NameContains=prefix, SortBy="CreationTime", SortOrder="Descending")
    found = [j["TrainingJobName"] for j in jobs["TrainingJobSummaries"] if j["TrainingJobName"].startswith(prefix)]
    return found[0] if found else None


@dataclass
class _Logs:
    """Every log stream of one job, read forward from where it was left."""

    client: Any
    job: str
    tokens: dict[str, str | None] = field(default_factory=dict)

    def new_lines(self) -> list[tuple[float, str, str]]:
        """The lines written since the last call: (time in seconds, instance, message)."""
        lines: list[tuple[float, str, str]] = []
        try:
            streams = self.client.describe_log_streams(logGroupName=LOG_GROUP, logStreamNamePrefix=f"{self.job}/")
        except self.client.exceptions.ResourceNotFoundException:
            return lines  # the group appears with the job's first log line
        for stream in streams.get("logStreams", []):
            name = stream["logStreamName"]
            while True:
                kwargs: dict[str, Any] = {"logGroupName": LOG_GROUP, "logStreamName": name, "startFromHead": True}
                if self.tokens.get(name):
                    kwargs["nextToken"] = self.tokens[name]
                page = self.client.get_log_events(**kwargs)
                events = page.get("events", [])
                host = name.split("/", 1)[-1]
                lines += [(event.get("timestamp", 0) / 1000, host, event["message"]) for event in events]
                previous, self.tokens[name] = self.tokens.get(name), page.get("nextForwardToken")
                if not events or self.tokens[name] == previous:
                    break
        return sorted(lines, key=lambda line: line[0])  # the instances' lines interleaved by time


class _Display:
    """Plain lines, plus (in a terminal) one status line rewritten in place."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.tty = out.isatty()
        self.status = ""

    def line(self, text: str) -> None:
        if self.tty and self.status:
            self.out.write("\r\x1b[2K")
        self.out.write(text + "\n")
        if self.tty and self.status:
            self.out.write(self.status)
        self.out.flush()

    def update(self, text: str) -> None:
        if self.tty:
            self.status = text
            self.out.write("\r\x1b[2K" + text)
            self.out.flush()

    def done(self) -> None:
        if self.tty and self.status:
            self.out.write("\r\x1b[2K")
            self.out.flush()
        self.status = ""


def follow(
    sagemaker: Any,
    logs: Any,
    job: str,
    out: TextIO,
    *,
    interval: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Follows ``job`` until it ends; True when it completed."""
    display = _Display(out)
    seen = 0
    status = ""
    log_reader = _Logs(logs, job)

    def show(transitions: list[dict[str, Any]]) -> None:
        """The new transitions and log lines, merged in time order (a transition before the lines
        of the same moment; one without a time keeps its place among the transitions)."""
        entries: list[tuple[float, int, int, str]] = []
        last = float("-inf")
        for index, transition in enumerate(transitions):
            when = _seconds(transition.get("StartTime"))
            last = when if when is not None else last
            message = transition.get("StatusMessage", "")
            entries.append((last, 0, index, f"{job}: {transition['Status']}" + (f" - {message}" if message else "")))
        for index, (when, stream, message) in enumerate(log_reader.new_lines()):
            entries.append((when, 1, index, f"[{stream}] {message}"))
        for *_, text in sorted(entries):
            display.line(text)

    started = time.monotonic()
    while True:
        description = sagemaker.describe_training_job(TrainingJobName=job)
        if description["TrainingJobStatus"] != status:
            status = description["TrainingJobStatus"]
            display.line(f"{job}: {status}")
        transitions = description.get("SecondaryStatusTransitions", [])
        show(transitions[seen:])
        seen = len(transitions)
        elapsed = int(time.monotonic() - started)
        display.update(
            f"{job}: {status} / {description.get('SecondaryStatus', '')} ({elapsed // 60}m{elapsed % 60:02d}s)"
        )
        if status in ENDED:
            show([])  # the last lines, written after the end
            display.done()
            if status == "Completed":
                display.line(
                    f"{job}: Completed; model: {description.get('ModelArtifacts', {}).get('S3ModelArtifacts')}"
                )
                return True
            display.line(f"{job}: {status}: {description.get('FailureReason', 'no reason given')}")
            return False
        sleep(interval)


def _seconds(value: Any) -> float | None:
    """A time of SageMaker's answer (a datetime, or seconds) in seconds since the epoch."""
    if value is None:
        return None
    if hasattr(value, "timestamp"):
        return float(value.timestamp())
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout, session: Any = None) -> int:
    epilog = "exit codes:\n" + "\n".join(f"  {code}  {meaning}" for code, meaning in EXIT_CODES.items())
    parser = argparse.ArgumentParser(
        prog="python -m constructs_lib.watch",
        description=textwrap.fill(DESCRIPTION, 79),
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("stack", help="the CloudFormation stack's name")
    parser.add_argument("jobs", nargs="*", help="logical ids, construct paths or job names (default: all)")
    parser.add_argument("--region", help="default: the AWS configuration's")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between polls (default: 10)")
    args = parser.parse_args(argv)
    session = session or botocore.session.get_session()

    def client(service: str) -> Any:
        # Standard retries ride out throttling while many jobs (or watchers) poll the same account.
        return session.create_client(service, region_name=args.region, config=_RETRIES)

    try:
        sagemaker, logs = client("sagemaker"), client("logs")
        names = stack_jobs(client("cloudformation"), sagemaker, args.stack, args.jobs)
        if not names:
            print(f"no training job found in stack {args.stack}", file=out)
            return NO_JOB
        results = [follow(sagemaker, logs, name, out, interval=args.interval) for name in names]
    except botocore.exceptions.ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        message = error.response.get("Error", {}).get("Message", str(error))
        if code == "ValidationError" and "does not exist" in message:
            print(f"stack {args.stack} not found: {message}", file=out)
            return NO_STACK
        print(f"AWS refused {error.operation_name}: {code}: {message}", file=out)
        return REFUSED
    except (
        botocore.exceptions.EndpointConnectionError,
        botocore.exceptions.ConnectionError,
        botocore.exceptions.NoRegionError,
        botocore.exceptions.NoCredentialsError,
    ) as error:
        print(f"cannot reach AWS: {error}", file=out)
        return UNREACHABLE
    return COMPLETED if all(results) else FAILED


if __name__ == "__main__":
    raise SystemExit(main())
