"""Input data: ``InputDataConfig``, the channels the role may read."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from aws_cdk import Annotations
from constructs import Construct

from ..channel import Channel
from ..execution_role import acknowledge_objects
from ..s3_location import S3Location
from .context import JobContext, RequestPart


def bound(channel: Channel, scope: Construct) -> Channel:
    """A channel whose data is a local asset (``S3Location.from_asset``), uploaded by ``cdk deploy``."""
    if isinstance(channel.data, S3Location) and channel.data.asset_path is not None:
        return dataclasses.replace(channel, data=channel.data.bind(scope, f"Input{channel.channel_name}"))
    return channel


class InputData(RequestPart):
    """The job's channels (a local asset's uploaded by ``cdk deploy``), read-only to the role."""

    def __init__(self, ctx: JobContext, channels: Sequence[Channel]) -> None:
        ctx.inputs.extend(bound(channel, ctx.job) for channel in channels)
        self.channels = ctx.inputs  # source_code's channel joins them (any other image than a framework's)

    def check(self, ctx: JobContext) -> None:
        names = [c.channel_name for c in self.channels]
        for name in sorted({n for n in names if names.count(n) > 1}):
            where = ", ".join(f"InputDataConfig[{i}].ChannelName" for i, n in enumerate(names) if n == name)
            ctx.problems.add(f"inputs ({where})", name, "channel names must be unique")
        groups = ctx.instance_group_names
        for i, channel in enumerate(self.channels):
            for name in channel.instance_group_names or []:
                if name not in groups:
                    allowed = f"one of {', '.join(groups)}" if groups else "instance_groups to be set (no group exists)"
                    where = f"InputDataConfig[{i}].DataSource.S3DataSource.InstanceGroupNames"
                    ctx.problems.add(f"inputs[{i}].instance_group_names ({where})", name, allowed)
            if channel.is_manifest and not channel.manifest_data:
                Annotations.of(ctx.job).add_warning_v2(
                    "@constructs-lib/manifest-data",
                    f"inputs: channel {channel.channel_name!r} is a {channel.s3_data_type.value}: the role may read "
                    "the manifest only, not the objects it names; set Channel(manifest_data=[S3Location...]) "
                    "to grant them, or the job fails at run time with AccessDenied",
                )

    def grant(self, ctx: JobContext) -> None:
        for channel in self.channels:
            for location in channel.read_locations():
                location.grant_read(ctx.stack, ctx.role)
                acknowledge_objects(ctx.stack, ctx.role, location)
                ctx.reach(location)

    def render(self, ctx: JobContext, request: dict[str, Any]) -> None:
        if self.channels:
            request["InputDataConfig"] = [channel.render() for channel in self.channels]
