"""Serverless: ``ServerlessJobConfig``, a hub model fine-tuned or evaluated on compute SageMaker
chooses (the algorithm, compute and stopping parts then leave their members to SageMaker)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..serverless import CustomizationTechnique, EvaluationType, Peft, ServerlessJobConfig, ServerlessJobType
from .context import JobContext, RequestPart

if TYPE_CHECKING:
    from ..cli_input import CliReader


class Serverless(RequestPart):
    def __init__(self, config: ServerlessJobConfig, props: Mapping[str, Any]) -> None:
        self.config, self.props = config, props

    def check(self, ctx: JobContext) -> None:
        self.config.problems(ctx.problems, self.props)

    def grant(self, ctx: JobContext) -> None:
        self.config.grant(ctx.stack, ctx.role)

    def render(self, ctx: JobContext, request: dict[str, Any]) -> None:
        request["ServerlessJobConfig"] = self.config.render()


def read_serverless_job_config(reader: CliReader, config: Mapping[str, Any]) -> None:
    where = "ServerlessJobConfig"
    optional = {
        "customization_technique": ("CustomizationTechnique", CustomizationTechnique),
        "peft": ("Peft", Peft),
        "evaluation_type": ("EvaluationType", EvaluationType),
    }
    options = {
        prop: reader.enum(f"{where}.{member}", kind, config[member])
        for prop, (member, kind) in optional.items()
        if member in config
    }
    reader.props["serverless"] = ServerlessJobConfig(
        config["BaseModelArn"],
        reader.enum(f"{where}.JobType", ServerlessJobType, config["JobType"]),
        accept_eula=config.get("AcceptEula"),
        evaluator=config.get("EvaluatorArn"),
        sequence_length=config.get("SequenceLength"),
        **options,
    )


Serverless.cli_members = {"ServerlessJobConfig": read_serverless_job_config}
