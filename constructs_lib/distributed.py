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

from . import frameworks
from .errors import Problems

# SageMaker's data-parallel library runs on these instance types (its developer guide).
SMDDP_INSTANCE_TYPES = ("ml.p3.16xlarge", "ml.p3dn.24xlarge", "ml.p4d.24xlarge", "ml.p4de.24xlarge", "ml.p5.48xlarge")


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

    def problems(
        self, problems: Problems, *, framework: str | None, instance_types: Sequence[str], region: str
    ) -> None:
        name = type(self).__name__
        if framework not in self.frameworks and (framework is not None or self.launcher() is None):
            problems.add(
                "distributed",
                name,
                f"needs a framework image whose toolkit launches it: TrainingImage.from_framework with one of "
                f"{', '.join(self.frameworks)} (got {framework or 'another image'}) and source_code",
            )
        for instance_type in instance_types:
            if not self.supports(instance_type, region):
                problems.add("distributed (ResourceConfig.InstanceType)", instance_type, self.allowed())

    def supports(self, instance_type: str, region: str) -> bool:
        return True

    def allowed(self) -> str:
        return ""


# Short: it travels as one ContainerEntrypoint item (at most 256 characters); SageMaker's
# resourceconfig.json (the job's hosts) comes on its standard input.
_TORCHRUN = (
    "import json,os,sys;c=json.load(sys.stdin);h=c['hosts'];os.execvp('torchrun',['torchrun','--nnodes=%d'%len(h),"
    "'--node_rank=%d'%h.index(c['current_host']),'--master_addr='+h[0],'--master_port=29500','--nproc_per_node=gpu']"
    "+sys.argv[1:])"
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
        """On any image: ``torchrun``, one process per GPU, the job's hosts as its nodes (from
        SageMaker's ``resourceconfig.json``), the first host as the rendezvous."""
        return _TORCHRUN

    def supports(self, instance_type: str, region: str) -> bool:
        return bool(_gpus(instance_type, region)) or instance_type.startswith("ml.trn")

    def allowed(self) -> str:
        return "torchrun starts one process per GPU or Trainium core: a GPU (ml.g*, ml.p*) or ml.trn* instance type"


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

    def allowed(self) -> str:
        return f"SMDDP runs on {', '.join(SMDDP_INSTANCE_TYPES)}"
