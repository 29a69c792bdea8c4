"""Input channels (``InputDataConfig``) and the enumerations of their fields."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass
from enum import Enum
from typing import Any

from .s3_location import S3Location


class InputMode(Enum):
    """How the container receives data (``TrainingInputMode`` / channel ``InputMode``)."""

    FILE = "File"
    PIPE = "Pipe"
    FAST_FILE = "FastFile"


class S3DataType(Enum):
    """What the S3 URI of a channel names."""

    S3_PREFIX = "S3Prefix"
    MANIFEST_FILE = "ManifestFile"
    AUGMENTED_MANIFEST_FILE = "AugmentedManifestFile"
    CONVERSE = "Converse"


class S3DataDistributionType(Enum):
    """Whether every instance gets all data or a shard of it."""

    FULLY_REPLICATED = "FullyReplicated"
    SHARDED_BY_S3_KEY = "ShardedByS3Key"


class CompressionType(Enum):
    """Compression of channel data."""

    NONE = "None"
    GZIP = "Gzip"


class RecordWrapperType(Enum):
    """Whether channel records are wrapped in RecordIO."""

    NONE = "None"
    RECORD_IO = "RecordIO"


class FileSystemType(Enum):
    """The file system behind a ``FileSystemLocation``."""

    EFS = "EFS"
    FSX_LUSTRE = "FSxLustre"


class FileSystemAccessMode(Enum):
    """How the job mounts a file system."""

    READ_ONLY = "ro"
    READ_WRITE = "rw"


@dataclass(frozen=True)
class FileSystemLocation:
    """A directory of an EFS or FSx for Lustre file system (``FileSystemDataSource``).

    The job reaches it through its VPC: set ``vpc`` on the job and let the file system's
    security group admit the job (``file_system.connections.allow_default_port_from(job)``).
    """

    file_system_id: str
    file_system_type: FileSystemType
    directory_path: str
    access_mode: FileSystemAccessMode = FileSystemAccessMode.READ_ONLY

    def render(self) -> dict[str, Any]:
        return {
            "FileSystemDataSource": {
                "FileSystemId": self.file_system_id,
                "FileSystemAccessMode": self.access_mode.value,
                "FileSystemType": self.file_system_type.value,
                "DirectoryPath": self.directory_path,
            }
        }


@dataclass(frozen=True)
class Channel:
    """One named input channel backed by S3 (or by a file system).

    Defaults: ``S3Prefix`` data, SageMaker's distribution (``FullyReplicated``), no content type,
    no compression, no record wrapper, the job's input mode, no shuffling, every instance group
    (``instance_group_names`` limits the channel to the named groups of a heterogeneous cluster).
    The job role gets read access to exactly ``data`` (and Decrypt on its key).
    The S3-only fields (data type, distribution, attribute names, instance group names) are ignored for a
    ``FileSystemLocation``.
    """

    channel_name: str
    data: S3Location | FileSystemLocation
    _: KW_ONLY
    s3_data_type: S3DataType = S3DataType.S3_PREFIX
    distribution: S3DataDistributionType | None = None
    content_type: str | None = None
    compression: CompressionType | None = None
    record_wrapper: RecordWrapperType | None = None
    input_mode: InputMode | None = None
    shuffle_seed: int | None = None
    attribute_names: Sequence[str] | None = None
    instance_group_names: Sequence[str] | None = None

    def render(self) -> dict[str, Any]:
        """This channel's entry of ``InputDataConfig``."""
        if isinstance(self.data, FileSystemLocation):
            data_source = self.data.render()
        else:
            source: dict[str, Any] = {
                "S3DataType": self.s3_data_type.value,
                "S3Uri": self.data.s3_uri,
            }
            if self.distribution is not None:
                source["S3DataDistributionType"] = self.distribution.value
            if self.attribute_names is not None:
                source["AttributeNames"] = list(self.attribute_names)
            if self.instance_group_names is not None:
                source["InstanceGroupNames"] = list(self.instance_group_names)
            data_source = {"S3DataSource": source}
        channel: dict[str, Any] = {"ChannelName": self.channel_name, "DataSource": data_source}
        if self.content_type is not None:
            channel["ContentType"] = self.content_type
        if self.compression is not None:
            channel["CompressionType"] = self.compression.value
        if self.record_wrapper is not None:
            channel["RecordWrapperType"] = self.record_wrapper.value
        if self.input_mode is not None:
            channel["InputMode"] = self.input_mode.value
        if self.shuffle_seed is not None:
            channel["ShuffleConfig"] = {"Seed": self.shuffle_seed}
        return channel
