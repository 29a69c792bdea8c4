"""Distributed launchers for script mode: on AWS framework images, what the image's training
toolkit reads to start torchrun, MPI or SageMaker's data-parallel library on every instance
(the hyperparameters the SageMaker Python SDK v2 writes for ``distribution=``); on any other
image, torchrun started by the job's entry point from SageMaker's ``resourceconfig.json`` (MPI
needs the toolkit's SSH set-up between hosts, so it stays on framework images). And the rules at
synth that SageMaker would otherwise report forty minutes into a deployment.

A job on more than one instance in a VPC already lets its instances reach each other (its
security group admits itself); with ``enable_inter_container_traffic_encryption`` that rule
covers IPsec too.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import botocore.session
from aws_cdk import Token
from botocore.model import StringShape

from . import frameworks
from .errors import Problems

if TYPE_CHECKING:
    from .image import TrainingImage

# SageMaker's data-parallel library runs on these instance types (its developer guide).
SMDDP_INSTANCE_TYPES = ("ml.p3.16xlarge", "ml.p3dn.24xlarge", "ml.p4d.24xlarge", "ml.p4de.24xlarge", "ml.p5.48xlarge")
# The framework versions the SageMaker Python SDK accepts for smdataparallel, as it compares them
# (the version string given): its published SM_DATAPARALLEL_SUPPORTED_FRAMEWORK_VERSIONS
# (sagemaker 2.257.7 fw_utils; sagemaker-core 2.27 carries the same list). Hugging Face images
# are checked by their base framework's version, as the SDK's HuggingFace estimator does.
SMDDP_FRAMEWORK_VERSIONS = {
    "tensorflow": (
        "2.3", "2.3.1", "2.3.2", "2.4", "2.4.1", "2.4.3", "2.5", "2.5.0", "2.5.1", "2.6", "2.6.0", "2.6.2",
        "2.6.3", "2.7", "2.7.1", "2.8", "2.8.0", "2.9", "2.9.1", "2.9.2", "2.10", "2.10.1", "2.11", "2.11.0",
    ),
    "pytorch": (
        "1.6", "1.6.0", "1.7", "1.7.1", "1.8", "1.8.0", "1.8.1", "1.9", "1.9.0", "1.9.1", "1.10", "1.10.0",
        "1.10.2", "1.11", "1.11.0", "1.12", "1.12.0", "1.12.1", "1.13.1", "2.0.0", "2.0.1", "2.1.0", "2.1.2",
        "2.2.0",
    ),
}  # fmt: skip
# NeuronCores per Trainium instance (AWS Neuron documentation; trn2 with its default of two
# physical cores per logical core): torchrun's processes per host on an image of your own.
NEURON_CORES = {"ml.trn1.2xlarge": 2, "ml.trn1.32xlarge": 32, "ml.trn1n.32xlarge": 32, "ml.trn2.48xlarge": 64}


@cache
def _training_instance_types() -> frozenset[str]:
    """The instance types of botocore's ``TrainingInstanceType`` enum."""
    shape = botocore.session.get_session().get_service_model("sagemaker").shape_for("TrainingInstanceType")
    return frozenset(shape.enum) if isinstance(shape, StringShape) else frozenset()


def accelerator_of(instance_type: str) -> str | None:
    """``"gpu"`` for the GPU families (``ml.g*``, ``ml.p*``), ``"trainium"`` for ``ml.trn*``, None
    for CPU types: decided by the instance family, as the SDK picks an image's processor."""
    processor = frameworks.processor_of(instance_type)
    return {"gpu": "gpu", "trn": "trainium"}.get(processor or "")


def _checked(instance_type: str) -> bool:
    """Whether a launcher should judge ``instance_type``: a deploy-time value, or a name the API
    model does not know (the ``instance_type`` rule reports that one, once), is not judged."""
    return not Token.is_unresolved(instance_type) and instance_type in _training_instance_types()


class Distribution(ABC):
    """How the training toolkit launches the entry script on each instance."""

    frameworks: tuple[str, ...] = ()

    @abstractmethod
    def hyperparameters(self, instance_type: str, region: str) -> dict[str, str]:
        """The launcher's hyperparameters, JSON-encoded as the toolkit reads them."""

    def launcher(self) -> str | None:
        """A Python program that starts its arguments (the entry script and the job's
        ``ContainerArguments``) on any image, or None when only a framework image's toolkit can."""
        return None

    def launcher_arguments(self, instance_type: str | None) -> list[str]:
        """What the launcher reads before the entry script (on any image)."""
        return []

    def problems(
        self,
        problems: Problems,
        *,
        framework: str | None,
        instance_types: Sequence[str],
        region: str,
        image: TrainingImage | None = None,
    ) -> None:
        name = type(self).__name__
        if framework not in self.frameworks and (framework is not None or self.launcher() is None):
            problems.add(
                "distributed",
                name,
                f"needs a framework image whose toolkit launches it: TrainingImage.from_framework with one of "
                f"{', '.join(self.frameworks)} (got {framework or 'another image'}) and source_code",
            )
        for instance_type in filter(_checked, instance_types):
            if not self.supports(instance_type, region):
                problems.add("distributed (ResourceConfig.InstanceType)", instance_type, self.allowed())
            self.count_problems(problems, instance_type, region)
        framework_version = image.launcher_framework() if image is not None else None
        if framework_version is not None:
            self.version_problems(problems, *framework_version)

    def count_problems(self, problems: Problems, instance_type: str, region: str) -> None:
        """Problems with the processes per host on ``instance_type`` (none by default)."""
        return None

    def version_problems(self, problems: Problems, framework: str, version: str) -> None:
        """Problems with the framework version the image runs (none by default)."""
        return None

    def supports(self, instance_type: str, region: str) -> bool:
        return True

    def allowed(self) -> str:
        return ""


