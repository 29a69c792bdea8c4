"""``TrainingJob``: one SageMaker training job, with everything it needs, as a CDK construct."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

import jsii
from aws_cdk import (
    Annotations,
    CfnResource,
    CfnWaitCondition,
    Duration,
    ITaggable,
    RemovalPolicy,
    Size,
    Stack,
    TagManager,
    TagType,
    Token,
)
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct, IConstruct

from . import frameworks
from .capacity import InstancePlacementConfig, InstancePreference, preference_problems, render_capacity
from .channel import Channel, FileSystemLocation, InputMode
from .cli_input import load_document, props_from_cli_input
from .completion import CompletionGate, job_state_pattern
from .debugging import Debugging, DebugHookConfig, ProfilerConfig, RuleConfiguration, TensorBoardOutput
from .distributed import Distribution
from .errors import Problems, TrainingJobValidationError
from .execution_role import JobAccess, create_execution_role, grant_job_access
from .image import TrainingImage
from .instance_group import InstanceGroup, ml_instance_type
from .instance_types import has_local_nvme_storage
from .memo import per_object
from .nag import acknowledge_rule, acknowledge_wildcard
from .naming import claim_fixed_name, job_name_prefix, name_spellings
from .overrides import access_points, apply_overrides
from .payload import PayloadCheck
from .policy import arn, key_arn_of
from .prop_types import labeled, type_problems
from .provider import SERVICE_TIMEOUT_SECONDS, TrainingJobProvider
from .request import HyperParameterValue, OutputCompressionType, render_request, render_run_settings
from .rules import prop_problems, wait_problems
from .s3_location import S3Location
from .script_mode import code_location
from .serverless import ServerlessJobConfig
from .source_code import SourceCode
from .storage import TrainingStorage
from .tracking import ExperimentConfig, MlflowConfig, ModelPackageConfig
from .training_job_base import ImportedTrainingJob, ITrainingJob, TrainingJobBase
from .validation import ALLOW_UNKNOWN_ENUM_VALUES, split_unknown_enum_values

RESOURCE_TYPE = "Custom::SageMakerTrainingJob"
# 2: the request as structured properties (a reviewer and ``cdk diff`` see each member); the
# handler coerces CloudFormation's strings back to the API's types, and still reads 0 and 1.
SCHEMA_VERSION = "2"


class JobRemovalBehavior(Enum):
    """What happens to the training job when its resource is deleted or replaced."""

    STOP = "stop"
    """Stop the job if it still runs (default); finished jobs are left as they are."""
    RETAIN = "retain"
    """Leave the job running; CloudFormation forgets it."""
    DELETE = "delete"
    """Stop the job, wait for it to end, then DeleteTrainingJob so its name can be reused."""


@jsii.implements(iam.IGrantable, ec2.IConnectable, ITaggable)
class TrainingJob(TrainingJobBase):
    """A SageMaker training job, started by ``cdk deploy`` through CreateTrainingJob.

    Creates, unless you bring your own: the execution role (least privilege, derived from
    this job's configuration), a retained KMS key and retained output bucket shared by the
    stack's jobs, a security group when ``vpc`` is set, and one
    ``Custom::SageMakerTrainingJob`` resource served by the stack's single handler Lambda.

    Any change of the job's configuration (other than tags) starts a new job with a new
    name when deployed; the replaced job is handled per ``removal_behavior``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        image: TrainingImage | None = None,
        algorithm_name: str | None = None,
        input_mode: InputMode = InputMode.FILE,
        metric_definitions: Mapping[str, str] | None = None,
        enable_sage_maker_metrics_time_series: bool | None = None,
        hyperparameters: Mapping[str, HyperParameterValue] | None = None,
        environment: Mapping[str, str] | None = None,
        role: iam.IRole | None = None,
        inputs: Sequence[Channel] = (),
        output: S3Location | None = None,
        output_kms_key: kms.IKey | None = None,
        output_compression: OutputCompressionType | None = None,
        instance_type: str | ec2.InstanceType | None = None,
        instance_count: int | None = None,
        instance_groups: Sequence[InstanceGroup] | None = None,
        volume_size: Size | None = None,
        volume_kms_key: kms.IKey | None = None,
        encrypt_volume: bool = True,
        keep_alive_period: Duration | None = None,
        vpc: ec2.IVpc | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        security_groups: Sequence[ec2.ISecurityGroup] | None = None,
        allow_all_outbound: bool = True,
        max_runtime: Duration | None = None,
        enable_managed_spot_training: bool | None = None,
        max_wait: Duration | None = None,
        checkpoint: S3Location | None = None,
        checkpoint_local_path: str | None = None,
        enable_network_isolation: bool | None = None,
        enable_inter_container_traffic_encryption: bool | None = None,
        tags: Mapping[str, str] | None = None,
        training_job_name: str | None = None,
        removal_behavior: JobRemovalBehavior = JobRemovalBehavior.STOP,
        overrides: Mapping[str, Any] | None = None,
        wait_for_completion: Duration | None = None,
        debug_hook: DebugHookConfig | None = None,
        debug_rules: Sequence[RuleConfiguration] | None = None,
        profiler: ProfilerConfig | None = None,
        profiler_rules: Sequence[RuleConfiguration] | None = None,
        tensor_board_output: TensorBoardOutput | None = None,
        container_entrypoint: Sequence[str] | None = None,
        container_arguments: Sequence[str] | None = None,
        retry_attempts: int | None = None,
        max_pending_time: Duration | None = None,
        enable_remote_debug: bool | None = None,
        enable_infra_check: bool | None = None,
        enable_session_tag_chaining: bool | None = None,
        training_plan_arn: str | None = None,
        instance_placement: InstancePlacementConfig | None = None,
        instance_preferences: Sequence[InstancePreference] | None = None,
        experiment: ExperimentConfig | None = None,
        mlflow: MlflowConfig | None = None,
        model_package: ModelPackageConfig | None = None,
        serverless: ServerlessJobConfig | None = None,
        source_code: SourceCode | None = None,
        distributed: Distribution | None = None,
    ) -> None:
        """Define a training job.

        :param image: the training container image (and, for a private registry, how SageMaker
            reaches it: ``TrainingImage.from_registry(uri, repository_access_mode=..., credentials_provider=...)``).
            Exactly one of ``image`` and ``algorithm_name`` is required, except for a ``serverless`` job.
        :param algorithm_name: a SageMaker algorithm resource name or ARN instead of an image.
        :param input_mode: how data reaches the container. Default: ``InputMode.FILE``.
        :param metric_definitions: metric name -> regex over the job's logs. Default: none.
        :param enable_sage_maker_metrics_time_series: publish metrics as time series. Default: SageMaker's (off).
        :param hyperparameters: name -> value; numbers and booleans are converted by
            ``hyperparameter_string``. Default: none.
        :param environment: environment variables of the container. Default: none.
        :param role: the execution role. Default: a role created for this job with exactly
            the permissions below; a role you pass gets the same statements added when it
            is mutable (an imported role must already have them).
        :param inputs: the input channels. Default: none.
        :param output: where model artifacts go. Default: a prefix of the stack's retained
            output bucket, unique to this job.
        :param output_kms_key: encrypts the artifacts. Default: the output location's key
            (the stack's key for the default output bucket).
        :param output_compression: Default: SageMaker's (GZIP).
        :param instance_type: an ``ml.*`` name, or an ``ec2.InstanceType`` (``m5.xlarge`` becomes
            ``ml.m5.xlarge``). Default: ``ml.m5.xlarge`` (none with ``instance_groups``).
        :param instance_groups: a heterogeneous cluster (``ResourceConfig.InstanceGroups``), instead
            of ``instance_type`` and ``instance_count``. Default: none.
        :param instance_count: Default: 1 (none with ``instance_groups``). More than one instance
            in all (groups included) with a VPC adds a self-referencing
            ingress rule to the job's security groups.
        :param volume_size: ML storage volume per instance, whole GiB. Default: 30 GiB.
        :param volume_kms_key: encrypts the storage volumes. Default: ``output_kms_key`` when
            ``encrypt_volume`` is true, except on instance types with local NVMe storage
            (which reject a volume key).
        :param encrypt_volume: whether a missing ``volume_kms_key`` defaults to
            ``output_kms_key``; false leaves volumes to SageMaker's own encryption. Default: true.
        :param keep_alive_period: warm pool keep-alive. Default: no warm pool.
        :param vpc: run the job in this VPC. Default: no VPC (SageMaker's network).
        :param vpc_subnets: Default: the VPC's private subnets. Without ``vpc``, a selection
            listing ``subnets`` explicitly (imported subnets) plus ``security_groups`` also works.
        :param security_groups: Default: one created for this job (no ingress from outside).
        :param allow_all_outbound: whether the security group created for the job allows all
            outbound traffic. False allows none but to the group itself (multi-instance jobs):
            add what the job needs with ``job.connections.allow_to(peer, port)``, at least
            HTTPS to S3 (a gateway endpoint's prefix list), ECR (``ecr.api``, ``ecr.dkr``) and
            CloudWatch Logs endpoints, unless the job runs with network isolation and reaches
            nothing itself. Default: true.
        :param max_runtime: Default: 1 day (SageMaker's default).
        :param enable_managed_spot_training: Default: SageMaker's (off).
        :param max_wait: required with spot training; at least ``max_runtime``.
        :param checkpoint: S3 location for checkpoints (read and write). Default: none.
        :param checkpoint_local_path: Default: SageMaker's (``/opt/ml/checkpoints``).
        :param enable_network_isolation: Default: SageMaker's (off).
        :param enable_inter_container_traffic_encryption: Default: SageMaker's (off).
        :param tags: tags of the training job. Default: none. Tag changes update the job in place.
        :param training_job_name: a fixed job name. Default: generated per deployment
            (``<stack>-<hash>-<hash>``, lowercase). A fixed name cannot be replaced by a
            changed job: SageMaker refuses a second job with the same name.
        :param removal_behavior: Default: ``JobRemovalBehavior.STOP``.
        :param overrides: escape hatch for members without a typed prop: API member path ->
            value, set into the rendered request (``{"ResourceConfig.KeepAlivePeriodInSeconds": 600,
            "RetryStrategy": {"MaximumRetryAttempts": 2}}``) and validated against the API model.
            No permission is derived from them: an override naming an S3 location, KMS key,
            file system or role outside what the role already reaches adds a synth warning.
            Default: none.
        :param debug_hook: ``DebugHookConfig``: the Debugger hook's tensors to an S3 location the
            role may then write to. Default: none (SageMaker's framework containers may add their own).
        :param debug_rules: ``DebugRuleConfigurations``: Debugger rules evaluated beside the job, with
            its role (which may write to each rule's output). Default: none.
        :param profiler: ``ProfilerConfig``; updatable on a running job. Default: SageMaker's.
        :param profiler_rules: ``ProfilerRuleConfigurations``. Default: none.
        :param tensor_board_output: ``TensorBoardOutputConfig``: TensorBoard data to an S3 location
            the role may then write to. Default: none.
        :param container_entrypoint: ``AlgorithmSpecification.ContainerEntrypoint``. Default: the image's.
        :param container_arguments: ``AlgorithmSpecification.ContainerArguments``. Default: the image's.
        :param retry_attempts: ``RetryStrategy.MaximumRetryAttempts`` (1-30), retries SageMaker makes
            after an internal error. Default: none.
        :param max_pending_time: ``StoppingCondition.MaxPendingTimeInSeconds``, how long the job may wait
            for capacity (training plans). Default: SageMaker's.
        :param enable_remote_debug: ``RemoteDebugConfig``; updatable on a running job. Default: off.
        :param enable_infra_check: ``InfraCheckConfig``. Default: SageMaker's.
        :param enable_session_tag_chaining: ``SessionChainingConfig``: the job's session tags chain to
            the roles it assumes; the created role's trust then also allows ``sts:TagSession``.
            Default: off.
        :param training_plan_arn: ``ResourceConfig.TrainingPlanArn``: run on a training plan's reserved
            capacity; the handler may create jobs on exactly the plans the stack's jobs name. Default: none.
        :param instance_placement: ``ResourceConfig.InstancePlacementConfig`` (UltraServer capacity).
            Default: none.
        :param instance_preferences: ``ResourceConfig.InstancePreferences``: instance types in order of
            preference, instead of ``instance_type`` (and of groups, placement and spot). Default: none.
        :param experiment: ``ExperimentConfig``: record the job in SageMaker Experiments; with a run
            name, the role may log that run. Default: none.
        :param mlflow: ``MlflowConfig``: SageMaker managed MLflow tracking; the role may log runs to
            that server or app. Default: none.
        :param model_package: ``ModelPackageConfig``: register the model in a model package group,
            which the role may then create packages in. Default: none.
        :param serverless: ``ServerlessJobConfig``: fine-tune or evaluate a public hub model on compute
            SageMaker chooses; no image, instance or volume props then, and no ``StoppingCondition``
            unless ``max_runtime`` is set. Default: none.
        :param source_code: ``SourceCode.from_directory(dir, entry_script, requirements=...)``: train a
            local script, packaged as an S3 asset the role may read. With a framework image
            (``TrainingImage.from_framework``) it is delivered as the SageMaker Python SDK does (script-mode
            hyperparameters; hyperparameter strings JSON-encoded as the SDK writes them); with any other
            image as a ``code`` channel and a ``ContainerEntrypoint`` that installs and runs it.
            Default: none (the image holds the code).
        :param distributed: ``Torchrun()``, ``MPI()`` or ``SmDataParallel()``: how a framework image's
            toolkit launches ``source_code`` on every instance. Default: one process per instance.
        :param wait_for_completion: make the deployment wait (at most this long, up to 12 h)
            until the job completes, and fail it with SageMaker's reason when the job fails or
            stops (MaxRuntimeExceeded included). Event-driven: no Lambda runs while the job
            trains. Must exceed ``max_runtime`` (``max_wait`` with spot) by 30 minutes. Resources
            that need the trained model depend on ``completion``. Default: the deployment does
            not wait; the job trains after ``cdk deploy`` returns.
        """
        props = {k: v for k, v in locals().items() if k not in ("self", "scope", "construct_id", "__class__")}
        super().__init__(scope, construct_id)
        problems = Problems()
        type_problems(problems, props, enums={"removal_behavior": JobRemovalBehavior})
        problems.raise_if_any(self)  # nothing below can be built from values of the wrong type
        groups = list(instance_groups or [])
        preferences = list(instance_preferences or [])
        if serverless is not None:
            serverless.problems(problems, props)
        if not (groups or preferences or serverless):
            instance_type = ml_instance_type(instance_type or "ml.m5.xlarge")
            instance_count = 1 if instance_count is None else instance_count
        elif instance_type is not None:
            instance_type = ml_instance_type(instance_type)
        self._initial_tags = dict(tags or {})
        self._stack = stack = Stack.of(self)
        # CloudFormation gives a stack's tags to the resources it knows, not to a training job:
        # the stack's tags join the job's (which win); Tags.of adds more until synthesis.
        self._tag_manager = TagManager(TagType.KEY_VALUE, RESOURCE_TYPE, self._known_tags())
        self._provider = TrainingJobProvider.of(stack)
        self.job_name_prefix = job_name_prefix(
            stack, f"{per_object(scope, 'path', lambda: scope.node.path)}/{construct_id}"
        )
        self.fixed_training_job_name = training_job_name
        self.inputs = [_bound(channel, self) for channel in inputs]
        region = stack.region
        framework = image.framework if image is not None else None
        toolkit = source_code is not None and framework in frameworks.SCRIPT_MODE
        if source_code is not None and framework is not None and not toolkit:
            problems.add(
                "source_code",
                framework,
                f"{framework}'s image is a built-in algorithm, which runs no script: use a framework image "
                f"({', '.join(frameworks.SCRIPT_MODE)}) or an image of your own",
            )
        for prop, location in (("output", output), ("checkpoint", checkpoint)):
            if location is not None and location.asset_path is not None:
                problems.add(
                    labeled(prop), location.asset_path, "a local asset is input only: an S3 location to write to"
                )
        code_archive: S3Location | None = None
        if source_code is not None:
            delivery = source_code.deliver(
                self,
                toolkit=toolkit,
                region=region,
                hyperparameters=hyperparameters,
                framework=framework,
                framework_version=image.framework_version if image is not None else None,
                distributed=distributed,
            )
            code_archive, hyperparameters = delivery.archive, delivery.hyperparameters
            if delivery.channel is not None:
                self.inputs.append(delivery.channel)
                container_entrypoint = container_entrypoint or source_code.entrypoint(distributed, instance_type)
            elif enable_sage_maker_metrics_time_series is None:
                enable_sage_maker_metrics_time_series = delivery.metrics_time_series  # as the SDK's estimators
        self.instance_type = instance_type
        self.instance_groups = groups
        # Every instance of the job, groups included (a preferred type's count at most).
        counts = [g.instance_count for g in groups] or [p.instance_count or instance_count or 1 for p in preferences]
        self.instance_count = sum(counts) if groups else max(counts, default=instance_count or 1)
        types = [g.ml_instance_type for g in groups] + [p.ml_instance_type for p in preferences]
        if instance_type is not None:
            types.append(str(instance_type))
        self.removal_behavior = removal_behavior
        spot = bool(enable_managed_spot_training)
        self.max_runtime_seconds = int(max_runtime.to_seconds()) if max_runtime is not None else 86400
        self._allow_all_outbound = allow_all_outbound

        prop_problems(
            problems,
            image=image,
            algorithm_name=algorithm_name,
            serverless=serverless is not None,
            hyperparameters=hyperparameters or {},
            instance_types=types,
            instance_type=instance_type if (groups or preferences) else None,
            instance_count=instance_count,
            instance_groups=groups,
            volume_size=volume_size,
            volume_kms_key=volume_kms_key,
            inputs=self.inputs,
            max_runtime_seconds=self.max_runtime_seconds,
            enable_managed_spot_training=spot,
            max_wait=max_wait,
            tags=tags or {},
            training_job_name=training_job_name,
            vpc=vpc,
            vpc_subnets=vpc_subnets,
            security_groups=security_groups,
        )
        preference_problems(
            problems,
            preferences,
            instance_type=instance_type if preferences else None,
            instance_count=instance_count,
            instance_groups=groups,
            instance_placement=instance_placement,
            enable_managed_spot_training=enable_managed_spot_training,
            training_plan_arn=training_plan_arn,
        )
        wait_problems(
            problems,
            wait_for_completion,
            max_runtime_seconds=self.max_runtime_seconds,
            enable_managed_spot_training=spot,
            max_wait=max_wait,
        )
        # Problems so far are raised with the API model's, below: one error lists them all.

        job_names = training_job_name or f"{self.job_name_prefix}-*"  # this resource's jobs
        if role is None:
            self.role: iam.IRole = create_execution_role(
                self,
                stack,
                path=self._provider.job_role_path,
                job_names=name_spellings(job_names),
                session_tags=bool(enable_session_tag_chaining),
                rule_jobs=bool(debug_rules or profiler_rules),
            )
            log_streams = training_job_name or f"{self.job_name_prefix}-"
        else:
            self.role = role
            self._provider.allow_pass_role(role)
            if enable_session_tag_chaining:
                Annotations.of(self).add_warning_v2(
                    "@constructs-lib/session-tags",
                    "enable_session_tag_chaining: the role you bring must also allow sts:TagSession to "
                    "sagemaker.amazonaws.com in its trust policy (a role the job creates gets it)",
                )
            # A role the user brings may serve many jobs: it gets the stack's log streams, so
            # its policy does not grow per job.
            log_streams = training_job_name or f"{self._provider.name_prefix}-"
        if training_job_name is not None:
            self._provider.allow_job_name(training_job_name)
            other = claim_fixed_name(self, stack.account, stack.region, training_job_name)
            if other is not None:
                problems.add(
                    "training_job_name (TrainingJobName)",
                    training_job_name,
                    f"already the fixed name of {other} in this app; job names are unique per account and "
                    "region (case aside), so the second job's Create would fail with ResourceInUse at deploy",
                )

        if output is None:
            output = S3Location.from_bucket(TrainingStorage.of(stack).output_bucket, f"{self.job_name_prefix}/")
        self.output = output
        self.uncompressed_output = output_compression is OutputCompressionType.NONE
        self.output_kms_key = output_kms_key or output.encryption_key
        if distributed is not None:
            if source_code is None:
                problems.add("distributed", type(distributed).__name__, "launches source_code: set source_code")
            distributed.problems(problems, framework=framework, instance_types=types, region=region, image=image)
            if toolkit and types:
                assert hyperparameters is not None
                hyperparameters = {**hyperparameters, **distributed.hyperparameters(types[0], region)}
        chosen_volume = serverless is None  # SageMaker selects a serverless job's volumes
        nvme = [t for t in types if has_local_nvme_storage(t)]
        if volume_kms_key is None and encrypt_volume and chosen_volume:
            if not nvme:
                volume_kms_key = self.output_kms_key
            elif self.output_kms_key is not None:
                Annotations.of(self).add_warning_v2(
                    "@constructs-lib/volume-key-dropped",
                    f"encrypt_volume: no VolumeKmsKeyId is sent, because {', '.join(nvme)} has local NVMe "
                    "storage, which SageMaker encrypts itself and for which it refuses a volume key",
                )
        if training_job_name is not None:
            Annotations.of(self).add_warning_v2(
                "@constructs-lib/fixed-job-name",
                f"training_job_name: {training_job_name!r} is fixed; job names are unique per account and "
                "region, so any later change that needs a new job cannot deploy under this name (change or "
                "remove training_job_name with it). Generated names avoid this",
            )
        self.volume_kms_key = volume_kms_key

        subnet_ids = self._attach_network(vpc, vpc_subnets, security_groups)
        self._connections: ec2.Connections | None = None
        access = JobAccess(
            log_streams=log_streams,
            inputs=[location for c in self.inputs for location in c.read_locations()],
            output=output,
            output_kms_key=self.output_kms_key,
            checkpoint=checkpoint,
            volume_kms_key=volume_kms_key,
            subnet_ids=subnet_ids,
            security_group_ids=self._security_group_ids,
        )
        grant_job_access(stack, self.role, access)
        for channel in self.inputs:
            if channel.is_manifest and not channel.manifest_data:
                Annotations.of(self).add_warning_v2(
                    "@constructs-lib/manifest-data",
                    f"inputs: channel {channel.channel_name!r} is a {channel.s3_data_type.value}: the role may read "
                    "the manifest only, not the objects it names; set Channel(manifest_data=[S3Location...]) "
                    "to grant them, or the job fails at run time with AccessDenied",
                )
        # The code a framework image's toolkit downloads: an SDK document's, or this job's source_code.
        submitted = code_archive if toolkit else code_location(hyperparameters or {})
        if submitted is not None:
            submitted.grant_read(stack, self.role)
        for channel in self.inputs:
            if isinstance(channel.data, FileSystemLocation):
                channel.data.bind(self.role, self.security_groups)
        instance = types[0] if types else None
        image_uri = image.bind(self, self.role, instance_type=instance, problems=problems) if image else None
        if image is not None:
            image.problems(problems, in_vpc=bool(subnet_ids))

        self._request = render_request(
            role_arn=per_object(self.role, "arn", lambda: self.role.role_arn),
            image_uri=image_uri,
            algorithm_name=algorithm_name,
            input_mode=input_mode,
            metric_definitions=metric_definitions or {},
            enable_sage_maker_metrics_time_series=enable_sage_maker_metrics_time_series,
            hyperparameters=hyperparameters,
            environment=environment,
            inputs=self.inputs,
            output=output,
            output_kms_key_arn=key_arn_of(self.output_kms_key) if self.output_kms_key is not None else None,
            output_compression=output_compression,
            instance_type=None if groups else instance_type,
            instance_count=None if groups else instance_count,
            instance_groups=groups,
            volume_gib=_whole_gibibytes(volume_size),
            volume_kms_key_arn=key_arn_of(volume_kms_key) if volume_kms_key is not None else None,
            keep_alive_seconds=int(keep_alive_period.to_seconds()) if keep_alive_period is not None else None,
            security_group_ids=self._security_group_ids,
            subnet_ids=subnet_ids,
            max_runtime_seconds=self.max_runtime_seconds,
            max_wait_seconds=int(max_wait.to_seconds()) if max_wait is not None else None,
            enable_managed_spot_training=enable_managed_spot_training,
            checkpoint=checkpoint,
            checkpoint_local_path=checkpoint_local_path,
            enable_network_isolation=enable_network_isolation,
            enable_inter_container_traffic_encryption=enable_inter_container_traffic_encryption,
            tags={},  # the tag manager's, rendered with the template (Tags.of and stack tags reach it)
        )
        render_run_settings(
            self._request,
            container_entrypoint=container_entrypoint,
            container_arguments=container_arguments,
            retry_attempts=retry_attempts,
            max_pending_seconds=int(max_pending_time.to_seconds()) if max_pending_time is not None else None,
            enable_remote_debug=enable_remote_debug,
            enable_infra_check=enable_infra_check,
            enable_session_tag_chaining=enable_session_tag_chaining,
        )
        image_config = image.render_config(self.role) if image is not None else None
        if image_config is not None:
            self._request["AlgorithmSpecification"]["TrainingImageConfig"] = image_config
        render_capacity(
            self._request["ResourceConfig"],
            training_plan_arn=training_plan_arn,
            instance_placement=instance_placement,
            instance_preferences=preferences,
        )
        if experiment is not None:
            self._request["ExperimentConfig"] = experiment.render()
            job_arns = arn(stack, "sagemaker", f"training-job/{job_names}")
            experiment.grant(stack, self.role, job_arns)
        for member, part in (
            ("MlflowConfig", mlflow),
            ("ModelPackageConfig", model_package),
            ("ServerlessJobConfig", serverless),
        ):
            if part is not None:
                self._request[member] = part.render()
                part.grant(stack, self.role)
        if serverless is not None:
            serverless.shape(self._request, runtime_set=max_runtime is not None)
        if toolkit:
            assert source_code is not None
            # The SageMaker Python SDK's framework estimators add these by default (to the job's output).
            debug_hook, profiler = source_code.debugging(
                problems,
                debug_hook=debug_hook,
                profiler=profiler,
                output=output,
                framework=framework,
                checkpoint_uri=checkpoint is not None,
                checkpoint_local_path=checkpoint_local_path is not None,
                instance_count=self.instance_count,
            )
        debugging = Debugging(
            debug_hook=debug_hook,
            debug_rules=list(debug_rules or []),
            profiler=profiler,
            profiler_rules=list(profiler_rules or []),
            tensor_board_output=tensor_board_output,
        )
        debugging.render_into(self._request)
        debugging.grant(stack, self.role, output)
        for location in debugging.locations():
            acknowledge_wildcard(
                self.role,
                location.objects_arn(stack),
                "Objects below a prefix the job's Debugger, Profiler or TensorBoard output writes to; "
                "SageMaker chooses the object names at run time.",
            )
        if overrides:
            apply_overrides(self._request, overrides, problems)
            granted = [loc.s3_uri for loc in (*access.inputs, access.output, *([checkpoint] if checkpoint else []))]
            granted += [loc.s3_uri for loc in (*debugging.locations(), *([submitted] if submitted else []))]
            granted += [key.key_arn for key in (self.output_kms_key, volume_kms_key) if key is not None]
            for path, value in access_points(overrides):
                if any(value.startswith(reach) for reach in granted):
                    continue  # within what the role already reaches
                Annotations.of(self).add_warning_v2(
                    "@constructs-lib/override-access",
                    f"overrides: {path} = {value!r} is not granted to the job's role; grant access "
                    "yourself (job.role / job.grant_principal) or the job fails at run time",
                )
        self._model_problems(problems)
        problems.raise_if_any(self)
        self._provider.register_job(lambda: (self._request, self.removal_behavior is JobRemovalBehavior.DELETE))

        properties: dict[str, Any] = {
            "SchemaVersion": SCHEMA_VERSION,
            "JobNamePrefix": self.job_name_prefix,
            # The tags render with the template (CDK's own lazy value: no callback per job).
            "Request": {**self._request, "Tags": self._tag_manager.rendered_tags},
        }
        if removal_behavior is not JobRemovalBehavior.STOP:  # the handler's default
            properties["RemovalBehavior"] = removal_behavior.value
        if training_job_name is not None:
            properties["TrainingJobName"] = training_job_name
        self._gate: CompletionGate | None = None
        if wait_for_completion is not None:
            self._gate = CompletionGate(
                self,
                "Completion",
                provider=self._provider,
                pattern=job_state_pattern(stack, self.job_name_prefix, training_job_name),
                request=lambda: self._request,
                name_prefix=self.job_name_prefix,
                fixed_name=training_job_name,
                timeout=wait_for_completion,
            )
            properties["GateId"] = self._gate.gate_id
        # The custom resource as an L1 resource: CustomResource's L2 costs every job a second
        # construct and an explicit DeletionPolicy/UpdateReplacePolicy of Delete (CloudFormation's default).
        self.resource = CfnResource(
            self,
            "Resource",
            type=RESOURCE_TYPE,
            properties={
                "ServiceToken": self._provider.service_token,
                "ServiceTimeout": str(SERVICE_TIMEOUT_SECONDS),
                **properties,
            },
        )
        fixed_properties = {k: v for k, v in properties.items() if k != "Request"}
        self.node.add_validation(PayloadCheck(self, lambda: (self.rendered_request(), fixed_properties)))
        # The job must not start before its role's policies and its security group rules
        # exist (the role and groups themselves are already referenced by the request).
        role = self.role
        dependables = per_object(role, "policies", lambda: _children_but_resource(role))
        if subnet_ids and self.instance_count > 1:
            dependables = dependables + [c for g in self.security_groups for c in _children_but_resource(g)]
        if dependables:
            self.resource.node.add_dependency(*dependables)
        self._completion: CfnWaitCondition | None = None
        if self._gate is not None:
            # The rule and its invoke permission (a child of the rule) exist before the job.
            self.resource.node.add_dependency(self._gate.rule)
            self._completion = self._gate.close(self.training_job_name)

    @classmethod
    def from_cli_input_json(
        cls,
        scope: Construct,
        construct_id: str,
        document: str | os.PathLike[str] | Mapping[str, Any],
        **props: Any,
    ) -> TrainingJob:
        """A job from the JSON that ``aws sagemaker create-training-job --cli-input-json`` takes.

        ``document`` is a dict, a JSON string, or a path (``file://`` accepted). Role, S3
        URIs, KMS keys, subnets and security groups become imported CDK references (created
        under ``<construct_id>CliInput``) so grants stay least privilege: the job's statements
        are attached to the imported role as a new policy (pass ``role=`` to override).
        Members without a typed prop become ``overrides``. Keyword ``props`` take precedence
        over the document (``overrides`` are merged).
        """
        imports = Construct(scope, f"{construct_id}CliInput")
        loaded = props_from_cli_input(imports, load_document(document))
        extra_overrides = props.pop("overrides", None)
        if extra_overrides:
            loaded["overrides"] = {**loaded.get("overrides", {}), **extra_overrides}
        return cls(scope, construct_id, **{**loaded, **props})

    # ----- the request ----------------------------------------------------------------

    def _model_problems(self, problems: Problems | None = None) -> list[str]:
        """The rendered request against the API model; enum values the local model does not know
        are warnings instead when the context sets ``ALLOW_UNKNOWN_ENUM_VALUES``."""
        checked = {"TrainingJobName": self.fixed_training_job_name or f"{self.job_name_prefix}-00000000"}
        found, unknown = split_unknown_enum_values({**checked, **self._request_with_tags(self._known_tags())})
        if per_object(self._stack, "unknown enums", lambda: bool(self.node.try_get_context(ALLOW_UNKNOWN_ENUM_VALUES))):
            for value in unknown:
                Annotations.of(self).add_warning_v2(
                    "@constructs-lib/unknown-enum-value", f"{value} (accepted: {ALLOW_UNKNOWN_ENUM_VALUES} is set)"
                )
        else:
            hint = f" (newer than the installed botocore? set the context {ALLOW_UNKNOWN_ENUM_VALUES}: true)"
            found += [value + hint for value in unknown]
        if problems is not None:
            problems.extend_new(found)
        return found

    @property
    def tags(self) -> TagManager:
        """The job's tags: the ``tags`` prop and the stack's tags, plus what ``Tags.of(scope).add``
        adds until synthesis. Tag changes update the job in place."""
        return self._tag_manager

    @property
    def request(self) -> dict[str, Any]:
        """The CreateTrainingJob request as built (without its name and tags), read-only: change
        it with ``add_request_override`` (from an Aspect, too)."""
        frozen: dict[str, Any] = _read_only(self._request)
        return frozen

    def add_request_override(self, path: str, value: Any) -> None:
        """Sets one request member after construction (``"ResourceConfig.InstanceType"``,
        ``"HyperParameters.lr"``, ``"InputDataConfig[0].InputMode"``): the way for an Aspect to
        change a job. Validated against the API model at once; the handler's guardrails follow.
        No permission is derived from it (as for ``overrides``)."""
        problems = Problems()
        apply_overrides(self._request, {path: value}, problems)
        self._model_problems(problems)
        problems.raise_if_any(self)
        self.resource.add_property_override(f"Request.{path}", value)

    def rendered_request(self) -> dict[str, Any]:
        """The CreateTrainingJob request as the handler receives it (without the generated
        name), with the job's tags as far as they are known before synthesis."""
        return self._request_with_tags({t["Key"]: t["Value"] for t in (self._tag_manager.render_tags() or [])})

    def _known_tags(self) -> dict[str, str]:
        """The tags at construction (no round trip to the tag manager): the stack's and the job's."""
        return {**_stack_tags(self._stack), **self._initial_tags}

    def _request_with_tags(self, tags: Mapping[str, str]) -> dict[str, Any]:
        rendered = dict(self._request)
        if tags:
            rendered["Tags"] = [{"Key": key, "Value": tags[key]} for key in sorted(tags)]
        return rendered

    def apply_removal_policy(self, policy: RemovalPolicy) -> None:
        """Maps CDK's removal policy onto ``removal_behavior``: ``RETAIN`` (and
        ``RETAIN_ON_UPDATE_OR_DELETE``) -> ``JobRemovalBehavior.RETAIN``, ``DESTROY`` ->
        ``JobRemovalBehavior.DELETE``; ``SNAPSHOT`` has no meaning for a training job."""
        mapping = {
            RemovalPolicy.RETAIN: JobRemovalBehavior.RETAIN,
            RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE: JobRemovalBehavior.RETAIN,
            RemovalPolicy.DESTROY: JobRemovalBehavior.DELETE,
        }
        if policy not in mapping:
            raise TrainingJobValidationError(
                self.node.path,
                [f"apply_removal_policy: got {policy}; allowed: RETAIN, RETAIN_ON_UPDATE_OR_DELETE, DESTROY"],
            )
        self.removal_behavior = mapping[policy]
        self.resource.add_property_override("RemovalBehavior", self.removal_behavior.value)

    # ----- imports ----------------------------------------------------------------

    @staticmethod
    def from_training_job_name(scope: Construct, construct_id: str, training_job_name: str) -> ITrainingJob:
        """A training job this app does not define, by its name (in the scope's account and region)."""
        return ImportedTrainingJob(scope, construct_id, training_job_name=training_job_name)

    @staticmethod
    def from_training_job_arn(scope: Construct, construct_id: str, training_job_arn: str) -> ITrainingJob:
        """A training job this app does not define, by its ARN."""
        return ImportedTrainingJob(scope, construct_id, training_job_arn=training_job_arn)

    @staticmethod
    def from_training_job_attributes(
        scope: Construct,
        construct_id: str,
        *,
        training_job_name: str | None = None,
        training_job_arn: str | None = None,
        output: S3Location | None = None,
        output_kms_key: kms.IKey | None = None,
    ) -> ITrainingJob:
        """A training job this app does not define: its name or ARN, and where it wrote its output
        (the job's ``S3OutputPath``), for ``model_artifacts_s3_uri`` and the output grants."""
        return ImportedTrainingJob(
            scope,
            construct_id,
            training_job_name=training_job_name,
            training_job_arn=training_job_arn,
            output=output,
            output_kms_key=output_kms_key,
        )

    # ----- attributes --------------------------------------------------------------

    def _attribute(self, name: str) -> str:
        """An attribute of the custom resource (the handler's answer), as a string token."""
        value: str = per_object(self, f"attribute {name}", lambda: Token.as_string(self.resource.get_att(name)))
        return value

    @property
    def training_job_name(self) -> str:
        """The job's name (a deploy-time value)."""
        return self._attribute("TrainingJobName")

    @property
    def training_job_arn(self) -> str:
        """The job's ARN (a deploy-time value)."""
        return self._attribute("TrainingJobArn")

    @property
    def model_artifacts_s3_uri(self) -> str:
        """``<output>/<job name>/output/model.tar.gz``: where SageMaker puts the model (with
        ``output_compression=OutputCompressionType.NONE``, the prefix ``.../output/model/`` under
        which SageMaker uploads the files uncompressed)."""
        return self._attribute("ModelArtifacts")

    @property
    def completion(self) -> CfnWaitCondition:
        """Completes when the job has completed: make resources that use the trained model
        depend on it (``model.node.add_dependency(job.completion)``). Requires
        ``wait_for_completion``."""
        if self._completion is None:
            raise TrainingJobValidationError(
                self.node.path, ["completion: got no completion gate; set wait_for_completion=Duration.hours(n)"]
            )
        return self._completion

    def on_state_change(
        self, construct_id: str, *, target: events.IRuleTarget | None = None, description: str | None = None
    ) -> events.Rule:
        """An EventBridge rule on this job's state changes (every job this resource starts),
        for a topic, function or state machine to follow jobs you do not wait for."""
        rule = events.Rule(
            self,
            construct_id,
            description=description or f"State changes of SageMaker training job {self.node.path}",
            event_pattern=job_state_pattern(self._stack, self.job_name_prefix, self.fixed_training_job_name),
        )
        if target is not None:
            rule.add_target(target)
        return rule

    @property
    def grant_principal(self) -> iam.IPrincipal:
        """The execution role: grant it access to anything else the job's code uses."""
        return self.role

    @property
    def connections(self) -> ec2.Connections:
        """The job's security groups (empty without a VPC: rules added through it then create
        nothing, and a synth warning says so)."""
        if not self.security_groups:
            Annotations.of(self).add_warning_v2(
                "@constructs-lib/connections-without-vpc",
                "connections: this job runs without a VPC, so it has no security group and rules added "
                "through job.connections (allow_default_port_from(job), allow_to(...)) create nothing",
            )
        if self._connections is None:
            self._connections = ec2.Connections(security_groups=self.security_groups)
        return self._connections

    def request_json(self) -> str:
        """The CreateTrainingJob request this job sends (without its generated name), as JSON;
        deploy-time values appear as CloudFormation expressions."""
        resolved = Stack.of(self).resolve(self.rendered_request())
        return json.dumps(resolved, indent=2, sort_keys=True)

    # ----- construction helpers ----------------------------------------------------

    def _attach_network(
        self,
        vpc: ec2.IVpc | None,
        vpc_subnets: ec2.SubnetSelection | None,
        security_groups: Sequence[ec2.ISecurityGroup] | None,
    ) -> list[str]:
        """Sets ``security_groups`` (creating one when needed) and returns the subnet ids;
        a multi-instance job's groups admit themselves (distributed training)."""
        self.security_groups: list[ec2.ISecurityGroup] = []
        subnet_ids: list[str] = []
        if vpc is not None:
            self.security_groups = list(security_groups or [self._create_security_group(vpc)])
            subnet_ids = _select_subnets(vpc, vpc_subnets)
        elif vpc_subnets is not None and vpc_subnets.subnets:
            self.security_groups = list(security_groups or [])
            subnet_ids = [subnet.subnet_id for subnet in vpc_subnets.subnets]
        if subnet_ids and self.instance_count > 1:
            for group in self.security_groups:
                # Ingress from itself; egress to itself only where outbound is restricted (an
                # egress rule beside "allow all outbound" is redundant, and CDK warns about it).
                description = "Traffic between the instances of a training job"
                group.add_ingress_rule(group, ec2.Port.all_traffic(), description)
                if group.node.scope is self:
                    acknowledge_rule(
                        group,
                        "EC2RestrictedCommonPorts",
                        "Only from the group itself: the instances of a distributed job talk to each other "
                        "on ports the framework chooses (SageMaker's documentation asks for all traffic).",
                    )
                if not group.allow_all_outbound:
                    group.add_egress_rule(group, ec2.Port.all_traffic(), description)
        self._security_group_ids = [_group_id(group) for group in self.security_groups]
        return subnet_ids

    def _create_security_group(self, vpc: ec2.IVpc) -> ec2.SecurityGroup:
        group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="SageMaker training job: no ingress from outside the job",
            allow_all_outbound=self._allow_all_outbound,
        )
        if not self._allow_all_outbound:
            # CDK drops its own "match nothing" egress rule as soon as any egress rule is added,
            # even one rendered as a separate resource (to the group itself, to a prefix list);
            # a group with no inline egress rule gets EC2's default allow-all rule back.
            group.add_egress_rule(
                ec2.Peer.ipv4("255.255.255.255/32"),
                ec2.Port.icmp_type_and_code(252, 87),
                "Matches no traffic: keeps EC2's default allow-all egress rule away",
            )
        return group


