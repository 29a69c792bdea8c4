"""Training code from a local directory (``SourceCode``), packaged by CDK's asset machinery and
delivered the way SageMaker's own tooling delivers it.

The directory becomes one S3 asset, a ``sourcedir.tar.gz`` (what SageMaker's training toolkit
extracts): hashed from the source files, uploaded by ``cdk deploy`` only when they changed. Its
object key holds the hash, so changed code changes the request and starts a new job; an
unchanged synth changes nothing. The job's role may read exactly that object.

- AWS framework images (``TrainingImage.from_framework``): the script-mode hyperparameters the
  SageMaker Python SDK writes (``sagemaker_program``, ``sagemaker_submit_directory``, ...); the
  toolkit in the image downloads the archive, installs ``requirements.txt`` and runs the script.
- Any other image: a ``code`` channel with the archive, and a ``ContainerEntrypoint`` that
  extracts it, installs ``requirements`` with pip and runs the entry script with the
  ``ContainerArguments``.
"""

from __future__ import annotations

import json
import os
import shlex
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, BundlingOutput, DockerImage, ILocalBundling
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from .channel import Channel, InputMode
from .errors import TrainingJobValidationError
from .s3_location import S3Location
from .script_mode import PROGRAM, SUBMIT_DIRECTORY

CODE_CHANNEL = "code"
CODE_DIR = "/opt/ml/code"
ARCHIVE = "sourcedir.tar.gz"
ALWAYS_IGNORED = ("__pycache__", "*.pyc")  # left out of the archive and of its hash


@dataclass(frozen=True)
class Delivery:
    """How a job gets its ``SourceCode``: the archive, the job's hyperparameters (with script
    mode's on a framework image), and the code channel on any other image."""

    archive: S3Location
    hyperparameters: Mapping[str, Any] | None
    channel: Channel | None


@jsii.implements(ILocalBundling)
class _TarGz:
    """Packs the source directory as ``sourcedir.tar.gz`` in the process (no Docker)."""

    def __init__(self, source_dir: str, ignore: Sequence[str]) -> None:
        self._source_dir = Path(source_dir)
        self._ignore = list(ignore)

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_: Any) -> bool:
        root = self._source_dir
        with tarfile.open(Path(output_dir) / ARCHIVE, "w:gz") as archive:
            for path in sorted(root.rglob("*")):
                relative = path.relative_to(root)
                if path.is_file() and not _ignored(relative, self._ignore):
                    archive.add(path, arcname=str(relative), recursive=False)
        return True


def _ignored(relative: Path, patterns: Sequence[str]) -> bool:
    parts = relative.parts
    return any(relative.match(p) or any(Path(part).match(p) for part in parts) for p in (*patterns, *ALWAYS_IGNORED))


@dataclass(frozen=True)
class SourceCode:
    """A local training script and the directory it runs from (the SDK v3's ``SourceCode``).

    ``entry_script`` is relative to ``source_dir`` (a ``.py`` runs with ``python``, a ``.sh``
    with ``bash``); ``requirements`` names a pip requirements file in ``source_dir``, installed
    before the script (framework images install ``requirements.txt`` themselves, so it must be
    that name there); ``ignore`` lists glob patterns left out of the archive (``__pycache__``
    and ``*.pyc`` always are). Defaults: no requirements, nothing else ignored."""

    source_dir: str
    entry_script: str
    requirements: str | None = None
    ignore: Sequence[str] = field(default_factory=tuple)

    @staticmethod
    def from_directory(
        source_dir: str | os.PathLike[str],
        entry_script: str,
        *,
        requirements: str | None = None,
        ignore: Sequence[str] = (),
    ) -> SourceCode:
        """``source_dir`` (checked now: it must contain ``entry_script`` and ``requirements``)."""
        directory = Path(source_dir)
        problems = []
        if not directory.is_dir():
            problems.append(f"source_dir: got {str(directory)!r}; an existing directory")
        else:
            for prop, name in (("entry_script", entry_script), ("requirements", requirements)):
                if name is not None and not (directory / name).is_file():
                    problems.append(f"{prop}: got {name!r}; a file in {str(directory)!r}")
        if problems:
            raise TrainingJobValidationError("SourceCode.from_directory", problems)
        return SourceCode(str(directory), entry_script, requirements, tuple(ignore))

    def bind(self, scope: Construct) -> S3Location:
        """The archive as an S3 asset (a child ``SourceCode`` of ``scope``): its location."""
        asset = s3_assets.Asset(
            scope,
            "SourceCode",
            path=self.source_dir,
            asset_hash_type=AssetHashType.SOURCE,
            exclude=[*self.ignore, *ALWAYS_IGNORED],
            bundling=BundlingOptions(
                image=DockerImage.from_registry("unused-local-bundling"),
                local=_TarGz(self.source_dir, self.ignore),
                output_type=BundlingOutput.ARCHIVED,
            ),
        )
        return S3Location.of_asset(asset)

    def deliver(
        self, scope: Construct, *, toolkit: bool, region: str, hyperparameters: Mapping[str, Any] | None
    ) -> Delivery:
        """The archive (an asset under ``scope``) and how it reaches the container: through a
        framework image's toolkit (``toolkit``), or a code channel and entry point."""
        archive = self.bind(scope)
        if not toolkit:
            return Delivery(archive, hyperparameters, Channel(CODE_CHANNEL, archive, input_mode=InputMode.FILE))
        # As the SDK writes a framework estimator's hyperparameters: JSON strings the toolkit decodes.
        encoded = {k: json.dumps(v) if isinstance(v, str) else v for k, v in (hyperparameters or {}).items()}
        return Delivery(archive, {**encoded, **self.script_mode_hyperparameters(archive, region)}, None)

    def script_mode_hyperparameters(self, code: S3Location, region: str) -> dict[str, str]:
        """What the SageMaker Python SDK adds for a framework image (JSON-encoded, as the training
        toolkit reads them); ``sagemaker_job_name`` is filled in by the handler with the job's name."""
        return {
            "sagemaker_container_log_level": "20",
            "sagemaker_job_name": json.dumps(""),
            PROGRAM: json.dumps(self.entry_script),
            "sagemaker_region": json.dumps(region),
            SUBMIT_DIRECTORY: json.dumps(code.s3_uri),
        }

    def entrypoint(self, launcher: str | None = None) -> list[str]:
        """``ContainerEntrypoint`` for any image: extract the code channel, install, run (through
        ``launcher``, a Python program, when given); the job's ``ContainerArguments`` follow as the
        script's arguments."""
        runner = "bash" if self.entry_script.endswith(".sh") else "python"
        steps = [
            "set -e",
            f"mkdir -p {CODE_DIR}",
            f"tar -xzf /opt/ml/input/data/{CODE_CHANNEL}/* -C {CODE_DIR}",
            f"cd {CODE_DIR}",
        ]
        if self.requirements is not None:
            steps.append(f"python -m pip install --no-cache-dir -r {shlex.quote(self.requirements)}")
        if (
            launcher is not None
        ):  # sh -c SCRIPT LAUNCHER ENTRY ARGS...: $0 is the launcher, "$@" the script and its arguments
            steps.append('exec python -c "$0" "$@" </opt/ml/input/config/resourceconfig.json')
            return ["/bin/sh", "-c", "; ".join(steps), launcher, self.entry_script]
        steps.append(f'exec {runner} {shlex.quote(self.entry_script)} "$@"')
        return ["/bin/sh", "-c", "; ".join(steps), self.entry_script]
