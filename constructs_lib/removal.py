"""What happens to a training job when its resource is deleted or replaced."""

from __future__ import annotations

from enum import Enum

from aws_cdk import RemovalPolicy

from .errors import TrainingJobValidationError


class JobRemovalBehavior(Enum):
    """What happens to the training job when its resource is deleted or replaced."""

    STOP = "stop"
    """Stop the job if it still runs (default); finished jobs are left as they are."""
    RETAIN = "retain"
    """Leave the job running; CloudFormation forgets it."""
    DELETE = "delete"
    """Stop the job, wait for it to end, then DeleteTrainingJob so its name can be reused."""


def removal_behavior_of(policy: RemovalPolicy, construct_path: str) -> JobRemovalBehavior:
    """CDK's removal policy as a job's: ``RETAIN`` (and ``RETAIN_ON_UPDATE_OR_DELETE``) ->
    ``RETAIN``, ``DESTROY`` -> ``DELETE``; ``SNAPSHOT`` has no meaning for a training job."""
    mapping = {
        RemovalPolicy.RETAIN: JobRemovalBehavior.RETAIN,
        RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE: JobRemovalBehavior.RETAIN,
        RemovalPolicy.DESTROY: JobRemovalBehavior.DELETE,
    }
    if policy not in mapping:
        raise TrainingJobValidationError(
            construct_path,
            [f"apply_removal_policy: got {policy}; allowed: RETAIN, RETAIN_ON_UPDATE_OR_DELETE, DESTROY"],
        )
    return mapping[policy]
