"""AWS framework and built-in algorithm images by name, from the image data the SageMaker Python
SDK publishes (its ``image_uri_config/<framework>.json`` files), shipped with this package in
``constructs_lib/data/`` and read at synth with ``importlib.resources``: no SDK is installed or
imported, and an installed SDK of another release does not change a synthesized template. The
data comes from the pinned ``sagemaker-core`` release its ``manifest.json`` names, reduced to what
this module reads, and is refreshed by ``tools/refresh_image_data.py`` (docs/image-data.md).

The lookup follows the SDK's ``image_uris.retrieve`` for training images: the scope's version
(aliases resolved), the processor from the instance type (``g*``/``p*`` families GPU, ``trn*``,
``inf*``, else CPU), the Python version, the region's registry account, and the tag
``<version>-<processor>-<py>-<container version>`` (Hugging Face:
``<base framework version>-transformers<version>-...``).
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from pathlib import PurePosixPath
from typing import Any

# The package data: manifest.json and, per framework, image_uri_config/<framework>.json.
_DATA = resources.files("constructs_lib") / "data"


# Images whose training toolkit runs a user's script (script mode); the others are algorithms.
SCRIPT_MODE = ("pytorch", "tensorflow", "huggingface", "mxnet", "sklearn", "xgboost", "chainer")


class FrameworkNotFound(ValueError):
    """An unknown framework, version, Python version, processor or region; says what is known."""


@cache
def _manifest() -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((_DATA / "manifest.json").read_text(encoding="utf-8"))
    return manifest


@cache
def _files() -> dict[str, str]:
    """``{framework: its data file under data/}``, as the manifest lists them."""
    return {PurePosixPath(entry["data"]).stem: entry["data"] for entry in _manifest()["files"]}


@cache
def _config(framework: str) -> tuple[dict[str, Any], str]:
    """The image data for ``framework`` and where it came from."""
    manifest = _manifest()
    source = f"{manifest['distribution']} {manifest['version']}"
    files = _files()
    if framework not in files:
        raise FrameworkNotFound(
            f"framework {framework!r} is not in the image data ({source}); known: {', '.join(sorted(files))}"
        )
    data: dict[str, Any] = json.loads((_DATA / files[framework]).read_text(encoding="utf-8"))
    return data, source


def _natural(keys: Any) -> list[str]:
    """Versions in the order a reader expects (``1.9`` before ``1.10``)."""
    return sorted(keys, key=lambda key: [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", key)])


def _one_of(kind: str, value: str | None, allowed: list[str], framework: str) -> str:
    if value is None and len(allowed) == 1:
        return allowed[0]
    if value not in allowed:
        raise FrameworkNotFound(f"{framework}: {kind} {value!r} is not known; known: {', '.join(allowed)}")
    return value


def processor_of(instance_type: str | None) -> str | None:
    """The SDK's processor for an ``ml.*`` instance type."""
    if instance_type is None:
        return None
    family = instance_type.split(".")[1] if instance_type.count(".") >= 2 else ""
    if family.startswith("inf"):
        return "inf"
    if family.startswith("trn"):
        return "trn"
    return "gpu" if family[:1] in ("g", "p") else "cpu"


def image_uri(
    framework: str,
    version: str,
    *,
    region: str,
    py_version: str | None = None,
    instance_type: str | None = None,
    base_framework_version: str | None = None,
) -> str:
    """The training image URI, as ``sagemaker.image_uris.retrieve(..., image_scope="training")``
    gives it. Raises ``FrameworkNotFound`` naming what the data knows."""
    data, _ = _config(framework)
    config = data if "versions" in data else data.get("training")
    if config is None:
        raise FrameworkNotFound(f"{framework}: no training images; scopes: {', '.join(sorted(data))}")
    versions = config["versions"]
    full_version = config.get("version_aliases", {}).get(version, version)
    if full_version not in versions:
        known = _natural([*versions, *config.get("version_aliases", {})])
        raise FrameworkNotFound(f"{framework}: version {version!r} is not known; known: {', '.join(known)}")
    version_config = versions[full_version]
    tag_prefix = version
    if framework.startswith("huggingface"):
        bases = version_config.get("version_aliases", {})
        base = _base_of(version_config, base_framework_version, framework)
        version_config = version_config[bases.get(base, base)]
        match = re.match(r"^(pytorch|tensorflow)(.*)$", base)
        tag_prefix = f"{match.group(2) if match else base}-transformers{version}"
    processors = version_config.get("processors", config.get("processors"))
    processor = None
    if processors:
        wanted = processor_of(instance_type)
        processor = _one_of("processor (from instance_type)", wanted, processors, framework)
    py_versions = version_config.get("py_versions")
    py = _one_of("py_version", py_version, py_versions, framework) if py_versions else None
    registries = version_config["registries"]
    if region not in registries:
        raise FrameworkNotFound(
            f"{framework} {version}: no image in region {region!r}; regions: {', '.join(registries)}"
        )
    container_version = version_config.get("container_version", {}).get(processor) if processor else None
    tag = "-".join(part for part in (tag_prefix, processor, py, container_version) if part)
    domain = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"{registries[region]}.dkr.ecr.{region}.{domain}/{version_config['repository']}:{tag}"


def _base_of(version_config: dict[str, Any], base_framework_version: str | None, framework: str) -> str:
    bases = version_config.get("version_aliases", {})
    full_bases = [k for k in version_config if k != "version_aliases"]
    if base_framework_version is None and len(full_bases) == 1:
        # One base framework: named as the SDK's estimators name it (pytorch_version="2.1").
        base_framework_version = min((a for a, f in bases.items() if f == full_bases[0]), default=full_bases[0])
    return _one_of("base_framework_version", base_framework_version, [*bases, *full_bases], framework)


def launcher_framework(framework: str, version: str, base_framework_version: str | None) -> tuple[str, str]:
    """The framework and version the SDK checks a launcher's support against: a Hugging Face
    image's PyTorch or TensorFlow (``("pytorch", "2.1")``, as its ``pytorch_version=``), else the
    image's own. Raises ``FrameworkNotFound`` as ``image_uri`` does."""
    if not framework.startswith("huggingface"):
        return framework, version
    data, _ = _config(framework)
    config = data if "versions" in data else data.get("training", {})
    versions = config.get("versions", {})
    version_config = versions.get(config.get("version_aliases", {}).get(version, version))
    if version_config is None:
        known = ", ".join(_natural(versions))
        raise FrameworkNotFound(f"{framework}: version {version!r} is not known; known: {known}")
    base = _base_of(version_config, base_framework_version, framework)
    match = re.match(r"^(pytorch|tensorflow)(.*)$", base)
    return (match.group(1), match.group(2)) if match else (framework, base)


def data_source(framework: str) -> str:
    """Which SDK release's data resolved ``framework`` (``"sagemaker-core 2.27.0"``), for messages."""
    return _config(framework)[1]


def gpu_count(instance_type: str, region: str) -> int | None:
    """GPUs per instance of ``instance_type`` in ``region``, from the SDK's ``instance_gpu_info``
    (None: not a GPU type, or unknown there)."""
    data, _ = _config("instance_gpu_info")
    count = data.get(region, {}).get(instance_type)
    return int(count) if count else None
