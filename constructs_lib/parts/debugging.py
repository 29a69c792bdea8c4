"""Debugging: the Debugger hook and rules, the Profiler and its rules, TensorBoard output."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aws_cdk import Duration, Size

from ..debugging import (
    CollectionConfiguration,
    Debugging,
    DebugHookConfig,
    ProfilerConfig,
    RuleConfiguration,
    TensorBoardOutput,
)
from ..nag import acknowledge_wildcard
from .context import JobContext, RequestPart

if TYPE_CHECKING:
    from ..cli_input import CliReader


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


def read_debug_hook_config(reader: CliReader, config: Mapping[str, Any]) -> None:
    location = reader.location("DebugHookConfig.S3OutputPath", config["S3OutputPath"])
    if location is not None:
        collections = [
            CollectionConfiguration(c.get("CollectionName"), c.get("CollectionParameters"))
            for c in config.get("CollectionConfigurations", [])
        ]
        reader.props["debug_hook"] = DebugHookConfig(
            location,
            local_path=config.get("LocalPath"),
            hook_parameters=config.get("HookParameters"),
            collections=collections if "CollectionConfigurations" in config else None,
        )


def read_rule_configurations(reader: CliReader, member: str, prop: str, rules: list[Mapping[str, Any]]) -> None:
    result = []
    for i, rule in enumerate(rules):
        output = rule.get("S3OutputPath")
        location = reader.location(f"{member}[{i}].S3OutputPath", output) if output else None
        result.append(
            RuleConfiguration(
                rule["RuleConfigurationName"],
                rule["RuleEvaluatorImage"],
                rule_parameters=rule.get("RuleParameters", {}),
                s3_output=location,
                local_path=rule.get("LocalPath"),
                instance_type=rule.get("InstanceType"),
                volume_size=Size.gibibytes(rule["VolumeSizeInGB"]) if "VolumeSizeInGB" in rule else None,
            )
        )
    reader.props[prop] = result


def read_profiler_config(reader: CliReader, config: Mapping[str, Any]) -> None:
    output = config.get("S3OutputPath")
    interval = config.get("ProfilingIntervalInMilliseconds")
    reader.props["profiler"] = ProfilerConfig(
        s3_output=reader.location("ProfilerConfig.S3OutputPath", output) if output else None,
        profiling_interval=Duration.millis(interval) if interval is not None else None,
        profiling_parameters=config.get("ProfilingParameters"),
        disable_profiler=config.get("DisableProfiler"),
    )


def read_tensor_board_output_config(reader: CliReader, config: Mapping[str, Any]) -> None:
    location = reader.location("TensorBoardOutputConfig.S3OutputPath", config["S3OutputPath"])
    if location is not None:
        reader.props["tensor_board_output"] = TensorBoardOutput(location, local_path=config.get("LocalPath"))


DebuggingPart.cli_members = {
    "DebugHookConfig": read_debug_hook_config,
    "DebugRuleConfigurations": lambda r, v: read_rule_configurations(r, "DebugRuleConfigurations", "debug_rules", v),
    "ProfilerConfig": read_profiler_config,
    "ProfilerRuleConfigurations": lambda r, v: read_rule_configurations(
        r, "ProfilerRuleConfigurations", "profiler_rules", v
    ),
    "TensorBoardOutputConfig": read_tensor_board_output_config,
}
