"""Debugging: the Debugger hook and rules, the Profiler and its rules, TensorBoard output."""

from __future__ import annotations

from typing import Any

from ..debugging import Debugging
from ..nag import acknowledge_wildcard
from .context import JobContext, RequestPart


class DebuggingPart(RequestPart):
    """``DebugHookConfig``, ``DebugRuleConfigurations``, ``ProfilerConfig``,
    ``ProfilerRuleConfigurations``, ``TensorBoardOutputConfig``: the role writes each location and
    the rules read what they analyze."""

    def __init__(self, debugging: Debugging) -> None:
        self.debugging = debugging

    def grant(self, ctx: JobContext) -> None:
        assert ctx.output is not None
        self.debugging.grant(ctx.stack, ctx.role, ctx.output)
        for location in self.debugging.locations():
            acknowledge_wildcard(
                ctx.role,
                location.objects_arn(ctx.stack),
                "Objects below a prefix the job's Debugger, Profiler or TensorBoard output writes to; "
                "SageMaker chooses the object names at run time.",
            )
            ctx.reach(location)

    def render(self, ctx: JobContext, request: dict[str, Any]) -> None:
        self.debugging.render_into(request)
