"""Stopping: ``StoppingCondition`` and managed spot training, and how long a deployment that
waits for the job may wait."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aws_cdk import Duration

from ..completion import MAX_WAIT, STARTUP_MARGIN
from ..prop_types import labeled
from .context import JobContext, RequestPart, reads

if TYPE_CHECKING:
    from ..cli_input import CliReader

# SageMaker's documented maximum runtime of a training job (the API model states no maximum).
MAX_RUNTIME_SECONDS = 28 * 24 * 3600
DEFAULT_RUNTIME_SECONDS = 86400  # SageMaker's default: 1 day


class Stopping(RequestPart):
    """How long the job may run (default: 1 day), wait for spot capacity and stay pending."""

    def __init__(
        self,
        *,
        max_runtime: Duration | None,
        enable_managed_spot_training: bool | None,
        max_wait: Duration | None,
        max_pending_time: Duration | None,
        wait_for_completion: Duration | None,
    ) -> None:
        self.runtime_set = max_runtime is not None
        self.max_runtime_seconds = int(max_runtime.to_seconds()) if max_runtime is not None else DEFAULT_RUNTIME_SECONDS
        self.spot = enable_managed_spot_training
        self.max_wait, self.max_pending, self.wait = max_wait, max_pending_time, wait_for_completion

    def check(self, ctx: JobContext) -> None:
        problems, runtime, max_wait = ctx.problems, self.max_runtime_seconds, self.max_wait
        if self.spot:
            if max_wait is None:
                problems.add(
                    labeled("max_wait"), None, "required with enable_managed_spot_training (EnableManagedSpotTraining)"
                )
            elif max_wait.to_seconds() < runtime:
                problems.add(
                    labeled("max_wait"), max_wait, f"must be >= max_runtime ({runtime} s, MaxRuntimeInSeconds)"
                )
        elif max_wait is not None:
            problems.add(
                labeled("max_wait"),
                max_wait,
                "only allowed with enable_managed_spot_training (EnableManagedSpotTraining)",
            )
        if runtime > MAX_RUNTIME_SECONDS:
            problems.add(
                labeled("max_runtime"),
                f"{runtime} s",
                f"at most 28 days ({MAX_RUNTIME_SECONDS} s), SageMaker's documented limit for a training job",
            )
        self._wait_problems(ctx)

    def _wait_problems(self, ctx: JobContext) -> None:
        """The completion gate must outlast the job's longest possible run, within 12 hours."""
        if self.wait is None:
            return
        seconds = self.wait.to_seconds()
        spot = bool(self.spot) and self.max_wait is not None
        longest = self.max_wait.to_seconds() if spot and self.max_wait is not None else self.max_runtime_seconds
        needed = longest + STARTUP_MARGIN.to_seconds()
        if seconds > MAX_WAIT.to_seconds():
            ctx.problems.add(
                "wait_for_completion", self.wait, "at most 12 hours (CloudFormation's WaitCondition limit)"
            )
        elif seconds <= needed:
            ctx.problems.add(
                "wait_for_completion",
                self.wait,
                f"must exceed {'max_wait' if spot else 'max_runtime'} ({longest} s) plus "
                f"{int(STARTUP_MARGIN.to_minutes())} minutes of start-up, i.e. more than {needed} s",
            )

    def render(self, ctx: JobContext, request: dict[str, Any]) -> None:
        stopping: dict[str, Any] = {}
        if self.runtime_set or not ctx.serverless:  # SageMaker chooses a serverless job's runtime
            stopping["MaxRuntimeInSeconds"] = self.max_runtime_seconds
        if self.max_wait is not None:
            stopping["MaxWaitTimeInSeconds"] = int(self.max_wait.to_seconds())
        if self.max_pending is not None:
            stopping["MaxPendingTimeInSeconds"] = int(self.max_pending.to_seconds())
        if stopping:
            request["StoppingCondition"] = stopping
        if self.spot is not None:
            request["EnableManagedSpotTraining"] = self.spot


def read_stopping_condition(reader: CliReader, condition: Mapping[str, Any]) -> None:
    if "MaxRuntimeInSeconds" in condition:
        reader.props["max_runtime"] = Duration.seconds(condition["MaxRuntimeInSeconds"])
    if "MaxWaitTimeInSeconds" in condition:
        reader.props["max_wait"] = Duration.seconds(condition["MaxWaitTimeInSeconds"])
    if "MaxPendingTimeInSeconds" in condition:
        reader.props["max_pending_time"] = Duration.seconds(condition["MaxPendingTimeInSeconds"])
    typed = {"MaxRuntimeInSeconds", "MaxWaitTimeInSeconds", "MaxPendingTimeInSeconds"}
    reader.leftovers("StoppingCondition", condition, typed)


Stopping.cli_members = {
    "StoppingCondition": read_stopping_condition,
    "EnableManagedSpotTraining": reads("enable_managed_spot_training"),
}