# Short: it travels as one ContainerEntrypoint item (at most 256 characters); SageMaker's
# resourceconfig.json (the job's hosts) comes on its standard input.
_TORCHRUN = (
    "import json,os,sys;c=json.load(sys.stdin);h=c['hosts'];os.execvp('torchrun',['torchrun','--nnodes=%d'%len(h),"
    "'--node_rank=%d'%h.index(c['current_host']),'--master_addr='+h[0],'--master_port=29500',"
    "'--nproc_per_node='+sys.argv[1]]+sys.argv[2:])"
)


def _gpus(instance_type: str, region: str) -> int | None:
    try:
        return frameworks.gpu_count(instance_type, region)
    except frameworks.FrameworkNotFound:
        return None


@dataclass(frozen=True)
class Torchrun(Distribution):
    """``torchrun`` on every instance, one process per GPU (or Trainium core): the SDK v2's
    ``distribution={"torch_distributed": {"enabled": True}}``, v3's ``distributed=Torchrun()``.
    GPU or Trainium instances only."""

    frameworks = ("pytorch", "huggingface")

    def hyperparameters(self, instance_type: str, region: str) -> dict[str, str]:
        return {"sagemaker_instance_type": json.dumps(instance_type), "sagemaker_torch_distributed_enabled": "true"}

    def launcher(self) -> str:
        """On any image: ``torchrun``, one process per GPU (per NeuronCore on Trainium), the job's
        hosts as its nodes (from SageMaker's ``resourceconfig.json``), the first host as the
        rendezvous."""
        return _TORCHRUN

    def launcher_arguments(self, instance_type: str | None) -> list[str]:
        """torchrun's ``--nproc_per_node``: ``gpu`` (torchrun counts them), or a Trainium
        instance's NeuronCores."""
        cores = NEURON_CORES.get(instance_type or "")
        return [str(cores) if cores else "gpu"]

    def supports(self, instance_type: str, region: str) -> bool:
        return accelerator_of(instance_type) is not None

    def allowed(self) -> str:
        return (
            "torchrun starts one process per GPU or Trainium NeuronCore: a GPU (ml.g*, ml.p*) or Trainium "
            "(ml.trn*) instance type"
        )


@dataclass(frozen=True)
class MPI(Distribution):
    """``mpirun`` across the instances, ``process_count_per_node`` processes on each (default: one
    per GPU, from the SDK's GPU data; 1 on CPU instances), with ``mpi_additional_options`` (default:
    none): the SDK v2's ``distribution={"mpi": ...}``, v3's ``distributed=MPI(...)``."""

    process_count_per_node: int | None = None
    mpi_additional_options: Sequence[str] = ()
    frameworks = ("pytorch", "tensorflow", "huggingface", "mxnet")

    def hyperparameters(self, instance_type: str, region: str) -> dict[str, str]:
        processes = self.process_count_per_node or _gpus(instance_type, region) or 1
        return {
            "sagemaker_mpi_custom_mpi_options": json.dumps(" ".join(self.mpi_additional_options)),
            "sagemaker_mpi_enabled": "true",
            "sagemaker_mpi_num_of_processes_per_host": str(processes),
        }

    def count_problems(self, problems: Problems, instance_type: str, region: str) -> None:
        # The one place a GPU count is needed: MPI's default processes per host.
        default = self.process_count_per_node is None and accelerator_of(instance_type) == "gpu"
        if default and _gpus(instance_type, region) is None:
            problems.add(
                "distributed (MPI.process_count_per_node)",
                instance_type,
                "the default is one process per GPU, but the SageMaker Python SDK's GPU data "
                "(instance_gpu_info) does not list this type's GPUs: set MPI(process_count_per_node=<GPUs per "
                "instance>)",
            )


@dataclass(frozen=True)
class SmDataParallel(Distribution):
    """SageMaker's distributed data-parallel library (SMDDP): the SDK's
    ``distribution={"smdistributed": {"dataparallel": {"enabled": True}}}``. On the instance types
    SMDDP supports only; ``mpi_additional_options`` default: none."""

    mpi_additional_options: Sequence[str] = ()
    frameworks = ("pytorch", "tensorflow", "huggingface")

    def hyperparameters(self, instance_type: str, region: str) -> dict[str, str]:
        return {
            "sagemaker_distributed_dataparallel_custom_mpi_options": json.dumps(" ".join(self.mpi_additional_options)),
            "sagemaker_distributed_dataparallel_enabled": "true",
            "sagemaker_instance_type": json.dumps(instance_type),
        }

    def supports(self, instance_type: str, region: str) -> bool:
        return instance_type in SMDDP_INSTANCE_TYPES

    def version_problems(self, problems: Problems, framework: str, version: str) -> None:
        supported = SMDDP_FRAMEWORK_VERSIONS.get(framework)
        if supported is not None and version not in supported:
            problems.add(
                "distributed (SmDataParallel)",
                f"{framework} {version}",
                f"smdataparallel supports {framework} {', '.join(supported)} (the SageMaker Python SDK's published "
                "list; the SDK refuses other versions): choose one of them in TrainingImage.from_framework",
            )

    def allowed(self) -> str:
        return f"SMDDP runs on {', '.join(SMDDP_INSTANCE_TYPES)}"
