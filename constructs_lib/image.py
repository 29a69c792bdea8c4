"""Where the training container image comes from, and the pull access that needs."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from enum import Enum
from typing import Any

from aws_cdk import Annotations, Stack, Token
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from . import frameworks
from .errors import Problems
from .memo import per_object
from .policy import allow, partition, principal_of

# The tag is optional (the API's pattern is ".*"; without one, the registry's "latest"). The region
# may be a deploy-time value (an environment-agnostic stack's AWS::Region).
_TOKEN = r"\$\{Token\[[\w.:-]+\]\}"
_ECR_URI = re.compile(
    rf"^(?P<account>\d{{12}}|{_TOKEN})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+|{_TOKEN})\.amazonaws\.com(?:\.cn)?"
    r"/(?P<repo>[a-z0-9._/\-]+)(?::[\w.\-]+|@sha256:[a-f0-9]{64})?$"
)
_ECR_FORM = "<account>.dkr.ecr.<region>.amazonaws.com/<repository>[:<tag> or @sha256:<digest>]"
_WHERE = "image (AlgorithmSpecification.TrainingImage)"


def readable(text: str) -> str:
    """A string with CDK's token markers as a user recognises them (``${Token[AWS.Region.9]}`` ->
    ``<AWS.Region>``)."""
    return re.sub(r"\$\{Token\[([\w.:-]+?)(?:\.\d+)?\]\}", r"<\1>", text)


class TrainingRepositoryAccessMode(Enum):
    """How SageMaker reaches the image's registry (``TrainingImageConfig.TrainingRepositoryAccessMode``)."""

    PLATFORM = "Platform"
    """Through SageMaker's own network (ECR)."""
    VPC = "Vpc"
    """Through the job's VPC: a private Docker registry."""


class TrainingImage(ABC):
    """The training container image (``AlgorithmSpecification.TrainingImage``)."""

    repository_access_mode: TrainingRepositoryAccessMode | None = None
    credentials_provider: lambda_.IFunction | None = None

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
    def from_registry(
        image_uri: str,
        *,
        repository_access_mode: TrainingRepositoryAccessMode | None = None,
        credentials_provider: lambda_.IFunction | None = None,
    ) -> TrainingImage:
        """An image by URI. For an ECR URI the role gets pull access to that repository;
        for any other registry nothing is granted (SageMaker must reach it on its own).

        A private Docker registry (``AlgorithmSpecification.TrainingImageConfig``): set
        ``repository_access_mode=TrainingRepositoryAccessMode.VPC`` (the job needs ``vpc``) and,
        when the registry asks for credentials, ``credentials_provider``, the Lambda function that
        returns them (``TrainingRepositoryAuthConfig``); the role may invoke exactly that function,
        as SageMaker's documentation on private registries asks. Default: SageMaker's
        (``Platform``), or ``VPC`` when a credentials provider is given."""
        image = _RegistryImage(image_uri)
        if credentials_provider is not None and repository_access_mode is None:
            repository_access_mode = TrainingRepositoryAccessMode.VPC
        image.repository_access_mode = repository_access_mode
        image.credentials_provider = credentials_provider
        return image

    @staticmethod
    def from_framework(
        framework: str,
        version: str,
        *,
        py_version: str | None = None,
        instance_type: str | None = None,
        base_framework_version: str | None = None,
    ) -> TrainingImage:
        """An AWS Deep Learning Container or built-in algorithm image by name (``"pytorch"``,
        ``"tensorflow"``, ``"huggingface"``, ``"xgboost"``, ``"sklearn"``, ``"kmeans"``, ...), resolved
        at synth for the stack's region from the SageMaker Python SDK's published data (see
        ``frameworks``); CPU or GPU by ``instance_type`` (default: the job's). ``py_version`` is
        required where the version has several; Hugging Face also needs ``base_framework_version``
        (``"pytorch2.1"``). The role may pull from that repository. Unknown names, versions and
        regions, and a stack whose region is a deploy-time value, fail synth naming what is known."""
        return _FrameworkImage(framework, version, py_version, instance_type, base_framework_version)

    @property
    def framework(self) -> str | None:
        """The framework of an image from ``from_framework`` (None for other images)."""
        return None

    @property
    def framework_version(self) -> str | None:
        """The version given to ``from_framework`` (None for other images)."""
        return None

    def launcher_framework(self) -> tuple[str, str] | None:
        """The framework and version a launcher's support is checked against, as the SDK checks
        it (a Hugging Face image's base framework), or None for images not from ``from_framework``."""
        return None

    @abstractmethod
    def bind(
        self,
        scope: Construct,
        grantee: iam.IGrantable,
        *,
        instance_type: str | None = None,
        problems: Problems | None = None,
    ) -> str:
        """Grants pull access to ``grantee`` and returns the image URI (for a job on
        ``instance_type``, which picks a framework image's CPU or GPU variant). What makes the
        image unusable is added to ``problems`` (raised at once without it)."""

    def render_config(self, grantee: iam.IGrantable) -> dict[str, Any] | None:
        """``TrainingImageConfig`` (None: SageMaker's default); lets ``grantee`` invoke the
        credentials provider."""
        if self.repository_access_mode is None:
            return None
        config: dict[str, Any] = {"TrainingRepositoryAccessMode": self.repository_access_mode.value}
        provider = self.credentials_provider
        if provider is not None:
            function_arn = per_object(provider, "arn", lambda: provider.function_arn)
            allow(principal_of(grantee), ["lambda:InvokeFunction"], [function_arn])
            config["TrainingRepositoryAuthConfig"] = {"TrainingRepositoryCredentialsProviderArn": function_arn}
        return config

    def problems(self, problems: Problems, *, in_vpc: bool) -> None:
        where = "image (AlgorithmSpecification.TrainingImageConfig"
        if self.repository_access_mode is TrainingRepositoryAccessMode.VPC and not in_vpc:
            problems.add(
                f"{where}.TrainingRepositoryAccessMode)", "Vpc", "a private registry is reached through vpc: set vpc"
            )
        if (
            self.credentials_provider is not None
            and self.repository_access_mode is not TrainingRepositoryAccessMode.VPC
        ):
            problems.add(
                f"{where}.TrainingRepositoryAuthConfig)",
                self.repository_access_mode.value if self.repository_access_mode else None,
                "a credentials provider is for a private registry: repository_access_mode must be VPC",
            )


