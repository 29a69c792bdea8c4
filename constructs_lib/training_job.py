"""``TrainingJob``: one SageMaker training job, with everything it needs, as a CDK construct."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

import jsii
from aws_cdk import (
    Annotations,
    CfnWaitCondition,
    Duration,
    ITaggable,
    RemovalPolicy,
    Size,
    TagManager,
    Token,
)
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from .capacity import InstancePlacementConfig, InstancePreference
from .channel import Channel, InputMode
from .cli_input import load_document, props_from_cli_input
from .completion import job_state_pattern
from .debugging import DebugHookConfig, ProfilerConfig, RuleConfiguration, TensorBoardOutput
from .distributed import Distribution
from .errors import Problems, TrainingJobValidationError
from .image import TrainingImage
from .instance_group import InstanceGroup
from .job_resource import children_but_resource, depend_on, job_resource
from .job_tags import JobTags
from .memo import per_object, stack_of
from .naming import job_name_prefix
from .overrides import apply_overrides
from .parts import JobContext, assemble, build
from .parts.networking import JobConnections, Networking
from .parts.stopping import DEFAULT_RUNTIME_SECONDS
from .payload import PayloadCheck
from .prop_types import type_problems
from .provider import TrainingJobProvider
from .removal import JobRemovalBehavior, removal_behavior_of
from .request import HyperParameterValue, OutputCompressionType, read_only
from .s3_location import S3Location
from .serverless import ServerlessJobConfig
from .source_code import SourceCode
from .tracking import ExperimentConfig, MlflowConfig, ModelPackageConfig
from .training_job_base import TrainingJobBase, TrainingJobImports
from .validation import request_problems


@jsii.implements(iam.IGrantable, ec2.IConnectable, ITaggable)
class TrainingJob(JobTags, TrainingJobBase, TrainingJobImports):
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
        run_trigger: str | None = None,
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
        :param run_trigger: any value whose change starts a new training job although the request
            is the same, to train again on new data under the same prefix: a data version, a date,
            a commit, or a deploy-time value (``CfnParameter.value_as_string``). Setting, changing or
            removing it starts a new job; the replaced one is handled per ``removal_behavior``.
            Default: none (only a changed request starts a new job).
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
        self._initial_tags = dict(tags or {})
        self._stack = stack = stack_of(scope)
        # CloudFormation gives a stack's tags to the resources it knows, not to a training job:
        # the stack's tags join the job's (which win); Tags.of adds more until synthesis.
        # Created with the first tag (here, or when Tags.of reads `tags`): most jobs have none.
        self._tag_manager: TagManager | None = self._new_tag_manager() if self._known_tags() else None
        self._provider = TrainingJobProvider.of(stack)
        self.job_name_prefix = job_name_prefix(
            stack, f"{per_object(scope, 'path', lambda: scope.node.path)}/{construct_id}"
        )
        self.fixed_training_job_name = training_job_name
        self.removal_behavior = removal_behavior
        self.run_trigger = run_trigger
        self.max_runtime_seconds = int(max_runtime.to_seconds()) if max_runtime is not None else DEFAULT_RUNTIME_SECONDS
        self.uncompressed_output = output_compression is OutputCompressionType.NONE
        self.instance_groups = list(instance_groups or [])
        ctx, parts = build(self, stack, self._provider, self.job_name_prefix, props, problems)
        self.role: iam.IRole = ctx.role
        self.inputs, self.security_groups = ctx.inputs, ctx.security_groups
        self.instance_type, self.instance_count = ctx.instance_type, ctx.instance_count
        assert ctx.output is not None
        self.output, self.output_kms_key, self.volume_kms_key = ctx.output, ctx.output_kms_key, ctx.volume_kms_key
        self._request = assemble(parts, ctx)
        self._model_problems(problems)
        problems.raise_if_any(self)
        self._provider.register_job(lambda: (self._request, self.removal_behavior is JobRemovalBehavior.DELETE))
        self._connections: JobConnections | None = None
        self._context, self._network = ctx, next(p for p in parts if isinstance(p, Networking))
        self._create_resource(ctx, wait_for_completion)

    def _create_resource(self, ctx: JobContext, wait_for_completion: Duration | None) -> None:
        """The custom resource that starts the job and, with ``wait_for_completion``, its gate."""
        self.resource, self._gate, fixed = job_resource(
            self,
            provider=self._provider,
            request=lambda: self._request,
            properties={"Request": {**self._request, **self._tags_property()}},
            name_prefix=self.job_name_prefix,
            fixed_name=self.fixed_training_job_name,
            removal_behavior=None if self.removal_behavior is JobRemovalBehavior.STOP else self.removal_behavior.value,
            wait_for_completion=wait_for_completion,
            run_trigger=self.run_trigger,
        )
        PayloadCheck.add(self._stack, self, lambda: (self._request_to_measure(), fixed))
        # The job must not start before its role's policies and its security group rules
        # exist (the role and groups themselves are already referenced by the request).
        role = self.role
        dependables = per_object(role, "policies", lambda: children_but_resource(role))
        if ctx.subnet_ids and self.instance_count > 1:
            dependables = dependables + [c for g in self.security_groups for c in children_but_resource(g)]
        depend_on(self.resource, dependables)
        self._completion = self._gate.close(self.training_job_name) if self._gate is not None else None

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

    def _model_problems(self, problems: Problems) -> None:
        """The rendered request (with a stand-in name) against the API model."""
        checked = {"TrainingJobName": self.fixed_training_job_name or f"{self.job_name_prefix}-00000000"}
        request_problems(self, self._stack, {**checked, **self._request_with_tags(self._known_tags())}, problems)

    @property
    def request(self) -> dict[str, Any]:
        """The CreateTrainingJob request as built (without its name and tags), read-only: change
        it with ``add_request_override`` (from an Aspect, too)."""
        frozen: dict[str, Any] = read_only(self._request)
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

    def apply_removal_policy(self, policy: RemovalPolicy) -> None:
        """Maps CDK's removal policy onto ``removal_behavior``: ``RETAIN`` (and
        ``RETAIN_ON_UPDATE_OR_DELETE``) -> ``JobRemovalBehavior.RETAIN``, ``DESTROY`` ->
        ``JobRemovalBehavior.DELETE``; ``SNAPSHOT`` has no meaning for a training job."""
        self.removal_behavior = removal_behavior_of(policy, self.node.path)
        self.resource.add_property_override("RemovalBehavior", self.removal_behavior.value)

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
        nothing, and a synth warning says so). A group added here joins the job, as with
        ``add_security_group``."""
        if not self.security_groups:
            Annotations.of(self).add_warning_v2(
                "@constructs-lib/connections-without-vpc",
                "connections: this job runs without a VPC, so it has no security group and rules added "
                "through job.connections (allow_default_port_from(job), allow_to(...)) create nothing",
            )
        if self._connections is None:
            self._connections = JobConnections(self.security_groups, self._join)
        return self._connections

    def add_security_group(self, *security_groups: ec2.ISecurityGroup) -> None:
        """Adds security groups to the job's (the created one is kept): ``VpcConfig``, the role's
        network interface grant, the handler's guardrails and, for a distributed job, the rules
        between its instances follow. Requires ``vpc``."""
        self.connections.add_security_group(*security_groups)

    def _join(self, group: ec2.ISecurityGroup) -> None:
        if not self._network.add_security_group(self._context, group, self._request):
            return
        self.resource.add_property_override(
            "Request.VpcConfig.SecurityGroupIds", self._request["VpcConfig"]["SecurityGroupIds"]
        )
        if self.instance_count > 1:
            depend_on(self.resource, children_but_resource(group))

    def request_json(self) -> str:
        """The CreateTrainingJob request this job sends (without its generated name), as JSON;
        deploy-time values appear as CloudFormation expressions."""
        resolved = self._stack.resolve(self.rendered_request())
        return json.dumps(resolved, indent=2, sort_keys=True)
