"""Where the training container image comes from, and the pull access that needs."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from typing import Any

from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam
from constructs import Construct

from .errors import TrainingJobValidationError
from .memo import per_object
from .policy import allow, partition, principal_of

_ECR_URI = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?"
    r"/(?P<repo>[a-z0-9._/\-]+)(?::[\w.\-]+|@sha256:[a-f0-9]{64})$"
)


class TrainingImage(ABC):
    """The training container image (``AlgorithmSpecification.TrainingImage``)."""

    @staticmethod
    def from_ecr_repository(repository: ecr.IRepository, tag_or_digest: str = "latest") -> TrainingImage:
        """An image in an ECR repository, by tag (default ``latest``) or ``sha256:`` digest.

        The job role may pull from this one repository only.
        """
        return _EcrImage(repository, tag_or_digest)

    @staticmethod
    def from_docker_image_asset(asset: ecr_assets.DockerImageAsset) -> TrainingImage:
        """An image built by CDK from a local Dockerfile (``DockerImageAsset``)."""
        return _AssetImage(asset=asset)

    @staticmethod
    def from_asset(directory: str, **asset_props: Any) -> TrainingImage:
        """Builds ``directory`` as a ``DockerImageAsset`` (props passed through)."""
        return _AssetImage(directory=directory, asset_props=asset_props)

    @staticmethod
    def from_registry(image_uri: str) -> TrainingImage:
        """An image by URI. For an ECR URI the role gets pull access to that repository;
        for any other registry nothing is granted (SageMaker must reach it on its own)."""
        return _RegistryImage(image_uri)

    @abstractmethod
    def bind(self, scope: Construct, grantee: iam.IGrantable) -> str:
        """Grants pull access to ``grantee`` and returns the image URI."""


class _EcrImage(TrainingImage):
    def __init__(self, repository: ecr.IRepository, tag_or_digest: str) -> None:
        self._repository = repository
        self._tag_or_digest = tag_or_digest

    def bind(self, scope: Construct, grantee: iam.IGrantable) -> str:
        repository = self._repository
        grant_pull(grantee, per_object(repository, "arn", lambda: repository.repository_arn))
        return per_object(
            repository,
            f"uri {self._tag_or_digest}",
            lambda: repository.repository_uri_for_tag_or_digest(self._tag_or_digest),
        )


class _AssetImage(TrainingImage):
    def __init__(
        self,
        *,
        asset: ecr_assets.DockerImageAsset | None = None,
        directory: str | None = None,
        asset_props: dict[str, Any] | None = None,
    ) -> None:
        self._asset = asset
        self._directory = directory
        self._asset_props = asset_props or {}

    def bind(self, scope: Construct, grantee: iam.IGrantable) -> str:
        if self._asset is None:
            assert self._directory is not None
            self._asset = ecr_assets.DockerImageAsset(
                scope, "TrainingImage", directory=self._directory, **self._asset_props
            )
        grant_pull(grantee, self._asset.repository.repository_arn)
        return self._asset.image_uri


class _RegistryImage(TrainingImage):
    def __init__(self, image_uri: str) -> None:
        self._image_uri = image_uri

    def bind(self, scope: Construct, grantee: iam.IGrantable) -> str:
        match = _ECR_URI.match(self._image_uri)
        if match is None:
            if ".dkr.ecr." in self._image_uri:
                raise TrainingJobValidationError(
                    scope.node.path,
                    [
                        f"image: got {self._image_uri!r}; an ECR image URI must be "
                        "<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag> or @sha256:<digest>"
                    ],
                )
            return self._image_uri
        repo_arn = f"arn:{partition(scope)}:ecr:{match['region']}:{match['account']}:repository/{match['repo']}"
        grant_pull(grantee, repo_arn)
        return self._image_uri


def grant_pull(grantee: iam.IGrantable, repository_arn: str) -> None:
    """What ``IRepository.grant_pull`` grants, added once per principal."""
    principal = principal_of(grantee)
    allow(principal, ["ecr:GetAuthorizationToken"], ["*"])
    allow(
        principal,
        ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"],
        [repository_arn],
    )
