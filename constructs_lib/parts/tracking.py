"""Tracking: ``ExperimentConfig``, ``MlflowConfig`` and ``ModelPackageConfig``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..policy import arn
from ..tracking import ExperimentConfig, MlflowConfig, ModelPackageConfig
from .context import JobContext, RequestPart, reads

if TYPE_CHECKING:
    pass


class Tracking(RequestPart):
    """Where the job is recorded: an experiment run, an MLflow server or app, a model package
    group; the role may log to exactly those."""

    def __init__(
        self,
        *,
        experiment: ExperimentConfig | None,
        mlflow: MlflowConfig | None,
        model_package: ModelPackageConfig | None,
    ) -> None:
        self.experiment = experiment
        self.configs = {"MlflowConfig": mlflow, "ModelPackageConfig": model_package}

    def grant(self, ctx: JobContext) -> None:
        if self.experiment is not None:
            self.experiment.grant(ctx.stack, ctx.role, arn(ctx.stack, "sagemaker", f"training-job/{ctx.job_names}"))
        for config in self.configs.values():
            if config is not None:
                config.grant(ctx.stack, ctx.role)

    def render(self, ctx: JobContext, request: dict[str, Any]) -> None:
        if self.experiment is not None:
            request["ExperimentConfig"] = self.experiment.render()
        for member, config in self.configs.items():
            if config is not None:
                request[member] = config.render()


Tracking.cli_members = {
    "ExperimentConfig": reads(
        "experiment",
        lambda v: ExperimentConfig(
            v.get("ExperimentName"), v.get("TrialName"), v.get("TrialComponentDisplayName"), v.get("RunName")
        ),
    ),
    "MlflowConfig": reads(
        "mlflow", lambda v: MlflowConfig(v["MlflowResourceArn"], v.get("MlflowExperimentName"), v.get("MlflowRunName"))
    ),
    "ModelPackageConfig": reads(
        "model_package", lambda v: ModelPackageConfig(v["ModelPackageGroupArn"], v.get("SourceModelPackageArn"))
    ),
}
