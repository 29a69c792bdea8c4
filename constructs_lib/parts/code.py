"""Code: a local script (``source_code``) delivered as the SageMaker Python SDK delivers it to a
framework image's toolkit, or as a code channel and entry point to any other image; and how
``distributed`` launches it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .. import frameworks
from ..distributed import Distribution
from ..image import TrainingImage
from ..s3_location import S3Location
from ..script_mode import code_location
from ..source_code import SourceCode
from .context import JobContext, RequestPart


class Code(RequestPart):
    """What ``source_code`` adds to the job: its archive (read by the role), the script-mode
    hyperparameters or the code channel and ``ContainerEntrypoint``. Without ``source_code``, an
    SDK document's ``sagemaker_submit_directory`` is the code the role reads."""

    def __init__(
        self,
        ctx: JobContext,
        *,
        source_code: SourceCode | None,
        distributed: Distribution | None,
        image: TrainingImage | None,
        hyperparameters: Mapping[str, Any] | None,
        container_entrypoint: Sequence[str] | None,
        enable_sage_maker_metrics_time_series: bool | None,
    ) -> None:
        self.source_code, self.distributed, self.image = source_code, distributed, image
        ctx.framework = framework = image.framework if image is not None else None
        ctx.toolkit = toolkit = source_code is not None and framework in frameworks.SCRIPT_MODE
        self.entrypoint = container_entrypoint
        self.metrics_time_series = enable_sage_maker_metrics_time_series
        self.archive: S3Location | None = None
        if source_code is not None:
            delivery = source_code.deliver(
                ctx.job,
                toolkit=toolkit,
                region=ctx.region,
                hyperparameters=hyperparameters,
                framework=framework,
                framework_version=image.framework_version if image is not None else None,
                distributed=distributed,
            )
            self.archive, hyperparameters = delivery.archive, delivery.hyperparameters
            if delivery.channel is not None:
                ctx.inputs.append(delivery.channel)
                self.entrypoint = container_entrypoint or source_code.entrypoint(distributed, ctx.instance_type)
            elif self.metrics_time_series is None:
                self.metrics_time_series = delivery.metrics_time_series  # as the SDK's estimators
        if distributed is not None and toolkit and ctx.instance_types:
            assert hyperparameters is not None
            hyperparameters = {**hyperparameters, **distributed.hyperparameters(ctx.instance_types[0], ctx.region)}
        self.hyperparameters = hyperparameters

    def check(self, ctx: JobContext) -> None:
        framework = ctx.framework
        if self.source_code is not None and framework is not None and not ctx.toolkit:
            ctx.problems.add(
                "source_code",
                framework,
                f"{framework}'s image is a built-in algorithm, which runs no script: use a framework image "
                f"({', '.join(frameworks.SCRIPT_MODE)}) or an image of your own",
            )
        distributed = self.distributed
        if distributed is not None:
            if self.source_code is None:
                ctx.problems.add("distributed", type(distributed).__name__, "launches source_code: set source_code")
            distributed.problems(
                ctx.problems,
                framework=framework,
                instance_types=ctx.instance_types,
                region=ctx.region,
                image=self.image,
            )

    def grant(self, ctx: JobContext) -> None:
        # The code a framework image's toolkit downloads: an SDK document's, or this job's source_code.
        submitted = self.archive if ctx.toolkit else code_location(self.hyperparameters or {})
        if submitted is not None:
            submitted.grant_read(ctx.stack, ctx.role)
            ctx.reach(submitted)
