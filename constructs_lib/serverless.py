"""Serverless training jobs (``ServerlessJobConfig``): fine-tuning or evaluating a foundation
model of SageMaker's public hub, on compute SageMaker chooses.

Such a job names a base model instead of an image or algorithm, and SageMaker selects its
instances and volumes: the props that choose them are refused at synth. Its data usually comes
as dataset channels (``DatasetSource``), its result goes to a model package group
(``ModelPackageConfig``) and its metrics to MLflow (``MlflowConfig``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import IConstruct

from .errors import Problems
from .memo import per_object
from .policy import allow, principal_of


class ServerlessJobType(Enum):
    """``ServerlessJobConfig.JobType``."""

    FINE_TUNING = "FineTuning"
    EVALUATION = "Evaluation"


class CustomizationTechnique(Enum):
    """``ServerlessJobConfig.CustomizationTechnique``."""

    SFT = "SFT"
    DPO = "DPO"
    RLVR = "RLVR"
    RLAIF = "RLAIF"


class Peft(Enum):
    """``ServerlessJobConfig.Peft``: parameter-efficient fine-tuning."""

    LORA = "LORA"


class EvaluationType(Enum):
    """``ServerlessJobConfig.EvaluationType``."""

    LLM_AS_JUDGE = "LLMAJEvaluation"
    CUSTOM_SCORER = "CustomScorerEvaluation"
    BENCHMARK = "BenchmarkEvaluation"


# Props that choose what SageMaker selects for a serverless job (its API reference: the volume
# size cannot be customized; the base model replaces the image or algorithm).
EXCLUDED_PROPS = (
    "image",
    "algorithm_name",
    "container_entrypoint",
    "container_arguments",
    "instance_type",
    "instance_count",
    "instance_groups",
    "instance_preferences",
    "instance_placement",
    "volume_size",
    "keep_alive_period",
    "enable_managed_spot_training",
)


@dataclass(frozen=True)
class ServerlessJobConfig:
    """``ServerlessJobConfig``. Defaults: SageMaker's (no EULA accepted, technique, PEFT,
    evaluation and sequence length chosen by SageMaker). ``evaluator`` (a reward function or
    judge, RLVR/RLAIF and evaluations) may be a Lambda function (``lambda.IFunction`` or its ARN):
    the role may then invoke exactly that function; an evaluator hub content ARN is passed as is."""

    base_model_arn: str
    job_type: ServerlessJobType = ServerlessJobType.FINE_TUNING
    accept_eula: bool | None = None
    customization_technique: CustomizationTechnique | None = None
    peft: Peft | None = None
    evaluation_type: EvaluationType | None = None
    evaluator: lambda_.IFunction | str | None = None
    sequence_length: str | None = None

    def evaluator_arn(self) -> str | None:
        evaluator = self.evaluator
        if evaluator is None or isinstance(evaluator, str):
            return evaluator
        return per_object(evaluator, "arn", lambda: evaluator.function_arn)

    def render(self) -> dict[str, Any]:
        config: dict[str, Any] = {"BaseModelArn": self.base_model_arn, "JobType": self.job_type.value}
        if self.accept_eula is not None:
            config["AcceptEula"] = self.accept_eula
        if self.customization_technique is not None:
            config["CustomizationTechnique"] = self.customization_technique.value
        if self.peft is not None:
            config["Peft"] = self.peft.value
        if self.evaluation_type is not None:
            config["EvaluationType"] = self.evaluation_type.value
        evaluator = self.evaluator_arn()
        if evaluator is not None:
            config["EvaluatorArn"] = evaluator
        if self.sequence_length is not None:
            config["SequenceLength"] = self.sequence_length
        return config

    def grant(self, scope: IConstruct, grantee: iam.IGrantable) -> None:
        evaluator = self.evaluator_arn()
        if evaluator is not None and (not isinstance(self.evaluator, str) or ":lambda:" in evaluator):
            allow(principal_of(grantee), ["lambda:InvokeFunction"], [evaluator])

    def shape(self, request: dict[str, Any], *, runtime_set: bool) -> None:
        """Leaves out of ``request`` what SageMaker selects for a serverless job: the algorithm,
        the resources (a volume key aside) and, unless set, the runtime."""
        del request["AlgorithmSpecification"]
        resources = {k: v for k, v in request.pop("ResourceConfig").items() if k == "VolumeKmsKeyId"}
        if resources:
            request["ResourceConfig"] = resources
        if not runtime_set:
            del request["StoppingCondition"]["MaxRuntimeInSeconds"]
            if not request["StoppingCondition"]:
                del request["StoppingCondition"]

    def problems(self, problems: Problems, props: Mapping[str, Any]) -> None:
        """The job's props against a serverless job: what SageMaker selects is not set."""
        where = "serverless (ServerlessJobConfig)"
        for prop in EXCLUDED_PROPS:
            if props.get(prop) not in (None, False, (), []):
                problems.add(where, prop, f"a serverless job's {prop} is SageMaker's choice; leave {prop} unset")
        evaluation = self.job_type is ServerlessJobType.EVALUATION
        if evaluation and self.evaluation_type is None:
            problems.add(
                "serverless.evaluation_type (ServerlessJobConfig.EvaluationType)",
                None,
                "required when job_type is ServerlessJobType.EVALUATION",
            )
        if not evaluation and self.evaluation_type is not None:
            problems.add(
                "serverless.evaluation_type (ServerlessJobConfig.EvaluationType)",
                self.evaluation_type,
                "only for job_type ServerlessJobType.EVALUATION",
            )
