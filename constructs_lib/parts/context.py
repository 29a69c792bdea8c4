"""The part protocol: what a section of the CreateTrainingJob request knows about the job, and
the three steps every part takes.

A part owns one section of the API (its members of the request, its rules, its permissions).
``TrainingJob`` builds its parts from its props (``parts.build``) and ``assemble`` takes them
through the steps, in this order for every part: ``check`` (problems against the context),
``grant`` (the role's permissions, and the resources the part needs), ``render`` (its members
into the request).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from ..channel import Channel
from ..errors import Problems
from ..s3_location import S3Location

if TYPE_CHECKING:
    from ..cli_input import CliReader

CliMembers = dict[str, Callable[["CliReader", Any], None]]
"""API member -> how a ``--cli-input-json`` document's value of it becomes props."""


@dataclass
class JobContext:
    """What the parts share about one job. Parts built earlier fill in what later ones read:
    output and keys, instance types, channels, network."""

    job: Construct  # the scope of what the parts create
    stack: Stack
    problems: Problems
    role: iam.IRole
    job_names: str  # this resource's job names (a prefix ending in ``*``, or the fixed name)
    serverless: bool = False
    output: S3Location | None = None
    output_kms_key: kms.IKey | None = None
    volume_kms_key: kms.IKey | None = None
    instance_type: str | None = None  # ``instance_type`` as given (ml.* form)
    instance_types: list[str] = field(default_factory=list)  # every type the job may run on
    instance_count: int = 1  # every instance of the job (groups summed; a preference's at most)
    instance_group_names: list[str] = field(default_factory=list)
    framework: str | None = None
    toolkit: bool = False  # source_code runs in a framework image's training toolkit
    inputs: list[Channel] = field(default_factory=list)
    subnet_ids: list[str] = field(default_factory=list)
    security_groups: list[ec2.ISecurityGroup] = field(default_factory=list)
    security_group_ids: list[str] = field(default_factory=list)
    reached: list[str] = field(default_factory=list)  # S3 URIs and key ARNs granted to the role

    @property
    def region(self) -> str:
        return self.stack.region

    def reach(self, *locations: S3Location | kms.IKey | None) -> None:
        """Records what the role was granted (``overrides`` naming anything else warn)."""
        for location in locations:
            if isinstance(location, S3Location):
                self.reached.append(location.s3_uri)
            elif location is not None:
                self.reached.append(location.key_arn)


class RequestPart:
    """One section of the request. Each step does nothing unless the part overrides it.
    ``cli_members``: the top-level API members the part owns, each with its reader of a CLI
    input document (``TrainingJob.from_cli_input_json``)."""

    cli_members: ClassVar[CliMembers] = {}

    def check(self, ctx: JobContext) -> None:
        """Adds the part's problems to ``ctx.problems`` (all are raised together, later)."""

    def grant(self, ctx: JobContext) -> None:
        """Grants ``ctx.role`` what the part needs, creating the resources it owns."""

    def render(self, ctx: JobContext, request: dict[str, Any]) -> None:
        """Sets the part's members of ``request``; members left unset get SageMaker's defaults."""


def assemble(parts: Sequence[RequestPart], ctx: JobContext) -> dict[str, Any]:
    """The request of ``parts``: every check, then every grant, then every render, each in the
    parts' order (which is the order of the role's statements)."""
    for part in parts:
        part.check(ctx)
    for part in parts:
        part.grant(ctx)
    request: dict[str, Any] = {}
    for part in parts:
        part.render(ctx, request)
    return request


def reads(prop: str, convert: Callable[[Any], Any] = lambda value: value) -> Callable[[CliReader, Any], None]:
    """A CLI reader that sets ``prop`` to the member's value (converted)."""

    def read(reader: CliReader, value: Any) -> None:
        reader.props[prop] = convert(value)

    return read
