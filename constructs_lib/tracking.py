"""Where a job's results are recorded besides S3: SageMaker Experiments (``ExperimentConfig``),
SageMaker managed MLflow (``MlflowConfig``) and the model registry (``ModelPackageConfig``).

Each renders its member of the request and grants the job's role what the job does with it,
on exactly the resources it names (action names from the service authorization reference).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import Fn, Token
from aws_cdk import aws_iam as iam
from constructs import IConstruct

from .policy import acknowledge_on, allow, arn, principal_of
from .s3_location import S3Location

# What the training code does with a run (the SageMaker Python SDK's ``load_run`` in the container):
# load or create the experiment, its trial (run group) and the run's trial component, associate
# them, update the run and log metrics.
# Actions that act on two resources are granted on both (service authorization reference).
_RUN_ACTIONS = ["sagemaker:DescribeTrialComponent", "sagemaker:CreateTrialComponent", "sagemaker:UpdateTrialComponent"]
# What an MLflow client logging a run does (experiments, runs, parameters, metrics, tags, inputs,
# models); nothing that deletes or registers.
MLFLOW_ACTIONS = [
    f"sagemaker-mlflow:{action}"
    for action in (
        "CreateExperiment",
        "GetExperiment",
        "GetExperimentByName",
        "SearchExperiments",
        "SetExperimentTag",
        "CreateRun",
        "GetRun",
        "UpdateRun",
        "SearchRuns",
        "LogBatch",
        "LogInputs",
        "LogMetric",
        "LogModel",
        "LogParam",
        "SetTag",
        "GetMetricHistory",
        "ListArtifacts",
    )
]


def _lower(name: str) -> str:
    """SageMaker writes the names in its ARNs in lowercase."""
    return name if Token.is_unresolved(name) else name.lower()


@dataclass(frozen=True)
class ExperimentConfig:
    """``ExperimentConfig``: the job as a trial component of ``experiment_name`` / ``trial_name``,
    or as the run ``run_name`` of ``experiment_name`` (the SageMaker Python SDK's ``Run``).
    Default: SageMaker's (no experiment).

    With ``experiment_name`` and ``run_name``, the role may load and log that run from the
    training code (``load_run``): describe or create the experiment, the run group (``trial_name``,
    default the SDK's ``Default-Run-Group-<experiment>``) and the run's trial component
    (``<experiment>-<run>``), associate them, update the run and put its metrics."""

    experiment_name: str | None = None
    trial_name: str | None = None
    trial_component_display_name: str | None = None
    run_name: str | None = None

    def render(self) -> dict[str, Any]:
        config: dict[str, Any] = {}
        for member, value in (
            ("ExperimentName", self.experiment_name),
            ("TrialName", self.trial_name),
            ("TrialComponentDisplayName", self.trial_component_display_name),
            ("RunName", self.run_name),
        ):
            if value is not None:
                config[member] = value
        return config

    def grant(self, scope: IConstruct, grantee: iam.IGrantable, job_arns: str) -> None:
        """The run's actions for the jobs ``job_arns`` (an ARN or pattern) names."""
        if self.experiment_name is None or self.run_name is None:
            return  # SageMaker records the job itself; the job's code touches nothing
        principal = principal_of(grantee)
        experiment_name = _lower(self.experiment_name)
        experiment = arn(scope, "sagemaker", f"experiment/{experiment_name}")
        trial_name = _lower(self.trial_name or f"Default-Run-Group-{self.experiment_name}")
        trial = arn(scope, "sagemaker", f"experiment-trial/{trial_name}")
        component = arn(scope, "sagemaker", f"experiment-trial-component/{experiment_name}-{_lower(self.run_name)}")
        allow(principal, ["sagemaker:DescribeExperiment", "sagemaker:CreateExperiment"], [experiment])
        allow(principal, ["sagemaker:DescribeTrial"], [trial])
        allow(principal, ["sagemaker:CreateTrial"], [experiment, trial])
        allow(principal, _RUN_ACTIONS, [component])
        allow(principal, ["sagemaker:AssociateTrialComponent"], [trial, component])
        allow(principal, ["sagemaker:BatchPutMetrics"], [component, job_arns])
        # load_run in the container also reads its own job, searches for the run, and tags the run's
        # trial component (SDK v2 sagemaker.experiments: _RunContext, Run._load, _TrialComponent).
        allow(principal, ["sagemaker:DescribeTrainingJob"], [job_arns])
        allow(principal, ["sagemaker:AddTags"], [component])
        allow(principal, ["sagemaker:Search"], ["*"])
        acknowledge_on(principal, "*", "sagemaker:Search supports no resource-level permissions (SAR).")
        if "*" in job_arns:
            acknowledge_on(principal, job_arns, "This resource's jobs: each deployment names its job <prefix>-<hash>.")


@dataclass(frozen=True)
class MlflowConfig:
    """``MlflowConfig``: the job logs to the SageMaker managed MLflow tracking server or app
    ``mlflow_resource_arn``, in ``experiment_name`` / ``run_name`` (defaults: SageMaker's).

    The role may log runs there: on a tracking server (``mlflow-tracking-server/...``), the
    ``sagemaker-mlflow`` experiment, run, metric, parameter, tag, input and model actions on that ARN
    only (SAR documents them on that resource type only); on an MLflow app (``mlflow-app/...``),
    ``sagemaker:CallMlflowAppApi`` on that app. MLflow clients upload artifacts straight to the
    server's artifact store: ``artifact_store`` (an S3 location) lets the role read and write there.
    Default: no artifact store access (runs, parameters and metrics only)."""

    mlflow_resource_arn: str
    experiment_name: str | None = None
    run_name: str | None = None
    artifact_store: S3Location | None = None

    def render(self) -> dict[str, Any]:
        config: dict[str, Any] = {"MlflowResourceArn": self.mlflow_resource_arn}
        if self.experiment_name is not None:
            config["MlflowExperimentName"] = self.experiment_name
        if self.run_name is not None:
            config["MlflowRunName"] = self.run_name
        return config

    def grant(self, scope: IConstruct, grantee: iam.IGrantable) -> None:
        principal, resource = principal_of(grantee), self.mlflow_resource_arn
        known = not Token.is_unresolved(resource)
        if not known or ":mlflow-tracking-server/" in resource:
            allow(principal, MLFLOW_ACTIONS, [resource])
        if not known or ":mlflow-app/" in resource:
            allow(principal, ["sagemaker:CallMlflowAppApi"], [resource])
        if self.artifact_store is not None:
            self.artifact_store.grant_read_write(scope, grantee)
            acknowledge_on(
                principal,
                self.artifact_store.objects_arn(scope),
                "Objects below the MLflow server's artifact store prefix; MLflow names them at run time.",
            )


@dataclass(frozen=True)
class ModelPackageConfig:
    """``ModelPackageConfig``: the trained model is registered as a new version of the model
    package group ``model_package_group_arn`` (continuing from ``source_model_package_arn``,
    default none). The role may describe the group and create model packages in it, and
    describe the source package."""

    model_package_group_arn: str
    source_model_package_arn: str | None = None

    def render(self) -> dict[str, Any]:
        config: dict[str, Any] = {"ModelPackageGroupArn": self.model_package_group_arn}
        if self.source_model_package_arn is not None:
            config["SourceModelPackageArn"] = self.source_model_package_arn
        return config

    def grant(self, scope: IConstruct, grantee: iam.IGrantable) -> None:
        principal = principal_of(grantee)
        group = self.model_package_group_arn
        # A group's packages: arn:...:model-package/<group name>/<version>.
        if Token.is_unresolved(group):
            name = Fn.select(1, Fn.split(":model-package-group/", group))
            packages = arn(scope, "sagemaker", f"model-package/{name}/*")
        else:
            packages = group.replace(":model-package-group/", ":model-package/", 1) + "/*"
        allow(principal, ["sagemaker:DescribeModelPackageGroup"], [group])
        # SAR: CreateModelPackage's only resource type is model-package (the group ARN grants nothing).
        allow(principal, ["sagemaker:CreateModelPackage"], [packages])
        acknowledge_on(
            principal, packages, "The versions of one model package group: SageMaker numbers the package it registers."
        )
        if self.source_model_package_arn is not None:
            allow(principal, ["sagemaker:DescribeModelPackage"], [self.source_model_package_arn])
