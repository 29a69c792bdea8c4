"""Training job names: the stack-wide prefix, the per-job stable segment, user-fixed names.

A generated name is ``<stack prefix>-<job segment>-<request segment>`` (at most 43
characters, lowercase). The handler adds the request segment, a hash of the CloudFormation
RequestId, so a retried Create reuses its name while a later deployment never collides.
The stack prefix scopes the handler's IAM policy; the job segment lets a Delete find every
job of one resource.
"""

from __future__ import annotations

import hashlib
import re

from aws_cdk import Stack, Token
from constructs import IConstruct

from .memo import per_object

JOB_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
STACK_PREFIX_MAX = 24


def _digest(text: str, length: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def stack_prefix(stack: Stack) -> str:
    """Lowercase prefix shared by every generated job name in ``stack``."""
    return per_object(stack, "job name prefix", lambda: _stack_prefix(stack))


def _stack_prefix(stack: Stack) -> str:
    name = stack.stack_name if not Token.is_unresolved(stack.stack_name) else stack.node.path
    readable = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[: STACK_PREFIX_MAX - 5]
    readable = readable.rstrip("-") or "stack"
    return f"{readable}-{_digest(name, 4)}"


def job_name_prefix(stack: Stack, construct_path: str) -> str:
    """Stable name segment of one TrainingJob: stack prefix plus a hash of its path."""
    return f"{stack_prefix(stack)}-{_digest(construct_path, 8)}"


def is_valid_job_name(name: str) -> bool:
    return bool(JOB_NAME_PATTERN.match(name))


def name_spellings(name: str) -> list[str]:
    """A fixed name as the request has it and in lowercase. SageMaker does not document that a
    training job's ARN keeps the name's case (its ARNs of other resources are lowercase), so IAM
    statements and trust conditions that name a fixed job's ARN list both spellings."""
    if Token.is_unresolved(name) or name == name.lower():
        return [name]
    return [name, name.lower()]


def claim_fixed_name(scope: IConstruct, account: str, region: str, name: str) -> str | None:
    """Records that ``scope`` fixes ``name`` in ``account``/``region``; the path of another job
    of the app that fixed the same name first (names are unique per account and region, so its
    Create would get ResourceInUse at deploy), or None."""
    if Token.is_unresolved(name):
        return None
    claimed: dict[tuple[str, str, str], str] = per_object(scope.node.root, "fixed job names", dict)
    first = claimed.setdefault((account, region, name.lower()), scope.node.path)
    return None if first == scope.node.path else first
