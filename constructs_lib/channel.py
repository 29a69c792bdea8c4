"""Input channels (``InputDataConfig``) and the enumerations of their fields."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass, field
from enum import Enum
from typing import Any

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_efs as efs
from aws_cdk import aws_fsx as fsx
from aws_cdk import aws_iam as iam

from .memo import per_object
from .policy import allow, principal_of
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


# NFS for EFS; Lustre's server port and the ports its clients use (FSx for Lustre user guide).
_EFS_PORTS = (ec2.Port.tcp(2049),)
_LUSTRE_PORTS = (ec2.Port.tcp(988), ec2.Port.tcp_range(1018, 1023))


@dataclass(frozen=True)
class FileSystemLocation:
    """A directory of an EFS or FSx for Lustre file system (``FileSystemDataSource``).

    The job reaches it through its VPC (set ``vpc`` on the job). Built from a file system object
    (``from_efs``, ``from_fsx_lustre``), the file system's security groups admit the job's on the
    file system's ports (EFS: 2049; Lustre: 988, 1018-1023), and for EFS the role gets
    ``elasticfilesystem:ClientMount`` (and ``ClientWrite`` when read-write) on that file system,
    which a file system policy that requires IAM asks for. Built from an id, none of that:
    admit the job yourself (``file_system.connections.allow_default_port_from(job)``).
    """

    file_system_id: str
    file_system_type: FileSystemType
    directory_path: str
    access_mode: FileSystemAccessMode = FileSystemAccessMode.READ_ONLY
    file_system: efs.IFileSystem | fsx.LustreFileSystem | None = field(default=None, compare=False)

    @staticmethod
    def from_efs(
        file_system: efs.IFileSystem,
        directory_path: str = "/",
        access_mode: FileSystemAccessMode = FileSystemAccessMode.READ_ONLY,
    ) -> FileSystemLocation:
        """``directory_path`` of an EFS file system (default: its root, read-only)."""
        return FileSystemLocation(
            per_object(file_system, "id", lambda: file_system.file_system_id),
            FileSystemType.EFS,
            directory_path,
            access_mode,
            file_system,
        )

    @staticmethod
    def from_fsx_lustre(
        file_system: fsx.LustreFileSystem,
        directory_path: str = "/",
        access_mode: FileSystemAccessMode = FileSystemAccessMode.READ_ONLY,
    ) -> FileSystemLocation:
        """``directory_path`` below an FSx for Lustre file system's mount name (default: all of it,
        read-only); SageMaker wants ``/<mount name>/<path>``."""
        path = f"/{file_system.mount_name}/{directory_path.lstrip('/')}".rstrip("/")
        return FileSystemLocation(file_system.file_system_id, FileSystemType.FSX_LUSTRE, path, access_mode, file_system)

    def bind(self, grantee: iam.IGrantable, job_groups: Sequence[ec2.ISecurityGroup]) -> None:
        """Admits ``job_groups`` to the file system and grants the client permissions."""
        file_system = self.file_system
        if file_system is None:
            return
        ports = _EFS_PORTS if self.file_system_type is FileSystemType.EFS else _LUSTRE_PORTS
        if job_groups:
            job = ec2.Connections(security_groups=list(job_groups))
            for port in ports:
                file_system.connections.allow_from(job, port, "SageMaker training job mounting this file system")
        if self.file_system_type is FileSystemType.EFS:
            actions = ["elasticfilesystem:ClientMount"]
            if self.access_mode is FileSystemAccessMode.READ_WRITE:
                actions.append("elasticfilesystem:ClientWrite")
            fs_arn = per_object(file_system, "arn", lambda: file_system.file_system_arn)  # type: ignore[union-attr]
            allow(principal_of(grantee), actions, [fs_arn])

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
class DatasetSource:
    """A dataset resource of a SageMaker hub (``DataSource.DatasetSource``), as serverless
    model customization uses: ``arn:...:hub-content/<hub>/DataSet/<name>[/<version>]``. SageMaker
    resolves it; no permission of the job's role is documented for it."""

    dataset_arn: str

    def render(self) -> dict[str, Any]:
        return {"DatasetSource": {"DatasetArn": self.dataset_arn}}


@dataclass(frozen=True)
class Channel:
    """One named input channel backed by S3 (or by a file system).

    Defaults: ``S3Prefix`` data, SageMaker's distribution (``FullyReplicated``), no content type,
    no compression, no record wrapper, the job's input mode, no shuffling, every instance group
    (``instance_group_names`` limits the channel to the named groups of a heterogeneous cluster).
    The job role gets read access to exactly ``data`` (and Decrypt on its key).
    The S3-only fields (data type, distribution, attribute names, instance group names, model and
    hub access) are ignored for a ``FileSystemLocation`` or ``DatasetSource``.
    ``accept_eula`` (``S3DataSource.ModelAccessConfig``) accepts the end-user license of a model
    read from S3 (JumpStart); ``hub_content_arn`` (``S3DataSource.HubAccessConfig``) names the
    private hub model reference the data comes through. Defaults: none.
    ``manifest_data``: for a ``ManifestFile`` or ``AugmentedManifestFile`` channel, the locations
    the manifest's entries name (they may lie outside ``data``); the role may read them too.
    Default: none (only the manifest is granted, and synth warns).
    """

    channel_name: str
    data: S3Location | FileSystemLocation | DatasetSource
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
    accept_eula: bool | None = None
    hub_content_arn: str | None = None
    manifest_data: Sequence[S3Location] | None = None

    @property
    def is_manifest(self) -> bool:
        """Whether ``data`` names a manifest whose entries name the objects to read."""
        return isinstance(self.data, S3Location) and self.s3_data_type in (
            S3DataType.MANIFEST_FILE,
            S3DataType.AUGMENTED_MANIFEST_FILE,
        )

    def read_locations(self) -> list[S3Location]:
        """The S3 locations the job reads for this channel: its data, and what its manifest names."""
        if not isinstance(self.data, S3Location):
            return []
        return [self.data, *(self.manifest_data or [])]

    def render(self) -> dict[str, Any]:
        """This channel's entry of ``InputDataConfig``."""
        if not isinstance(self.data, S3Location):
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
            if self.accept_eula is not None:
                source["ModelAccessConfig"] = {"AcceptEula": self.accept_eula}
            if self.hub_content_arn is not None:
                source["HubAccessConfig"] = {"HubContentArn": self.hub_content_arn}
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