def _bound(channel: Channel, scope: Construct) -> Channel:
    """A channel whose data is a local asset (``S3Location.from_asset``), uploaded by ``cdk deploy``."""
    if isinstance(channel.data, S3Location) and channel.data.asset_path is not None:
        return dataclasses.replace(channel, data=channel.data.bind(scope, f"Input{channel.channel_name}"))
    return channel


def _group_id(group: ec2.ISecurityGroup) -> str:
    return per_object(group, "id", lambda: group.security_group_id)


def _children_but_resource(parent: IConstruct) -> list[IConstruct]:
    """A role's policies or a security group's rules: its children other than itself."""
    return [child for child in parent.node.children if child.node.id != "Resource"]


def _select_subnets(vpc: ec2.IVpc, selection: ec2.SubnetSelection | None) -> list[str]:
    """The selected subnets; by default the VPC's private ones (with egress, else isolated)."""
    if selection is None:
        return per_object(vpc, "default subnets", lambda: list(vpc.select_subnets().subnet_ids))
    return list(
        vpc.select_subnets(
            availability_zones=selection.availability_zones,
            one_per_az=selection.one_per_az,
            subnet_filters=selection.subnet_filters,
            subnet_group_name=selection.subnet_group_name,
            subnets=selection.subnets,
            subnet_type=selection.subnet_type,
        ).subnet_ids
    )


