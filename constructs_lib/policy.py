"""Adding exact IAM statements to a principal, each once.

Many jobs may share one role; a statement they all need is added (and its jsii objects
built) only the first time, so a shared role's policy and the synth time stay flat.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import IConstruct

from .memo import has_members, per_object, stack_of
from .nag import acknowledge_wildcard


def principal_of(grantee: iam.IGrantable) -> iam.IPrincipal:
    """``grantee.grant_principal``, read once per grantee."""
    return per_object(grantee, "principal", lambda: grantee.grant_principal)


def allow(
    principal: iam.IPrincipal,
    actions: Sequence[str],
    resources: Sequence[str],
    conditions: Mapping[str, Any] | None = None,
    sid: str | None = None,
) -> None:
    """``principal.add_to_principal_policy`` for a statement not added to it before."""
    key = (
        tuple(sorted(actions)),
        tuple(sorted(resources)),
        sid,
        json.dumps(conditions, sort_keys=True) if conditions else None,
    )
    seen: set[tuple[Any, ...]] = per_object(principal, "statements", set)
    if key in seen:
        return
    seen.add(key)
    statement = iam.PolicyStatement(actions=list(actions), resources=list(resources), conditions=conditions, sid=sid)
    if isinstance(principal, iam.Role):
        # The same as add_to_principal_policy, which returns a struct whose two members jsii
        # fetches one round trip each.
        principal.add_to_policy(statement)
    else:
        principal.add_to_principal_policy(statement)


def _parts(scope: IConstruct) -> tuple[str, str, str]:
    stack = stack_of(scope)
    return per_object(stack, "arn parts", lambda: (stack.partition, stack.region, stack.account))


def partition(scope: IConstruct) -> str:
    """The scope's partition (``aws``, or a token), cached per stack."""
    return _parts(scope)[0]


def arn(scope: IConstruct, service: str, resource: str, *, regional: bool = True) -> str:
    """``arn:<partition>:<service>:<region>:<account>:<resource>`` in the scope's stack, built in
    Python (``Stack.format_arn`` costs a jsii round trip per call). ``regional=False`` leaves
    region and account empty (S3) or the region only (IAM)."""
    partition, region, account = _parts(scope)
    if regional:
        return f"arn:{partition}:{service}:{region}:{account}:{resource}"
    return f"arn:{partition}:{service}::{account if service == 'iam' else ''}:{resource}"


def via_s3(scope: IConstruct) -> dict[str, Any]:
    """The condition that a KMS key is used only by S3 on the principal's behalf (SSE-KMS)."""
    return {"StringEquals": {"kms:ViaService": f"s3.{_parts(scope)[1]}.amazonaws.com"}}


def allow_key(
    scope: IConstruct,
    principal: iam.IPrincipal,
    actions: Sequence[str],
    key: kms.IKey,
    conditions: Mapping[str, Any] | None = None,
    sid: str | None = None,
) -> None:
    """``actions`` on ``key``. IAM does not authorise the use of a key through its alias ARN: for
    an alias the statement names the account's keys of this region that carry the alias
    (``kms:ResourceAliases``); for a key, its ARN."""
    if not has_members(key, "alias_name"):  # a kms.IAlias given where a key is expected
        allow(principal, actions, [per_object(key, "arn", lambda: key.key_arn)], conditions=conditions, sid=sid)
        return
    name = per_object(key, "alias name", lambda: key.alias_name)  # type: ignore[attr-defined]
    keys = arn(scope, "kms", "key/*")
    aliased = {**(conditions or {}), "ForAnyValue:StringEquals": {"kms:ResourceAliases": [name]}}
    allow(principal, actions, [keys], conditions=aliased, sid=sid)
    acknowledge_on(
        principal,
        keys,
        "A KMS key given by its alias: IAM honours the alias only as a condition "
        "(kms:ResourceAliases) on the account's keys of this region, not as a resource.",
    )


def acknowledge_on(principal: iam.IPrincipal, resource: str, reason: str) -> None:
    """``acknowledge_wildcard`` on a principal that is a construct (a role of the app; an
    imported principal has no findings to acknowledge)."""
    if hasattr(principal, "node"):
        acknowledge_wildcard(principal, resource, reason)  # type: ignore[arg-type]


def key_arn_of(key: kms.IKey) -> str:
    """The key ARN to name ``key`` by in a request: for an alias of this app (``kms.Alias``), the
    ARN of the key it points to, since SageMaker's ``VolumeKmsKeyArn`` / ``OutputKmsKeyArn``
    condition keys compare key ARNs (SAR: "the ARN of the key-id must be used"); an imported alias
    stays an alias ARN (its key is unknown at synth)."""
    if isinstance(key, kms.Alias):
        return per_object(key, "target arn", lambda: key.alias_target_key.key_arn)
    return per_object(key, "arn", lambda: key.key_arn)


def allow_s3_encryption(scope: IConstruct, principal: iam.IPrincipal, key: kms.IKey, *, write: bool) -> None:
    """What reading (Decrypt) or writing (GenerateDataKey, Decrypt for multipart uploads) SSE-KMS
    objects needs of their key, through S3 only; writing also gets kms:Encrypt, which SageMaker
    calls itself on the output key (its API reference: a key given by id or alias)."""
    actions = ["kms:GenerateDataKey", "kms:Decrypt"] if write else ["kms:Decrypt"]
    allow_key(scope, principal, actions, key, conditions=via_s3(scope))
    if write:
        allow_key(scope, principal, ["kms:Encrypt"], key)
