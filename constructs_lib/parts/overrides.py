"""Overrides: members without a typed prop, set last into the rendered request."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Annotations

from ..overrides import access_points, apply_overrides
from .context import JobContext, RequestPart


class Overrides(RequestPart):
    """``overrides``: path -> value, validated against the API model with the whole request. No
    permission is derived from them: a location, key, file system or role the role does not
    already reach adds a synth warning."""

    def __init__(self, overrides: Mapping[str, Any]) -> None:
        self.overrides = overrides

    def render(self, ctx: JobContext, request: dict[str, Any]) -> None:
        apply_overrides(request, self.overrides, ctx.problems)
        for path, value in access_points(self.overrides):
            if any(value.startswith(reach) for reach in ctx.reached):
                continue  # within what the role already reaches
            Annotations.of(ctx.job).add_warning_v2(
                "@constructs-lib/override-access",
                f"overrides: {path} = {value!r} is not granted to the job's role; grant access "
                "yourself (job.role / job.grant_principal) or the job fails at run time",
            )
