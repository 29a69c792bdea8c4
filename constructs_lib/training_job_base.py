"""What every training job offers, defined here or imported: ``ITrainingJob``, its grants and
its CloudWatch metrics."""

from __future__ import annotations

from typing import Any, Protocol, cast

from aws_cdk import ArnFormat, Resource, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from .errors import TrainingJobValidationError
from .policy import allow_s3_encryption, principal_of
from .s3_location import S3Location

# Where SageMaker publishes a training job's metrics: instance metrics with a ``Host``
# dimension (``<job name>/algo-<n>``), the job's ``MetricDefinitions`` with ``TrainingJobName``.
NAMESPACE = "/aws/sagemaker/TrainingJobs"


class ITrainingJob(Protocol):
    """A SageMaker training job: one this app defines (``TrainingJob``) or one imported with
    ``TrainingJob.from_training_job_name`` / ``_arn`` / ``_attributes``."""

    @property
    def training_job_name(self) -> str: ...

    @property
    def training_job_arn(self) -> str: ...

    @property
    def model_artifacts_s3_uri(self) -> str: ...

    def grant(self, grantee: iam.IGrantable, *actions: str) -> iam.Grant: ...

    def grant_describe(self, grantee: iam.IGrantable) -> iam.Grant: ...

    def grant_stop(self, grantee: iam.IGrantable) -> iam.Grant: ...

    def grant_read_output(self, grantee: iam.IGrantable) -> iam.Grant: ...

    def metric(self, metric_name: str, **props: Any) -> cloudwatch.Metric: ...

    def metric_instance(self, metric_name: str, *, instance: int = 1, **props: Any) -> cloudwatch.Metric: ...


