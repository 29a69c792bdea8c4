"""AWS CDK constructs for Amazon SageMaker training jobs."""

from .channel import (
    Channel,
    CompressionType,
    FileSystemAccessMode,
    FileSystemLocation,
    FileSystemType,
    InputMode,
    RecordWrapperType,
    S3DataDistributionType,
    S3DataType,
)
from .debugging import DebugHookConfig, ProfilerConfig, RuleConfiguration, TensorBoardOutput
from .errors import TrainingJobValidationError
from .execution_role import sagemaker_service_role
from .image import TrainingImage
from .instance_group import InstanceGroup
from .provider import TrainingJobProvider
from .request import OutputCompressionType, hyperparameter_string
from .s3_location import S3Location
from .storage import TrainingStorage
from .training_job import JobRemovalBehavior, TrainingJob
from .training_job_base import ITrainingJob

__all__ = [
    "Channel",
    "CompressionType",
    "DebugHookConfig",
    "FileSystemAccessMode",
    "FileSystemLocation",
    "FileSystemType",
    "ITrainingJob",
    "InputMode",
    "InstanceGroup",
    "JobRemovalBehavior",
    "OutputCompressionType",
    "ProfilerConfig",
    "RecordWrapperType",
    "RuleConfiguration",
    "S3DataDistributionType",
    "S3DataType",
    "S3Location",
    "TensorBoardOutput",
    "TrainingImage",
    "TrainingJob",
    "TrainingJobProvider",
    "TrainingJobValidationError",
    "TrainingStorage",
    "hyperparameter_string",
    "sagemaker_service_role",
]
