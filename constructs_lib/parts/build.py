"""A job's parts from its props: built in the order their derivations need, returned in the
order of the steps (``assemble``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Stack
from constructs import Construct

from ..debugging import Debugging
from ..errors import Problems
from ..provider import TrainingJobProvider
from .algorithm import Algorithm
from .code import Code
from .compute import Compute
from .context import JobContext, RequestPart
from .debugging import DebuggingPart
from .input_data import InputData
from .networking import Networking
from .output import Output
from .overrides import Overrides
from .run_settings import RunSettings, execution_role
from .serverless import Serverless
from .stopping import Stopping
from .tracking import Tracking

# Every kind of part, in the order of the steps.
PART_TYPES: tuple[type[RequestPart], ...] = (
    RunSettings,
    InputData,
    Output,
    Compute,
    Networking,
    Code,
    Algorithm,
    Tracking,
    Serverless,
    DebuggingPart,
    Stopping,
    Overrides,
)


def build(
    job: Construct,
    stack: Stack,
    provider: TrainingJobProvider,
    name_prefix: str,
    props: Mapping[str, Any],
    problems: Problems,
) -> tuple[JobContext, list[RequestPart]]:
    """The context and parts of a job with ``props`` (type-checked). The steps' order is the
    returned list's: run settings (the role's logs first), input data, output, compute,
    networking, code, algorithm, tracking, serverless, debugging, stopping, overrides."""
    p = props
    job_names = p["training_job_name"] or f"{name_prefix}-*"  # this resource's jobs
    role = execution_role(
        job,
        stack,
        provider,
        p["role"],
        job_names=job_names,
        session_tags=bool(p["enable_session_tag_chaining"]),
        rule_jobs=bool(p["debug_rules"] or p["profiler_rules"]),
    )
    ctx = JobContext(job, stack, problems, role, job_names, serverless=p["serverless"] is not None)
    run = RunSettings(
        provider,
        role_given=p["role"] is not None,
        name_prefix=name_prefix,
        training_job_name=p["training_job_name"],
        tags=p["tags"] or {},
        **_of(p, "retry_attempts", "enable_remote_debug", "enable_infra_check", "enable_session_tag_chaining"),
    )
    output = Output(
        ctx,
        name_prefix=name_prefix,
        **_of(p, "output", "output_kms_key", "output_compression", "checkpoint", "checkpoint_local_path"),
    )
    compute = Compute(
        ctx,
        **_of(
            p,
            "instance_type",
            "instance_count",
            "instance_groups",
            "instance_preferences",
            "instance_placement",
            "training_plan_arn",
            "volume_size",
            "volume_kms_key",
            "encrypt_volume",
            "keep_alive_period",
            "enable_managed_spot_training",
        ),
    )
    inputs = InputData(ctx, p["inputs"])
    code = Code(
        ctx,
        **_of(
            p,
            "source_code",
            "distributed",
            "image",
            "hyperparameters",
            "container_entrypoint",
            "enable_sage_maker_metrics_time_series",
        ),
    )
    network = Networking(
        ctx,
        **_of(
            p,
            "vpc",
            "vpc_subnets",
            "security_groups",
            "allow_all_outbound",
            "enable_network_isolation",
            "enable_inter_container_traffic_encryption",
        ),
    )
    algorithm = Algorithm(
        hyperparameters=code.hyperparameters,
        container_entrypoint=code.entrypoint,
        enable_sage_maker_metrics_time_series=code.metrics_time_series,
        **_of(p, "image", "algorithm_name", "input_mode", "metric_definitions", "environment", "container_arguments"),
    )
    stopping = Stopping(
        **_of(p, "max_runtime", "enable_managed_spot_training", "max_wait", "max_pending_time", "wait_for_completion")
    )
    parts: list[RequestPart] = [
        run,
        inputs,
        output,
        compute,
        network,
        code,
        algorithm,
        Tracking(**_of(p, "experiment", "mlflow", "model_package")),
    ]
    if p["serverless"] is not None:
        parts.append(Serverless(p["serverless"], props))
    parts += [DebuggingPart(_debugging(ctx, code, p)), stopping]
    if p["overrides"]:
        parts.append(Overrides(p["overrides"]))
    return ctx, parts


def _of(props: Mapping[str, Any], *names: str) -> dict[str, Any]:
    return {name: props[name] for name in names}


def _debugging(ctx: JobContext, code: Code, p: Mapping[str, Any]) -> Debugging:
    """The job's Debugger and Profiler settings; a framework image's script gets the SageMaker
    Python SDK's defaults (to the job's output) where the job sets none."""
    debug_hook, profiler = p["debug_hook"], p["profiler"]
    if ctx.toolkit and code.source_code is not None:
        assert ctx.output is not None
        debug_hook, profiler = code.source_code.debugging(
            ctx.problems,
            debug_hook=debug_hook,
            profiler=profiler,
            output=ctx.output,
            framework=ctx.framework,
            checkpoint_uri=p["checkpoint"] is not None,
            checkpoint_local_path=p["checkpoint_local_path"] is not None,
            instance_count=ctx.instance_count,
        )
    return Debugging(
        debug_hook=debug_hook,
        debug_rules=list(p["debug_rules"] or []),
        profiler=profiler,
        profiler_rules=list(p["profiler_rules"] or []),
        tensor_board_output=p["tensor_board_output"],
    )