class TrainingJobMembers:
    """Grants and metrics of a training job, from its name, ARN and output location.

    A plain class, listed after ``Resource`` in ``TrainingJobBase``'s bases: for every object
    it creates, jsii reads each member of every class before the first jsii class of the MRO,
    looking for overrides of jsii members (about 10 µs a member, for every job of a stack),
    and none of these overrides one."""

    # Where the job writes (its S3OutputPath) and the key that encrypts it; set by subclasses.
    output: S3Location | None = None
    output_kms_key: kms.IKey | None = None
    # OutputDataConfig.CompressionType NONE: SageMaker uploads the model's files uncompressed
    # under ``<output>/<job name>/output/model/`` instead of ``model.tar.gz``
    # (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_OutputDataConfig.html).
    uncompressed_output: bool = False

    @property
    def _construct(self) -> Resource:
        """This job as the construct it is (the class is mixed into ``TrainingJobBase`` only)."""
        return cast(Resource, self)

    @property
    def _model_key(self) -> str:
        return f"{self.training_job_name}/output/" + ("model/" if self.uncompressed_output else "model.tar.gz")

    @property
    def training_job_name(self) -> str:
        raise NotImplementedError

    @property
    def training_job_arn(self) -> str:
        raise NotImplementedError

    @property
    def model_artifacts_s3_uri(self) -> str:
        """``<output>/<job name>/output/model.tar.gz``: where SageMaker puts the model (with
        uncompressed output, the prefix ``<output>/<job name>/output/model/``)."""
        return self._output_location().child(self._model_key).s3_uri

    def _output_location(self) -> S3Location:
        if self.output is None:
            raise TrainingJobValidationError(
                self._construct.node.path,
                ["output: unknown for this imported job; import it with from_training_job_attributes(output=...)"],
            )
        return self.output

    # ----- grants -------------------------------------------------------------------

    def grant(self, grantee: iam.IGrantable, *actions: str) -> iam.Grant:
        """``actions`` (``sagemaker:...``) on this job only."""
        return iam.Grant.add_to_principal(grantee=grantee, actions=list(actions), resource_arns=[self.training_job_arn])

    def grant_describe(self, grantee: iam.IGrantable) -> iam.Grant:
        """DescribeTrainingJob and ListTags on this job."""
        return self.grant(grantee, "sagemaker:DescribeTrainingJob", "sagemaker:ListTags")

    def grant_stop(self, grantee: iam.IGrantable) -> iam.Grant:
        """StopTrainingJob on this job."""
        return self.grant(grantee, "sagemaker:StopTrainingJob")

    def grant_read_output(self, grantee: iam.IGrantable) -> iam.Grant:
        """Everything this job wrote (``<output>/<job name>/``: the model, ``output.tar.gz``,
        Debugger and Profiler output): ListBucket on that prefix, GetObject below it, Decrypt on
        the output key through S3."""
        location = self._output_location().child(f"{self.training_job_name}/")
        stack = Stack.of(self._construct)
        grant = iam.Grant.add_to_principal(
            grantee=grantee, actions=["s3:GetObject"], resource_arns=[location.objects_arn(stack)]
        )
        listing = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["s3:ListBucket"],
            resource_arns=[location.bucket_arn(stack)],
            conditions={"StringLike": {"s3:prefix": [f"{location.key_prefix}*"]}},
        )
        key = self.output_kms_key or location.encryption_key
        if key is not None:
            allow_s3_encryption(self._construct, principal_of(grantee), key, write=False)
        return grant.combine(listing)

    def grant_read_model_artifacts(self, grantee: iam.IGrantable) -> iam.Grant:
        """s3:GetObject on exactly this job's ``model.tar.gz`` and kms:Decrypt on its key (through S3);
        with uncompressed output, on the objects below ``output/model/`` (and ListBucket there)."""
        artifacts = self._output_location().child(self._model_key)
        stack = Stack.of(self._construct)
        objects = f"{artifacts.bucket_arn(stack)}/{artifacts.key_prefix}" + ("*" if self.uncompressed_output else "")
        grant = iam.Grant.add_to_principal(grantee=grantee, actions=["s3:GetObject"], resource_arns=[objects])
        if self.uncompressed_output:
            grant = grant.combine(
                iam.Grant.add_to_principal(
                    grantee=grantee,
                    actions=["s3:ListBucket"],
                    resource_arns=[artifacts.bucket_arn(stack)],
                    conditions={"StringLike": {"s3:prefix": [f"{artifacts.key_prefix}*"]}},
                )
            )
        key = self.output_kms_key or artifacts.encryption_key
        if key is not None:
            allow_s3_encryption(self._construct, principal_of(grantee), key, write=False)
        return grant

    # ----- metrics ------------------------------------------------------------------

    def metric(self, metric_name: str, **props: Any) -> cloudwatch.Metric:
        """A metric of the job's ``metric_definitions`` (dimension ``TrainingJobName``).
        ``props`` as ``cloudwatch.MetricOptions`` (default: average over 5 minutes)."""
        return cloudwatch.Metric(
            namespace=NAMESPACE,
            metric_name=metric_name,
            dimensions_map={"TrainingJobName": self.training_job_name},
            **props,
        )

    def metric_instance(self, metric_name: str, *, instance: int = 1, **props: Any) -> cloudwatch.Metric:
        """An instance metric of the job (dimension ``Host`` = ``<job name>/algo-<instance>``)."""
        return cloudwatch.Metric(
            namespace=NAMESPACE,
            metric_name=metric_name,
            dimensions_map={"Host": f"{self.training_job_name}/algo-{instance}"},
            **props,
        )

    def metric_cpu_utilization(self, *, instance: int = 1, **props: Any) -> cloudwatch.Metric:
        """CPUUtilization of one instance (percent, 100 per core)."""
        return self.metric_instance("CPUUtilization", instance=instance, **props)

    def metric_memory_utilization(self, *, instance: int = 1, **props: Any) -> cloudwatch.Metric:
        """MemoryUtilization of one instance (percent)."""
        return self.metric_instance("MemoryUtilization", instance=instance, **props)

    def metric_gpu_utilization(self, *, instance: int = 1, **props: Any) -> cloudwatch.Metric:
        """GPUUtilization of one instance (percent, 100 per GPU)."""
        return self.metric_instance("GPUUtilization", instance=instance, **props)

    def metric_gpu_memory_utilization(self, *, instance: int = 1, **props: Any) -> cloudwatch.Metric:
        """GPUMemoryUtilization of one instance (percent, 100 per GPU)."""
        return self.metric_instance("GPUMemoryUtilization", instance=instance, **props)

    def metric_disk_utilization(self, *, instance: int = 1, **props: Any) -> cloudwatch.Metric:
        """DiskUtilization of one instance (percent of the ML storage volume)."""
        return self.metric_instance("DiskUtilization", instance=instance, **props)


class TrainingJobBase(Resource, TrainingJobMembers):
    """A training job as a construct: a ``Resource`` with ``TrainingJobMembers``."""


class ImportedTrainingJob(TrainingJobBase):
    """A training job this app does not define, known by its name or ARN."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        training_job_name: str | None = None,
        training_job_arn: str | None = None,
        output: S3Location | None = None,
        output_kms_key: kms.IKey | None = None,
    ) -> None:
        if not training_job_name and not training_job_arn:
            raise TrainingJobValidationError(
                f"{scope.node.path}/{construct_id}", ["training_job_name / training_job_arn: give one"]
            )
        super().__init__(scope, construct_id, environment_from_arn=training_job_arn)
        stack = Stack.of(self)
        self._arn = training_job_arn or stack.format_arn(
            service="sagemaker", resource="training-job", resource_name=training_job_name
        )
        self._name = training_job_name or str(stack.split_arn(self._arn, ArnFormat.SLASH_RESOURCE_NAME).resource_name)
        self.output = output
        self.output_kms_key = output_kms_key

    @property
    def training_job_name(self) -> str:
        return self._name

    @property
    def training_job_arn(self) -> str:
        return self._arn


class TrainingJobImports:
    """``TrainingJob.from_training_job_name`` / ``_arn`` / ``_attributes``."""

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
