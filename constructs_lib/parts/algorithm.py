"""Image or algorithm: ``AlgorithmSpecification``, ``HyperParameters`` and ``Environment``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..channel import InputMode
from ..image import TrainingImage, TrainingRepositoryAccessMode
from ..request import hyperparameter_string
from .context import JobContext, RequestPart, reads

if TYPE_CHECKING:
    from ..cli_input import CliReader


class Algorithm(RequestPart):
    """The container the job runs (an image the role may pull, or an algorithm resource), its
    metrics, hyperparameters and environment."""

    def __init__(
        self,
        *,
        image: TrainingImage | None,
        algorithm_name: str | None,
        input_mode: InputMode,
        metric_definitions: Mapping[str, str] | None,
        enable_sage_maker_metrics_time_series: bool | None,
        hyperparameters: Mapping[str, Any] | None,
        environment: Mapping[str, str] | None,
        container_entrypoint: Sequence[str] | None,
        container_arguments: Sequence[str] | None,
    ) -> None:
        self.image, self.algorithm_name, self.input_mode = image, algorithm_name, input_mode
        self.metric_definitions = metric_definitions or {}
        self.metrics_time_series = enable_sage_maker_metrics_time_series
        self.hyperparameters, self.environment = hyperparameters, environment
        self.entrypoint, self.arguments = container_entrypoint, container_arguments
        self.image_uri: str | None = None
        self.image_config: dict[str, Any] | None = None

    def check(self, ctx: JobContext) -> None:
        if (self.image is None) == (self.algorithm_name is None) and not ctx.serverless:
            ctx.problems.add(
                "image / algorithm_name (AlgorithmSpecification.TrainingImage / AlgorithmName)",
                {"image": self.image, "algorithm_name": self.algorithm_name},
                "set exactly one of them",
            )
        for key, value in (self.hyperparameters or {}).items():
            if not isinstance(value, str | int | float | bool):
                ctx.problems.add(
                    f"hyperparameters[{key!r}] (HyperParameters)",
                    value,
                    "str, int, float or bool (lists, dicts and None only in script mode: source_code on a "
                    "framework image, where they are JSON-encoded as the SageMaker Python SDK encodes them)",
                )
        if self.image is not None:
            self.image.problems(ctx.problems, in_vpc=bool(ctx.subnet_ids))

    def grant(self, ctx: JobContext) -> None:
        if self.image is not None:
            instance = ctx.instance_types[0] if ctx.instance_types else None
            self.image_uri = self.image.bind(ctx.job, ctx.role, instance_type=instance, problems=ctx.problems)
            self.image_config = self.image.render_config(ctx.role)

    def render(self, ctx: JobContext, request: dict[str, Any]) -> None:
        if not ctx.serverless:  # SageMaker chooses a serverless job's algorithm
            request["AlgorithmSpecification"] = self._specification()
        if self.hyperparameters is not None:  # an empty map too, when given (as the SDK sends it)
            request["HyperParameters"] = {k: hyperparameter_string(v) for k, v in self.hyperparameters.items()}
        if self.environment is not None:
            request["Environment"] = dict(self.environment)

    def _specification(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"TrainingInputMode": self.input_mode.value}
        if self.image_uri is not None:
            spec["TrainingImage"] = self.image_uri
        if self.algorithm_name is not None:
            spec["AlgorithmName"] = self.algorithm_name
        if self.metric_definitions:
            spec["MetricDefinitions"] = [{"Name": n, "Regex": r} for n, r in self.metric_definitions.items()]
        if self.metrics_time_series is not None:
            spec["EnableSageMakerMetricsTimeSeries"] = self.metrics_time_series
        if self.entrypoint is not None:
            spec["ContainerEntrypoint"] = list(self.entrypoint)
        if self.arguments is not None:
            spec["ContainerArguments"] = list(self.arguments)
        if self.image_config is not None:
            spec["TrainingImageConfig"] = self.image_config
        return spec


def read_algorithm_specification(reader: CliReader, spec: Mapping[str, Any]) -> None:
    if "TrainingImage" in spec:
        config = spec.get("TrainingImageConfig", {})
        mode = config.get("TrainingRepositoryAccessMode")
        provider = config.get("TrainingRepositoryAuthConfig", {}).get("TrainingRepositoryCredentialsProviderArn")
        reader.props["image"] = TrainingImage.from_registry(
            spec["TrainingImage"],
            repository_access_mode=reader.enum(
                "AlgorithmSpecification.TrainingImageConfig.TrainingRepositoryAccessMode",
                TrainingRepositoryAccessMode,
                mode,
            )
            if mode is not None
            else None,
            credentials_provider=reader.function(
                "AlgorithmSpecification.TrainingImageConfig.TrainingRepositoryAuthConfig."
                "TrainingRepositoryCredentialsProviderArn",
                provider,
            ),
        )
    if "AlgorithmName" in spec:
        reader.props["algorithm_name"] = spec["AlgorithmName"]
    reader.props["input_mode"] = reader.enum(
        "AlgorithmSpecification.TrainingInputMode", InputMode, spec["TrainingInputMode"]
    )
    if "MetricDefinitions" in spec:
        reader.props["metric_definitions"] = {m["Name"]: m["Regex"] for m in spec["MetricDefinitions"]}
    if "EnableSageMakerMetricsTimeSeries" in spec:
        reader.props["enable_sage_maker_metrics_time_series"] = spec["EnableSageMakerMetricsTimeSeries"]
    if "ContainerEntrypoint" in spec:
        reader.props["container_entrypoint"] = spec["ContainerEntrypoint"]
    if "ContainerArguments" in spec:
        reader.props["container_arguments"] = spec["ContainerArguments"]
    typed = {
        "ContainerEntrypoint",
        "ContainerArguments",
        *(("TrainingImageConfig",) if "TrainingImage" in spec else ()),
        "TrainingImage",
        "AlgorithmName",
        "TrainingInputMode",
        "MetricDefinitions",
        "EnableSageMakerMetricsTimeSeries",
    }
    reader.leftovers("AlgorithmSpecification", spec, typed)


Algorithm.cli_members = {
    "AlgorithmSpecification": read_algorithm_specification,
    "Environment": reads("environment"),
}