def _stack_tags(stack: Stack) -> dict[str, str]:
    """The stack's own tags (``Stack(tags=...)``), read once per stack."""
    return per_object(stack, "stack tags", lambda: dict(stack.tags.tag_values()))


class _ReadOnlyDict(dict[str, Any]):
    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError(
            "TrainingJob.request is read-only: change a member with job.add_request_override('Member.Path', value)"
        )

    __setitem__ = __delitem__ = update = pop = popitem = clear = setdefault = _refuse  # type: ignore[assignment]


class _ReadOnlyList(list[Any]):
    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError(
            "TrainingJob.request is read-only: change a member with job.add_request_override('Member[0].Path', value)"
        )

    __setitem__ = __delitem__ = append = extend = insert = pop = remove = clear = _refuse


def _read_only(value: Any) -> Any:
    if isinstance(value, dict):
        return _ReadOnlyDict({k: _read_only(v) for k, v in value.items()})
    if isinstance(value, list):
        return _ReadOnlyList(_read_only(v) for v in value)
    return value


def _whole_gibibytes(size: Size | None) -> int:
    """The volume size in GiB (30 by default); a fractional size is a problem ``prop_problems``
    reports, so 30 stands in while the rest is validated."""
    try:
        return int(size.to_gibibytes()) if size is not None else 30
    except RuntimeError:
        return 30
