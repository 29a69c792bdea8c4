"""Serverless: ``ServerlessJobConfig``, a hub model fine-tuned or evaluated on compute SageMaker
chooses (the algorithm, compute and stopping parts then leave their members to SageMaker)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..serverless import ServerlessJobConfig
from .context import JobContext, RequestPart


class Serverless(RequestPart):
    def __init__(self, config: ServerlessJobConfig, props: Mapping[str, Any]) -> None:
        self.config, self.props = config, props

    def check(self, ctx: JobContext) -> None:
        self.config.problems(ctx.problems, self.props)

    def grant(self, ctx: JobContext) -> None:
        self.config.grant(ctx.stack, ctx.role)

    def render(self, ctx: JobContext, request: dict[str, Any]) -> None:
        request["ServerlessJobConfig"] = self.config.render()
