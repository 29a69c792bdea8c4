"""Training code from a local directory (``SourceCode``), packaged by CDK's asset machinery and
delivered the way SageMaker's own tooling delivers it.

The directory becomes one S3 asset, a gzipped tar archive (what the training toolkit extracts; it
reads any such archive, whatever its name) uploaded by ``cdk deploy`` to the bootstrap assets
bucket as ``<hash>.gz``: hashed from the source files, uploaded only when they changed. Its
object key holds the hash, so changed code changes the request and starts a new job; an
unchanged synth changes nothing. The job's role may read exactly that object. (The SDK uploads
the same archive as ``<code location>/<job name>/source/sourcedir.tar.gz``.)

- AWS framework images (``TrainingImage.from_framework``): the script-mode hyperparameters the
  SageMaker Python SDK writes (``sagemaker_program``, ``sagemaker_submit_directory``, ...); the
  toolkit in the image downloads the archive, installs ``requirements.txt`` and runs the script.
  A requirements file of another name is put in the archive as ``requirements.txt``.
- Any other image: a ``code`` channel with the archive, and a ``ContainerEntrypoint`` that
  extracts it (``tar``), installs ``requirements`` with pip (``python -m pip``) and runs the entry
  script with ``python`` (``python3`` where the image has no ``python``) and the
  ``ContainerArguments``. The image needs ``/bin/sh``, ``tar`` with gzip, a Python, and pip when
  there are requirements.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tarfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, BundlingOutput, DockerImage, ILocalBundling
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from . import script_mode
from .channel import Channel, InputMode
from .debugging import DebugHookConfig, ProfilerConfig
from .distributed import MPI, Distribution
from .errors import Problems, TrainingJobValidationError
from .s3_location import S3Location
from .script_mode import PROGRAM, SUBMIT_DIRECTORY

CODE_CHANNEL = "code"
CODE_DIR = "/opt/ml/code"
ARCHIVE = "sourcedir.tar.gz"  # the file CDK stages; the S3 object is <hash>.gz
ALWAYS_IGNORED = ("__pycache__", "*.pyc")  # left out of the archive and of its hash
TOOLKIT_REQUIREMENTS = "requirements.txt"  # the only name the training toolkit installs
ITEM_LIMIT = 256  # characters of one ContainerEntrypoint item (the API model's limit)
# The toolkit refuses these entry-point names (spaces, a leading "-" or "./").
_REFUSED_NAME = re.compile(r"\s|^-|^\./")


@dataclass(frozen=True)
class Delivery:
    """How a job gets its ``SourceCode``: the archive, the job's hyperparameters (with script
    mode's on a framework image), and the code channel on any other image."""

    archive: S3Location
    hyperparameters: Mapping[str, Any] | None
    channel: Channel | None
    metrics_time_series: bool | None = None
    """``EnableSageMakerMetricsTimeSeries`` as the SDK sets it for the image's framework (None: unset)."""


@jsii.implements(ILocalBundling)
class _TarGz:
    """Packs the source directory as ``sourcedir.tar.gz`` in the process (no Docker)."""

    def __init__(self, source_dir: str, ignore: Sequence[str], requirements_txt: str | None = None) -> None:
        self._source_dir = Path(source_dir)
        self._ignore = list(ignore)
        self._requirements_txt = requirements_txt  # this file goes in as requirements.txt

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_: Any) -> bool:
        root = self._source_dir
        with tarfile.open(Path(output_dir) / ARCHIVE, "w:gz") as archive:
            for path in sorted(root.rglob("*")):
                relative = path.relative_to(root)
                if self._requirements_txt is not None and str(relative) == TOOLKIT_REQUIREMENTS:
                    continue  # replaced by the requirements file the job names
                if path.is_file() and not _ignored(relative, self._ignore):
                    archive.add(path, arcname=str(relative), recursive=False)
            if self._requirements_txt is not None:
                archive.add(root / self._requirements_txt, arcname=TOOLKIT_REQUIREMENTS, recursive=False)
        return True


def _ignored(relative: Path, patterns: Sequence[str]) -> bool:
    parts = relative.parts
    return any(relative.match(p) or any(Path(part).match(p) for part in parts) for p in (*patterns, *ALWAYS_IGNORED))


