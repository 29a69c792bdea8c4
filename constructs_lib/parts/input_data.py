"""Input data: ``InputDataConfig``, the channels the role may read."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aws_cdk import Annotations
from constructs import Construct

from ..channel import (
    Channel,
    CompressionType,
    DatasetSource,
    FileSystemAccessMode,
    FileSystemLocation,
    FileSystemType,
    InputMode,
    RecordWrapperType,
    S3DataDistributionType,
    S3DataType,
)
from ..execution_role import acknowledge_objects
from ..s3_location import S3Location
from .context import JobContext, RequestPart

if TYPE_CHECKING:
    from ..cli_input import CliReader


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


def read_input_data_config(reader: CliReader, channels: list[Mapping[str, Any]]) -> None:
    for i, raw in enumerate(channels):
        if len(raw["DataSource"]) != 1:
            reader.problems.add(
                f"InputDataConfig[{i}].DataSource",
                raw["DataSource"],
                "exactly one of S3DataSource, FileSystemDataSource, DatasetSource",
            )
    if reader.problems:
        return
    if any(set(c["DataSource"]) - {"S3DataSource", "FileSystemDataSource", "DatasetSource"} for c in channels):
        # A channel kind newer than the library: keep the list as is.
        reader.overrides["InputDataConfig"] = channels
        return
    typed_channel = {
        "ChannelName",
        "DataSource",
        "ContentType",
        "CompressionType",
        "RecordWrapperType",
        "InputMode",
        "ShuffleConfig",
    }
    result = []
    for i, raw in enumerate(channels):
        where = f"InputDataConfig[{i}]"
        options: dict[str, Any] = {}
        if "S3DataSource" in raw["DataSource"]:
            source = raw["DataSource"]["S3DataSource"]
            data: Any = reader.location(f"{where}.DataSource.S3DataSource.S3Uri", source["S3Uri"])
            options["s3_data_type"] = reader.enum(f"{where}...S3DataType", S3DataType, source["S3DataType"])
            if "S3DataDistributionType" in source:
                options["distribution"] = reader.enum(
                    f"{where}...S3DataDistributionType", S3DataDistributionType, source["S3DataDistributionType"]
                )
            if "AttributeNames" in source:
                options["attribute_names"] = source["AttributeNames"]
            if "InstanceGroupNames" in source:
                options["instance_group_names"] = source["InstanceGroupNames"]
            if "ModelAccessConfig" in source:
                options["accept_eula"] = source["ModelAccessConfig"]["AcceptEula"]
            if "HubAccessConfig" in source:
                options["hub_content_arn"] = source["HubAccessConfig"]["HubContentArn"]
            typed_source = {
                "S3DataType",
                "S3Uri",
                "S3DataDistributionType",
                "AttributeNames",
                "InstanceGroupNames",
                "ModelAccessConfig",
                "HubAccessConfig",
            }
            reader.leftovers(f"{where}.DataSource.S3DataSource", source, typed_source)
        elif "DatasetSource" in raw["DataSource"]:
            data = DatasetSource(raw["DataSource"]["DatasetSource"]["DatasetArn"])
        else:
            fs = raw["DataSource"]["FileSystemDataSource"]
            data = FileSystemLocation(
                file_system_id=fs["FileSystemId"],
                file_system_type=reader.enum(f"{where}...FileSystemType", FileSystemType, fs["FileSystemType"]),
                directory_path=fs["DirectoryPath"],
                access_mode=reader.enum(
                    f"{where}...FileSystemAccessMode", FileSystemAccessMode, fs["FileSystemAccessMode"]
                ),
            )
        if "ContentType" in raw:
            options["content_type"] = raw["ContentType"]
        if "CompressionType" in raw:
            options["compression"] = reader.enum(f"{where}.CompressionType", CompressionType, raw["CompressionType"])
        if "RecordWrapperType" in raw:
            options["record_wrapper"] = reader.enum(
                f"{where}.RecordWrapperType", RecordWrapperType, raw["RecordWrapperType"]
            )
        if "InputMode" in raw:
            options["input_mode"] = reader.enum(f"{where}.InputMode", InputMode, raw["InputMode"])
        if "ShuffleConfig" in raw:
            options["shuffle_seed"] = raw["ShuffleConfig"]["Seed"]
        reader.leftovers(where, raw, typed_channel)
        if data is not None:
            result.append(Channel(raw["ChannelName"], data, **options))
    reader.props["inputs"] = result


InputData.cli_members = {"InputDataConfig": read_input_data_config}
