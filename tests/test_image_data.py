"""The framework image data ships in the package (#21.16): no SDK is installed or imported, the
files are the ones the manifest records, and the refresh script reproduces them from a release."""

from __future__ import annotations

import hashlib
import io
import json
import sys
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from constructs_lib import frameworks
from tools import refresh_image_data

DATA = Path(frameworks.__file__).parent / "data"


def test_the_data_is_what_the_manifest_records() -> None:
    manifest = json.loads((DATA / "manifest.json").read_text())
    assert manifest["distribution"] == "sagemaker-core" and manifest["version"]
    assert manifest["refresh"].startswith("python -m tools.refresh_image_data")
    listed = {entry["data"] for entry in manifest["files"]}
    on_disk = {str(p.relative_to(DATA)) for p in DATA.rglob("*.json")} - {"manifest.json"}
    assert listed == on_disk
    for entry in manifest["files"]:
        assert hashlib.sha256((DATA / entry["data"]).read_bytes()).hexdigest() == entry["data_sha256"], entry["data"]
    assert {"pytorch", "tensorflow", "huggingface", "sklearn", "xgboost", "instance_gpu_info"} <= {
        Path(entry["data"]).stem for entry in manifest["files"]
    }


def test_images_resolve_without_the_sdk_installed() -> None:
    for distribution in ("sagemaker", "sagemaker-core"):
        with pytest.raises(metadata.PackageNotFoundError):
            metadata.distribution(distribution)
    assert "sagemaker" not in sys.modules
    uri = frameworks.image_uri("pytorch", "2.3.0", region="us-east-1", py_version="py311", instance_type="ml.g5.xlarge")
    assert uri == "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.3.0-gpu-py311"
    assert (
        frameworks.data_source("pytorch")
        == "sagemaker-core " + json.loads((DATA / "manifest.json").read_text())["version"]
    )
    assert frameworks.gpu_count("ml.p4d.24xlarge", "us-east-1") == 8


def test_an_unknown_framework_names_the_data_and_what_is_known() -> None:
    with pytest.raises(frameworks.FrameworkNotFound) as raised:
        frameworks.image_uri("pytorc", "2.3.0", region="us-east-1", py_version="py311", instance_type="ml.m5.xlarge")
    assert "'pytorc' is not in the image data (sagemaker-core " in str(raised.value)
    assert "pytorch" in str(raised.value)


def _wheel(tmp_path: Path, files: dict[str, object]) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, value in files.items():
            archive.writestr(f"{refresh_image_data.SOURCE_DIRECTORY}/{name}.json", json.dumps(value))
        archive.writestr("sagemaker/core/other.py", "")
    wheel = tmp_path / "sagemaker_core-9.9.9-py3-none-any.whl"
    wheel.write_bytes(buffer.getvalue())
    return wheel


def test_the_refresh_keeps_only_what_the_library_reads(tmp_path: Path) -> None:
    sdk: dict[str, Any] = {
        "pytorch": {
            "training": {"versions": {"2.3.0": {"registries": {"us-east-1": "763104351884"}}}},
            "inference": {"versions": {"2.3.0": {}}},
        },
        "instance_gpu_info": {"us-east-1": {"ml.p4d.24xlarge": {"Count": 8, "TotalGpuMemoryInMiB": 327680}}},
        "model-monitor": {"scope": ["monitoring"], "versions": {"": {"registries": {}}}},
        "djl-lmi": {"inference": {"versions": {}}},
    }
    wheel = _wheel(tmp_path, sdk)
    files = refresh_image_data.render("9.9.9", wheel, refresh_image_data.read_wheel(wheel), "2026-01-01")
    written = {name: json.loads(text) for name, text in files.items()}
    assert written["image_uri_config/pytorch.json"] == {"training": sdk["pytorch"]["training"]}
    assert written["image_uri_config/instance_gpu_info.json"] == {"us-east-1": {"ml.p4d.24xlarge": 8}}
    assert written["image_uri_config/model-monitor.json"] == sdk["model-monitor"]
    assert written["image_uri_config/djl-lmi.json"] == {"inference": {}}
    manifest = written["manifest.json"]
    assert (manifest["version"], manifest["wheel"], manifest["refreshed"]) == ("9.9.9", wheel.name, "2026-01-01")
    # Deterministic: the same release gives the same bytes.
    assert files == refresh_image_data.render("9.9.9", wheel, refresh_image_data.read_wheel(wheel), "2026-01-01")