@dataclass(frozen=True)
class SourceCode:
    """A local training script and the directory it runs from (the SDK v3's ``SourceCode``).

    ``entry_script`` is relative to ``source_dir`` (a ``.py`` runs with ``python``, a ``.sh``
    with ``bash``; names with spaces, a leading ``-`` or ``./`` are refused, as the training
    toolkit refuses them); ``requirements`` names a pip requirements file in ``source_dir``,
    installed before the script (on framework images, whose toolkit installs only
    ``requirements.txt``, the file is put in the archive under that name); ``ignore`` lists glob
    patterns left out of the archive (``__pycache__`` and ``*.pyc`` always are). Defaults: no
    requirements, nothing else ignored.

    On framework images the SDK's Debugger and Profiler defaults apply, as its estimators'
    ``debugger_hook_config`` and ``disable_profiler`` set them: ``debugger_hook_config=False``
    leaves out the default Debugger hook (default: True, the SDK's ``DebugHookConfig`` to the job's
    output, except where the SDK leaves it out itself: with ``checkpoint`` and
    ``checkpoint_local_path`` on PyTorch and TensorFlow, and on MXNet with several instances);
    ``disable_profiler=True`` sends ``ProfilerConfig(DisableProfiler=true)`` instead of the
    default profiler to the job's output (default: False). A job's own ``debug_hook`` and
    ``profiler`` props win over both."""

    source_dir: str
    entry_script: str
    requirements: str | None = None
    ignore: Sequence[str] = field(default_factory=tuple)
    debugger_hook_config: bool = True
    disable_profiler: bool = False

    def __post_init__(self) -> None:
        problems = Problems()
        if _REFUSED_NAME.search(self.entry_script):
            problems.add(
                "source_code.entry_script",
                self.entry_script,
                "the training toolkit refuses entry-point names with spaces, a leading '-' or './': "
                "name the script relative to source_dir, e.g. 'train.py'",
            )
        for prop, name in (("entry_script", self.entry_script), ("requirements", self.requirements)):
            if name is not None and len(name) > ITEM_LIMIT:
                problems.add(
                    f"source_code.{prop}",
                    name,
                    f"at most {ITEM_LIMIT} characters (one ContainerEntrypoint item): a shorter path in source_dir",
                )
        problems.raise_if_any("SourceCode")

    @staticmethod
    def from_directory(
        source_dir: str | os.PathLike[str],
        entry_script: str,
        *,
        requirements: str | None = None,
        ignore: Sequence[str] = (),
        debugger_hook_config: bool = True,
        disable_profiler: bool = False,
    ) -> SourceCode:
        """``source_dir`` (checked now: it must contain ``entry_script`` and ``requirements``);
        the other arguments as ``SourceCode``'s (defaults: the SDK's Debugger hook and profiler)."""
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
        return SourceCode(
            str(directory), entry_script, requirements, tuple(ignore), debugger_hook_config, disable_profiler
        )

    def bind(self, scope: Construct, *, toolkit: bool = False) -> S3Location:
        """The archive as an S3 asset (a child ``SourceCode`` of ``scope``): its location. For a
        framework image's ``toolkit``, ``requirements`` goes in as ``requirements.txt``."""
        renamed = self.requirements if toolkit and self.requirements not in (None, TOOLKIT_REQUIREMENTS) else None
        asset = s3_assets.Asset(
            scope,
            "SourceCode",
            path=self.source_dir,
            # Which file becomes requirements.txt changes the archive, not the sources: in the hash too.
            asset_hash_type=AssetHashType.SOURCE if renamed is None else AssetHashType.CUSTOM,
            asset_hash=None if renamed is None else self._hash(f"{TOOLKIT_REQUIREMENTS}={renamed}"),
            exclude=[*self.ignore, *ALWAYS_IGNORED],
            bundling=BundlingOptions(
                image=DockerImage.from_registry("unused-local-bundling"),
                local=_TarGz(self.source_dir, self.ignore, renamed),
                output_type=BundlingOutput.ARCHIVED,
            ),
        )
        return S3Location.of_asset(asset)

    def _hash(self, extra: str) -> str:
        """A hash of what goes in the archive (the files, as the archive holds them) and ``extra``."""
        digest = hashlib.sha256(extra.encode())
        root = Path(self.source_dir)
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root)
            if path.is_file() and not _ignored(relative, self.ignore):
                digest.update(str(relative).encode() + b"\0" + path.read_bytes() + b"\0")
        return digest.hexdigest()

    def deliver(
        self,
        scope: Construct,
        *,
        toolkit: bool,
        region: str,
        hyperparameters: Mapping[str, Any] | None,
        framework: str | None = None,
        framework_version: str | None = None,
        distributed: Distribution | None = None,
    ) -> Delivery:
        """The archive (an asset under ``scope``) and how it reaches the container: through a
        framework image's toolkit (``toolkit``; ``framework`` and ``framework_version`` pick the
        SDK's defaults), or a code channel and entry point."""
        archive = self.bind(scope, toolkit=toolkit)
        if not toolkit:
            return Delivery(archive, hyperparameters, Channel(CODE_CHANNEL, archive, input_mode=InputMode.FILE))
        # As the SDK writes a framework estimator's hyperparameters: JSON values the toolkit decodes.
        encoded = script_mode.encoded(hyperparameters)
        added = self.script_mode_hyperparameters(archive, region)
        if framework == "tensorflow" and script_mode.MODEL_DIR not in encoded:
            # The SDK's TensorFlow estimator: s3://<output>/<job name>/model (the handler fills it in
            # once the job has its name), the container's model directory under MPI.
            mpi = isinstance(distributed, MPI)
            added[script_mode.MODEL_DIR] = (
                json.dumps(script_mode.CONTAINER_MODEL_DIR) if mpi else script_mode.FILLED_AT_DEPLOY
            )
        metrics = script_mode.metrics_time_series(framework, framework_version)
        return Delivery(archive, {**encoded, **added}, None, metrics)

    def script_mode_hyperparameters(self, code: S3Location, region: str) -> dict[str, str]:
        """What the SageMaker Python SDK adds for a framework image (JSON-encoded, as the training
        toolkit reads them); ``sagemaker_job_name`` is filled in by the handler with the job's name."""
        return {
            "sagemaker_container_log_level": "20",
            script_mode.JOB_NAME: script_mode.FILLED_AT_DEPLOY,
            PROGRAM: json.dumps(self.entry_script),
            "sagemaker_region": json.dumps(region),
            SUBMIT_DIRECTORY: json.dumps(code.s3_uri),
        }

    def debugging(
        self,
        problems: Problems,
        *,
        debug_hook: DebugHookConfig | None,
        profiler: ProfilerConfig | None,
        output: S3Location,
        framework: str | None,
        checkpoint_uri: bool,
        checkpoint_local_path: bool,
        instance_count: int,
    ) -> tuple[DebugHookConfig | None, ProfilerConfig | None]:
        """The Debugger hook and Profiler of a framework image's job: the job's own, else the SDK's
        defaults (to the job's ``output``) as ``debugger_hook_config`` and ``disable_profiler`` say."""
        if debug_hook is None and self.debugger_hook_config:
            left_out = script_mode.default_hook_left_out(
                framework,
                checkpoint_uri=checkpoint_uri,
                checkpoint_local_path=checkpoint_local_path,
                instance_count=instance_count,
            )
            debug_hook = None if left_out else DebugHookConfig(output, collections=[])
        if self.disable_profiler:
            if profiler is not None and not profiler.disable_profiler:
                problems.add(
                    "profiler (ProfilerConfig)",
                    "ProfilerConfig(disable_profiler=False)",
                    "source_code has disable_profiler=True: leave out profiler, or set disable_profiler=False",
                )
            profiler = profiler or ProfilerConfig(disable_profiler=True)
        else:
            profiler = profiler or ProfilerConfig(output, disable_profiler=False)
        return debug_hook, profiler

    def entrypoint(self, distributed: Distribution | None = None, instance_type: str | None = None) -> list[str]:
        """``ContainerEntrypoint`` for any image: extract the code channel, install, run (through
        ``distributed``'s launcher, a Python program, when it has one). The script is constant;
        the paths are items of their own (each may take all of an item's 256 characters):
        ``/bin/sh -c SCRIPT $0 [requirements] [launcher arguments] entry_script``, and the job's
        ``ContainerArguments`` follow as the script's arguments."""
        launcher = distributed.launcher() if distributed is not None else None
        # Short: the script is one item of at most 256 characters, whatever the paths.
        steps = [
            "set -e",
            f"C={CODE_DIR}",
            "mkdir -p $C",
            f"tar -xzf /opt/ml/input/data/{CODE_CHANNEL}/* -C $C",
            "cd $C",
        ]
        python_needed = launcher is not None or self.requirements is not None or not self.entry_script.endswith(".sh")
        if python_needed:  # python, else python3 (the shell names it when neither exists)
            steps.append("P=python; command -v python >/dev/null || P=python3")
        items: list[str] = []
        if self.requirements is not None:
            steps.append('"$P" -m pip install --no-cache-dir -r "$1"; shift')
            items.append(self.requirements)
        if launcher is not None:
            # sh -c SCRIPT LAUNCHER ...: $0 is the launcher, "$@" its arguments, the script and its arguments
            steps.append('exec "$P" -c "$0" "$@" <../input/config/resourceconfig.json')
            assert distributed is not None
            items += [*distributed.launcher_arguments(instance_type), self.entry_script]
            return ["/bin/sh", "-c", "; ".join(steps), launcher, *items]
        steps.append('exec bash "$@"' if self.entry_script.endswith(".sh") else 'exec "$P" "$@"')
        return ["/bin/sh", "-c", "; ".join(steps), self.entry_script, *items, self.entry_script]
