"""Output: ``OutputDataConfig`` and ``CheckpointConfig``, the locations the role may write."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aws_cdk import aws_kms as kms

from ..execution_role import acknowledge_objects
from ..policy import allow_s3_encryption, key_arn_of
from ..prop_types import labeled
from ..request import OutputCompressionType
from ..s3_location import S3Location
from ..storage import TrainingStorage
from .context import JobContext, RequestPart

if TYPE_CHECKING:
    from ..cli_input import CliReader


class Output(RequestPart):
    """Where the model goes (default: a prefix of the stack's retained output bucket, unique to
    the job) and the job's checkpoints."""

    def __init__(
        self,
        ctx: JobContext,
        *,
        name_prefix: str,
        output: S3Location | None,
        output_kms_key: kms.IKey | None,
        output_compression: OutputCompressionType | None,
        checkpoint: S3Location | None,
        checkpoint_local_path: str | None,
    ) -> None:
        self.given = {"output": output, "checkpoint": checkpoint}
        if output is None:
            output = S3Location.from_bucket(TrainingStorage.of(ctx.stack).output_bucket, f"{name_prefix}/")
        ctx.output = self.output = output
        ctx.output_kms_key = self.key = output_kms_key or output.encryption_key
        self.compression = output_compression
        self.checkpoint = checkpoint
        self.checkpoint_local_path = checkpoint_local_path

    def check(self, ctx: JobContext) -> None:
        for prop, location in self.given.items():
            if location is not None and location.asset_path is not None:
                ctx.problems.add(
                    labeled(prop), location.asset_path, "a local asset is input only: an S3 location to write to"
                )

    def grant(self, ctx: JobContext) -> None:
        self.output.grant_write(ctx.stack, ctx.role)
        if self.key is not None and self.key is not self.output.encryption_key:
            allow_s3_encryption(ctx.stack, ctx.role, self.key, write=True)
        if self.checkpoint is not None:
            self.checkpoint.grant_read_write(ctx.stack, ctx.role)
        for location in (self.output, self.checkpoint):
            if location is not None:
                acknowledge_objects(ctx.stack, ctx.role, location)
        ctx.reach(self.output, self.checkpoint, self.key)

    def render(self, ctx: JobContext, request: dict[str, Any]) -> None:
        config: dict[str, Any] = {"S3OutputPath": self.output.s3_uri}
        if self.key is not None:
            config["KmsKeyId"] = key_arn_of(self.key)
        if self.compression is not None:
            config["CompressionType"] = self.compression.value
        request["OutputDataConfig"] = config
        if self.checkpoint is not None:
            request["CheckpointConfig"] = {"S3Uri": self.checkpoint.s3_uri}
            if self.checkpoint_local_path is not None:
                request["CheckpointConfig"]["LocalPath"] = self.checkpoint_local_path


def read_output_data_config(reader: CliReader, config: Mapping[str, Any]) -> None:
    key = reader.key("OutputDataConfig.KmsKeyId", config["KmsKeyId"]) if config.get("KmsKeyId") else None
    reader.props["output"] = reader.location("OutputDataConfig.S3OutputPath", config["S3OutputPath"], key)
    reader.props["output_kms_key"] = key
    if "CompressionType" in config:
        reader.props["output_compression"] = reader.enum(
            "OutputDataConfig.CompressionType", OutputCompressionType, config["CompressionType"]
        )
    reader.leftovers("OutputDataConfig", config, {"KmsKeyId", "S3OutputPath", "CompressionType"})


def read_checkpoint_config(reader: CliReader, config: Mapping[str, Any]) -> None:
    reader.props["checkpoint"] = reader.location("CheckpointConfig.S3Uri", config["S3Uri"])
    if "LocalPath" in config:
        reader.props["checkpoint_local_path"] = config["LocalPath"]


Output.cli_members = {"OutputDataConfig": read_output_data_config, "CheckpointConfig": read_checkpoint_config}
