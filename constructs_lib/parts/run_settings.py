"""Run settings: the execution role, the job's name and tags, and the members that only say how
the job runs (``RetryStrategy``, ``RemoteDebugConfig``, ``InfraCheckConfig``,
``SessionChainingConfig``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aws_cdk import Annotations, Stack, Token
from aws_cdk import aws_iam as iam
from constructs import Construct

from ..execution_role import create_execution_role, grant_logs
from ..memo import per_object
from ..nag import acknowledge_rule
from ..naming import claim_fixed_name, is_valid_job_name, name_spellings
from ..prop_types import labeled
from ..provider import TrainingJobProvider
from ..validation import RESERVED_TAGS, TAG_LIMIT
from .context import JobContext, RequestPart, reads

if TYPE_CHECKING:
    from ..cli_input import CliReader


def execution_role(
    job: Construct,
    stack: Stack,
    provider: TrainingJobProvider,
    role: iam.IRole | None,
    *,
    job_names: str,
    session_tags: bool,
    rule_jobs: bool,
) -> iam.IRole:
    """The role given (which the handler may then pass), else one created for ``job_names``."""
    if role is not None:
        provider.allow_pass_role(role)
        return role
    return create_execution_role(
        job,
        stack,
        path=provider.job_role_path,
        job_names=name_spellings(job_names),
        session_tags=session_tags,
        rule_jobs=rule_jobs,
    )


_ROLE_ARN = re.compile(r"^arn:aws[a-z\-]*:iam::\d{12}:role/[a-zA-Z_0-9+=,.@\-_/]+$")


class RunSettings(RequestPart):
    """``RoleArn``, ``RetryStrategy``, ``RemoteDebugConfig``, ``InfraCheckConfig``,
    ``SessionChainingConfig``; the rules on the job's name and tags; the role's log streams."""

    def __init__(
        self,
        provider: TrainingJobProvider,
        *,
        role_given: bool,
        name_prefix: str,
        training_job_name: str | None,
        tags: Mapping[str, str],
        retry_attempts: int | None,
        enable_remote_debug: bool | None,
        enable_infra_check: bool | None,
        enable_session_tag_chaining: bool | None,
    ) -> None:
        self.provider = provider
        self.role_given = role_given
        self.training_job_name = training_job_name
        self.tags = tags
        self.members: dict[str, Any] = {}
        if retry_attempts is not None:
            self.members["RetryStrategy"] = {"MaximumRetryAttempts": retry_attempts}
        if enable_remote_debug is not None:
            self.members["RemoteDebugConfig"] = {"EnableRemoteDebug": enable_remote_debug}
        if enable_infra_check is not None:
            self.members["InfraCheckConfig"] = {"EnableInfraCheck": enable_infra_check}
        if enable_session_tag_chaining is not None:
            self.members["SessionChainingConfig"] = {"EnableSessionTagChaining": enable_session_tag_chaining}
        self.session_tags = bool(enable_session_tag_chaining)
        # A role the user brings may serve many jobs: it gets the stack's log streams, so its
        # policy does not grow per job.
        self.log_streams = training_job_name or f"{provider.name_prefix if role_given else name_prefix}-"

    def check(self, ctx: JobContext) -> None:
        problems, name = ctx.problems, self.training_job_name
        if len(self.tags) > TAG_LIMIT - RESERVED_TAGS:
            problems.add(
                labeled("tags"),
                f"{len(self.tags)} tags",
                f"at most {TAG_LIMIT - RESERVED_TAGS} (the handler adds {RESERVED_TAGS})",
            )
        for key in self.tags:
            if key.lower().startswith("aws:"):
                problems.add(labeled("tags"), key, "keys starting with 'aws:' are reserved by AWS")
        if self.role_given and self.session_tags:
            Annotations.of(ctx.job).add_warning_v2(
                "@constructs-lib/session-tags",
                "enable_session_tag_chaining: the role you bring must also allow sts:TagSession to "
                "sagemaker.amazonaws.com in its trust policy (a role the job creates gets it)",
            )
        if name is None:
            return
        if not (Token.is_unresolved(name) or is_valid_job_name(name)):
            problems.add(
                labeled("training_job_name"),
                name,
                "1-63 characters: letters, digits and hyphens, starting and ending with a letter or digit",
            )
        other = claim_fixed_name(ctx.job, ctx.stack.account, ctx.stack.region, name)
        if other is not None:
            problems.add(
                "training_job_name (TrainingJobName)",
                name,
                f"already the fixed name of {other} in this app; job names are unique per account and "
                "region (case aside), so the second job's Create would fail with ResourceInUse at deploy",
            )
        Annotations.of(ctx.job).add_warning_v2(
            "@constructs-lib/fixed-job-name",
            f"training_job_name: {name!r} is fixed; job names are unique per account and "
            "region, so any later change that needs a new job cannot deploy under this name (change or "
            "remove training_job_name with it). Generated names avoid this",
        )

    def grant(self, ctx: JobContext) -> None:
        if self.training_job_name is not None:
            self.provider.allow_job_name(self.training_job_name)
        grant_logs(ctx.stack, ctx.role, self.log_streams)

    def render(self, ctx: JobContext, request: dict[str, Any]) -> None:
        role = ctx.role
        request["RoleArn"] = per_object(role, "arn", lambda: role.role_arn)
        request.update(self.members)


def read_role_arn(reader: CliReader, arn: str) -> None:
    if not _ROLE_ARN.match(arn):
        reader.problems.add("RoleArn", arn, "an IAM role ARN, arn:aws:iam::<account>:role/<name>")
        return
    # Mutable, as CDK imports roles by default: the job's least-privilege statements are
    # attached to it as a new inline policy (pass role= to use a role exactly as it is).
    role = iam.Role.from_role_arn(reader.scope, "Role", arn)
    acknowledge_rule(
        role,
        "IAMNoInlinePolicy",
        "The job's least-privilege statements, generated for this job and attached to the role the "
        "document names; an inline policy cannot be attached to another principal.",
    )
    reader.props["role"] = role


RunSettings.cli_members = {
    "TrainingJobName": reads("training_job_name"),
    "RoleArn": read_role_arn,
    "RetryStrategy": reads("retry_attempts", lambda v: v["MaximumRetryAttempts"]),
    "RemoteDebugConfig": reads("enable_remote_debug", lambda v: v.get("EnableRemoteDebug")),
    "InfraCheckConfig": reads("enable_infra_check", lambda v: v.get("EnableInfraCheck")),
    "SessionChainingConfig": reads("enable_session_tag_chaining", lambda v: v.get("EnableSessionTagChaining")),
}