class _EcrImage(TrainingImage):
    def __init__(self, repository: ecr.IRepository, tag_or_digest: str) -> None:
        self._repository = repository
        self._tag_or_digest = tag_or_digest

    def __repr__(self) -> str:
        return f"TrainingImage.from_ecr_repository({self._repository.node.path!r}, {self._tag_or_digest!r})"

    def bind(
        self,
        scope: Construct,
        grantee: iam.IGrantable,
        *,
        instance_type: str | None = None,
        problems: Problems | None = None,
    ) -> str:
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

    def __repr__(self) -> str:
        if self._asset is not None:
            return f"TrainingImage.from_docker_image_asset({self._asset.node.path!r})"
        return f"TrainingImage.from_asset({self._directory!r})"

    def bind(
        self,
        scope: Construct,
        grantee: iam.IGrantable,
        *,
        instance_type: str | None = None,
        problems: Problems | None = None,
    ) -> str:
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

    def __repr__(self) -> str:
        return f"TrainingImage.from_registry({readable(self._image_uri)!r})"

    def bind(
        self,
        scope: Construct,
        grantee: iam.IGrantable,
        *,
        instance_type: str | None = None,
        problems: Problems | None = None,
    ) -> str:
        uri = self._image_uri
        match = _ECR_URI.match(uri)
        if match is None:
            if Token.is_unresolved(uri):
                # Known only at deploy: SageMaker checks it then (CreateTrainingJob refuses a bad URI).
                Annotations.of(scope).add_warning_v2(
                    "@constructs-lib/image-pull",
                    f"{_WHERE}: {readable(uri)} is known only at deploy time, so no pull access is granted "
                    "for it: grant it to job.role (repository.grant_pull(job)) when it is a private ECR image",
                )
            elif ".dkr.ecr." in uri:
                found = problems if problems is not None else Problems()
                found.add(_WHERE, uri, f"an ECR image URI is {_ECR_FORM}")
                if problems is None:
                    found.raise_if_any(scope.node.path)
            return uri
        repo_arn = f"arn:{partition(scope)}:ecr:{match['region']}:{match['account']}:repository/{match['repo']}"
        grant_pull(grantee, repo_arn)
        return uri


class _FrameworkImage(TrainingImage):
    def __init__(
        self,
        framework: str,
        version: str,
        py_version: str | None,
        instance_type: str | None,
        base_framework_version: str | None,
    ) -> None:
        self._framework = framework
        self._version = version
        self._py_version = py_version
        self._instance_type = instance_type
        self._base_framework_version = base_framework_version

    @property
    def framework(self) -> str | None:
        return self._framework

    @property
    def framework_version(self) -> str | None:
        return self._version

    def __repr__(self) -> str:
        return f"TrainingImage.from_framework({self._framework!r}, {self._version!r})"

    def launcher_framework(self) -> tuple[str, str] | None:
        try:
            return frameworks.launcher_framework(self._framework, self._version, self._base_framework_version)
        except frameworks.FrameworkNotFound:
            return None  # reported by bind

    def bind(
        self,
        scope: Construct,
        grantee: iam.IGrantable,
        *,
        instance_type: str | None = None,
        problems: Problems | None = None,
    ) -> str:
        region = Stack.of(scope).region
        where = f"{_WHERE} TrainingImage.from_framework({self._framework!r})"
        found = problems if problems is not None else Problems()
        if Token.is_unresolved(region):
            found.extend(
                [
                    f"{where}: got a stack without a region; framework images are resolved per region at synth: "
                    "give the stack env=Environment(region=...)"
                ]
            )
        else:
            try:
                uri = frameworks.image_uri(
                    self._framework,
                    self._version,
                    region=region,
                    py_version=self._py_version,
                    instance_type=self._instance_type or instance_type,
                    base_framework_version=self._base_framework_version,
                )
            except frameworks.FrameworkNotFound as error:
                found.extend([f"{where}: {error}"])
            else:
                return _RegistryImage(uri).bind(scope, grantee, problems=problems)
        if problems is None:
            found.raise_if_any(scope.node.path)
        return f"(no image: {self._framework} {self._version})"  # never deployed: the problems are raised


def grant_pull(grantee: iam.IGrantable, repository_arn: str) -> None:
    """What ``IRepository.grant_pull`` grants, added once per principal."""
    principal = principal_of(grantee)
    allow(principal, ["ecr:GetAuthorizationToken"], ["*"])
    allow(
        principal,
        ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"],
        [repository_arn],
    )
