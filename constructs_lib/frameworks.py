"""AWS framework and built-in algorithm images by name, from the data the SageMaker Python SDK
publishes (its ``image_uri_config/<framework>.json`` files), read at synth without importing the
SDK: ``pip install cdk-sagemaker-training[frameworks]`` (``sagemaker-core``; its data is all we
read, so ``pip install --no-deps sagemaker-core`` is enough), or an installed SageMaker Python SDK
v2 (``sagemaker``).

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
from importlib import metadata
from pathlib import Path
from typing import Any

# (distribution, directory of its image_uri_config): SDK v3's package first, then v2's.
_SOURCES = (("sagemaker-core", "sagemaker/core/image_uri_config"), ("sagemaker", "sagemaker/image_uri_config"))


# Images whose training toolkit runs a user's script (script mode); the others are algorithms.
SCRIPT_MODE = ("pytorch", "tensorflow", "huggingface", "mxnet", "sklearn", "xgboost", "chainer")


class FrameworkNotFound(ValueError):
    """An unknown framework, version, Python version, processor or region; says what is known."""


@cache
def _config(framework: str) -> tuple[dict[str, Any], str]:
    """The SDK's data for ``framework`` and where it was read."""
    searched = []
    for distribution, directory in _SOURCES:
        try:
            path = Path(str(metadata.distribution(distribution).locate_file(f"{directory}/{framework}.json")))
        except metadata.PackageNotFoundError:
            searched.append(f"{distribution} (not installed)")
            continue
        if path.is_file():
            return json.loads(path.read_text()), f"{distribution} {metadata.version(distribution)}"
        known = sorted(p.stem for p in path.parent.glob("*.json")) if path.parent.is_dir() else []
        if known:
            raise FrameworkNotFound(
                f"framework {framework!r} is not in {distribution}'s data; known: {', '.join(known)}"
            )
        searched.append(distribution)
    raise FrameworkNotFound(
        "framework images need the SageMaker Python SDK's published data: "
        "pip install 'cdk-sagemaker-training[frameworks]' (or pip install --no-deps sagemaker-core); "
        f"searched {', '.join(searched)}"
    )


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
        known = [*versions, *config.get("version_aliases", {})]
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
        raise FrameworkNotFound(f"{framework}: version {version!r} is not known; known: {', '.join(versions)}")
    base = _base_of(version_config, base_framework_version, framework)
    match = re.match(r"^(pytorch|tensorflow)(.*)$", base)
    return (match.group(1), match.group(2)) if match else (framework, base)


def data_source(framework: str) -> str:
    """Which package's data resolved ``framework`` (for messages and the summary)."""
    return _config(framework)[1]


def gpu_count(instance_type: str, region: str) -> int | None:
    """GPUs per instance of ``instance_type`` in ``region``, from the SDK's ``instance_gpu_info``
    (None: not a GPU type, or unknown there)."""
    data, _ = _config("instance_gpu_info")
    info = data.get(region, {}).get(instance_type)
    return int(info["Count"]) if info else None
