"""AWS CDK constructs for Amazon SageMaker training jobs."""

from .capacity import InstancePlacementConfig, InstancePreference, PlacementSpecification
from .channel import (
    Channel,
    CompressionType,
    DatasetSource,
    FileSystemAccessMode,
    FileSystemLocation,
    FileSystemType,
    InputMode,
    RecordWrapperType,
    S3DataDistributionType,
    S3DataType,
)
from .debugging import CollectionConfiguration, DebugHookConfig, ProfilerConfig, RuleConfiguration, TensorBoardOutput
from .distributed import MPI, Distribution, SmDataParallel, Torchrun
from .errors import TrainingJobValidationError
from .execution_role import sagemaker_service_role
from .image import TrainingImage, TrainingRepositoryAccessMode
from .instance_group import InstanceGroup
from .provider import TrainingJobProvider
from .removal import JobRemovalBehavior
from .request import OutputCompressionType, hyperparameter_string
from .s3_location import S3Location
from .serverless import CustomizationTechnique, EvaluationType, Peft, ServerlessJobConfig, ServerlessJobType
from .source_code import SourceCode
from .storage import TrainingStorage
from .tracking import ExperimentConfig, MlflowConfig, ModelPackageConfig
from .training_job import TrainingJob
from .training_job_base import ITrainingJob

__all__ = [
    "MPI",
    "Channel",
    "CollectionConfiguration",
    "CompressionType",
    "CustomizationTechnique",
    "DatasetSource",
    "DebugHookConfig",
    "Distribution",
    "EvaluationType",
    "ExperimentConfig",
    "FileSystemAccessMode",
    "FileSystemLocation",
    "FileSystemType",
    "ITrainingJob",
    "InputMode",
    "InstanceGroup",
    "InstancePlacementConfig",
    "InstancePreference",
    "JobRemovalBehavior",
    "MlflowConfig",
    "ModelPackageConfig",
    "OutputCompressionType",
    "Peft",
    "PlacementSpecification",
    "ProfilerConfig",
    "RecordWrapperType",
    "RuleConfiguration",
    "S3DataDistributionType",
    "S3DataType",
    "S3Location",
    "ServerlessJobConfig",
    "ServerlessJobType",
    "SmDataParallel",
    "SourceCode",
    "TensorBoardOutput",
    "Torchrun",
    "TrainingImage",
    "TrainingJob",
    "TrainingJobProvider",
    "TrainingJobValidationError",
    "TrainingRepositoryAccessMode",
    "TrainingStorage",
    "hyperparameter_string",
    "sagemaker_service_role",
]
