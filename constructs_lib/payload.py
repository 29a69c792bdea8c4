"""Whether the handler can receive a job's properties: Lambda's asynchronous payload limit.

CloudFormation invokes a custom resource's function asynchronously, and an Update event carries
the properties twice (``ResourceProperties`` and ``OldResourceProperties``:
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/crpg-ref-requesttypes-update.html).
Lambda accepts at most 1 MB per asynchronous invocation, 256 KB where the older quota still
applies (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html), while
botocore's model allows a CreateTrainingJob request of several MB.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import jsii
from aws_cdk import Annotations, Stack
from constructs import IConstruct, IValidation

from .memo import per_object

ASYNC_PAYLOAD_LIMIT = 1024 * 1024
OLDER_ASYNC_PAYLOAD_LIMIT = 256 * 1024
# The rest of an event: a presigned ResponseURL, stack, request and resource ids, types.
EVENT_OVERHEAD = 4096
# A deploy-time value renders longer than its ${Token[...]} placeholder (an ARN, a Fn::Join).
TOKEN_ALLOWANCE = 200


def _size(value: Any) -> int:
    text = json.dumps(value, separators=(",", ":"), default=str)
    return len(text.encode()) + text.count("${Token[") * TOKEN_ALLOWANCE


# The most the job's tags could add to an Update event: 50 tags of 128 + 256 characters, twice.
TAGS_ALLOWANCE = 2 * 50 * (128 + 256 + 24)


def could_exceed(request: Mapping[str, Any]) -> bool:
    """Whether tags added until synthesis could bring ``request`` over the smaller limit."""
    return update_event_bytes({"Request": request}) + TAGS_ALLOWANCE > OLDER_ASYNC_PAYLOAD_LIMIT


def update_event_bytes(properties: Mapping[str, Any]) -> int:
    """The size of the Update event that carries ``properties`` as old and new properties."""
    return 2 * _size(properties) + EVENT_OVERHEAD


def _largest(request: Mapping[str, Any]) -> str:
    members = sorted(((_size(v), k) for k, v in request.items()), reverse=True)[:3]
    parts = []
    for size, member in members:
        part = f"{member} {size:,} bytes"
        value = request[member]
        if isinstance(value, Mapping) and member in ("HyperParameters", "Environment"):
            keys = sorted(((_size(v), k) for k, v in value.items()), reverse=True)[:3]
            part += " (" + ", ".join(f"{k} {s:,}" for s, k in keys) + ")"
        parts.append(part)
    return "; ".join(parts)


def payload_problems(request: Mapping[str, Any], extra: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """Errors (over 1 MB) and warnings (over 256 KB) for the job's Update event."""
    size = update_event_bytes({**extra, "Request": request})
    if size <= OLDER_ASYNC_PAYLOAD_LIMIT:
        return [], []
    message = (
        f"Request: the Update event CloudFormation sends to the handler carries the properties twice "
        f"(ResourceProperties and OldResourceProperties): about {size:,} bytes, over Lambda's "
        "{limit} asynchronous payload limit; largest members: " + _largest(request) + ". Put large values in S3 "
        "(an input channel, or the code archive) instead of HyperParameters or Environment"
    )
    if size > ASYNC_PAYLOAD_LIMIT:
        return [message.format(limit="1 MB")], []
    return [], [message.format(limit="256 KB (the older quota, still in force in some accounts and regions)")]


@jsii.implements(IValidation)
class PayloadCheck:
    """Checks, when the app is validated (after Aspects and overrides), that each job's Update
    event fits Lambda's asynchronous payload limit: one validation per stack, for all its jobs."""

    def __init__(self) -> None:
        self._jobs: list[tuple[IConstruct, Callable[[], tuple[Mapping[str, Any], Mapping[str, Any]]]]] = []

    @staticmethod
    def add(stack: Stack, job: IConstruct, parts: Callable[[], tuple[Mapping[str, Any], Mapping[str, Any]]]) -> None:
        """Checks ``job``'s request and other properties (``parts``) with its ``stack``'s validation."""
        per_object(stack, "payload check", lambda: _added(stack))._jobs.append((job, parts))

    def validate(self) -> list[str]:
        errors = []
        for job, parts in self._jobs:
            found, warnings = payload_problems(*parts())
            for warning in warnings:
                Annotations.of(job).add_warning_v2("@constructs-lib/payload-size", warning)
            errors += [f"{job.node.path}: {error}" for error in found]
        return errors


def _added(stack: Stack) -> PayloadCheck:
    check = PayloadCheck()
    stack.node.add_validation(check)
    return check
