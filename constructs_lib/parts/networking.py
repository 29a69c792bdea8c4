"""Networking: ``VpcConfig``, network isolation and inter-container traffic encryption; the job's
security groups, the network interfaces SageMaker creates for it and the file systems it mounts."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from aws_cdk import aws_ec2 as ec2

from ..channel import FileSystemLocation
from ..errors import TrainingJobValidationError
from ..execution_role import grant_network_interfaces
from ..memo import per_object
from ..nag import acknowledge_rule
from ..policy import allow, arn
from ..prop_types import labeled
from .context import JobContext, RequestPart, reads

if TYPE_CHECKING:
    from ..cli_input import CliReader


class Networking(RequestPart):
    """The job's VPC (default: none, SageMaker's network), its subnets (default: the VPC's private
    ones) and security groups (default: one created for the job, no ingress from outside)."""

    def __init__(
        self,
        ctx: JobContext,
        *,
        vpc: ec2.IVpc | None,
        vpc_subnets: ec2.SubnetSelection | None,
        security_groups: Sequence[ec2.ISecurityGroup] | None,
        allow_all_outbound: bool,
        enable_network_isolation: bool | None,
        enable_inter_container_traffic_encryption: bool | None,
    ) -> None:
        self.vpc, self.vpc_subnets, self.given_groups = vpc, vpc_subnets, security_groups
        self.isolation = enable_network_isolation
        self.encryption = enable_inter_container_traffic_encryption
        groups: list[ec2.ISecurityGroup] = []
        subnet_ids: list[str] = []
        if vpc is not None:
            groups = list(security_groups or [_create_security_group(ctx, vpc, allow_all_outbound)])
            subnet_ids = _select_subnets(vpc, vpc_subnets)
        elif vpc_subnets is not None and vpc_subnets.subnets:
            groups = list(security_groups or [])
            subnet_ids = [subnet.subnet_id for subnet in vpc_subnets.subnets]
        if subnet_ids and ctx.instance_count > 1:
            for group in groups:
                _admit_itself(ctx, group)
        ctx.security_groups, ctx.subnet_ids = groups, subnet_ids
        ctx.security_group_ids = [_group_id(group) for group in groups]

    def check(self, ctx: JobContext) -> None:
        explicit_subnets = self.vpc_subnets is not None and bool(self.vpc_subnets.subnets)
        if (
            self.vpc is None
            and (self.vpc_subnets is not None or self.given_groups is not None)
            and not (explicit_subnets and self.given_groups)
        ):
            ctx.problems.add(
                labeled("vpc"),
                None,
                "required when vpc_subnets or security_groups is set, unless vpc_subnets lists "
                "subnets explicitly and security_groups is given",
            )
        if self.vpc is None and not explicit_subnets:
            for index, channel in enumerate(ctx.inputs):
                if isinstance(channel.data, FileSystemLocation):
                    ctx.problems.add(
                        f"inputs[{index}].data (InputDataConfig[{index}].DataSource.FileSystemDataSource)",
                        channel.data.file_system_id,
                        "a file system channel needs vpc (VpcConfig)",
                    )

    def grant(self, ctx: JobContext) -> None:
        if ctx.subnet_ids:
            grant_network_interfaces(ctx.stack, ctx.role, ctx.subnet_ids, ctx.security_group_ids)
        for channel in ctx.inputs:
            if isinstance(channel.data, FileSystemLocation):
                channel.data.bind(ctx.role, ctx.security_groups)

    def add_security_group(self, ctx: JobContext, group: ec2.ISecurityGroup, request: dict[str, Any]) -> bool:
        """Adds ``group`` to a job already built (as the Step Functions task's ``addSecurityGroup``):
        ``VpcConfig``, the network interface grant, a distributed job's rules and the file systems'
        admission follow. False if the job has it already."""
        group_id = _group_id(group)
        if group_id in ctx.security_group_ids:
            return False
        if not ctx.subnet_ids:
            raise TrainingJobValidationError(
                ctx.job.node.path,
                [f"add_security_group: got {group.node.path}; the job runs without a VPC: set vpc to attach groups"],
            )
        ctx.security_groups.append(group)
        ctx.security_group_ids.append(group_id)
        request["VpcConfig"]["SecurityGroupIds"] = list(ctx.security_group_ids)
        # CreateNetworkInterface is authorized on each resource it names: the group is one more.
        allow(ctx.role, ["ec2:CreateNetworkInterface"], [arn(ctx.stack, "ec2", f"security-group/{group_id}")])
        if ctx.instance_count > 1:
            _admit_itself(ctx, group)
        for channel in ctx.inputs:
            if isinstance(channel.data, FileSystemLocation):
                channel.data.bind(ctx.role, [group])
        return True

    def render(self, ctx: JobContext, request: dict[str, Any]) -> None:
        if ctx.security_group_ids:
            request["VpcConfig"] = {"SecurityGroupIds": list(ctx.security_group_ids), "Subnets": list(ctx.subnet_ids)}
        if self.isolation is not None:
            request["EnableNetworkIsolation"] = self.isolation
        if self.encryption is not None:
            request["EnableInterContainerTrafficEncryption"] = self.encryption


def _group_id(group: ec2.ISecurityGroup) -> str:
    return per_object(group, "id", lambda: group.security_group_id)


def _admit_itself(ctx: JobContext, group: ec2.ISecurityGroup) -> None:
    """A multi-instance job's group admits itself (distributed training); egress to itself only
    where outbound is restricted (an egress rule beside "allow all outbound" is redundant, and
    CDK warns about it)."""
    description = "Traffic between the instances of a training job"
    group.add_ingress_rule(group, ec2.Port.all_traffic(), description)
    if group.node.scope is ctx.job:
        acknowledge_rule(
            group,
            "EC2RestrictedCommonPorts",
            "Only from the group itself: the instances of a distributed job talk to each other "
            "on ports the framework chooses (SageMaker's documentation asks for all traffic).",
        )
    if not group.allow_all_outbound:
        group.add_egress_rule(group, ec2.Port.all_traffic(), description)


def _create_security_group(ctx: JobContext, vpc: ec2.IVpc, allow_all_outbound: bool) -> ec2.SecurityGroup:
    group = ec2.SecurityGroup(
        ctx.job,
        "SecurityGroup",
        vpc=vpc,
        description="SageMaker training job: no ingress from outside the job",
        allow_all_outbound=allow_all_outbound,
    )
    if not allow_all_outbound:
        # CDK drops its own "match nothing" egress rule as soon as any egress rule is added,
        # even one rendered as a separate resource (to the group itself, to a prefix list);
        # a group with no inline egress rule gets EC2's default allow-all rule back.
        group.add_egress_rule(
            ec2.Peer.ipv4("255.255.255.255/32"),
            ec2.Port.icmp_type_and_code(252, 87),
            "Matches no traffic: keeps EC2's default allow-all egress rule away",
        )
    return group


def _select_subnets(vpc: ec2.IVpc, selection: ec2.SubnetSelection | None) -> list[str]:
    """The selected subnets; by default the VPC's private ones (with egress, else isolated)."""
    if selection is None:
        return per_object(vpc, "default subnets", lambda: list(vpc.select_subnets().subnet_ids))
    return list(
        vpc.select_subnets(
            availability_zones=selection.availability_zones,
            one_per_az=selection.one_per_az,
            subnet_filters=selection.subnet_filters,
            subnet_group_name=selection.subnet_group_name,
            subnets=selection.subnets,
            subnet_type=selection.subnet_type,
        ).subnet_ids
    )


class JobConnections(ec2.Connections):
    """A job's ``connections``: a group added through them joins the job (``VpcConfig`` and all)."""

    def __init__(self, security_groups: list[ec2.ISecurityGroup], add: Callable[[ec2.ISecurityGroup], None]) -> None:
        super().__init__(security_groups=list(security_groups))
        self._add = add

    def add_security_group(self, *security_groups: ec2.ISecurityGroup) -> None:
        super().add_security_group(*security_groups)
        for group in security_groups:
            self._add(group)


def read_vpc_config(reader: CliReader, config: Mapping[str, Any]) -> None:
    reader.props["security_groups"] = [
        ec2.SecurityGroup.from_security_group_id(reader.scope, f"SecurityGroup{i}", group_id, mutable=False)
        for i, group_id in enumerate(config["SecurityGroupIds"])
    ]
    reader.props["vpc_subnets"] = ec2.SubnetSelection(
        subnets=[ec2.Subnet.from_subnet_id(reader.scope, f"Subnet{i}", s) for i, s in enumerate(config["Subnets"])]
    )


Networking.cli_members = {
    "VpcConfig": read_vpc_config,
    "EnableNetworkIsolation": reads("enable_network_isolation"),
    "EnableInterContainerTrafficEncryption": reads("enable_inter_container_traffic_encryption"),
}
