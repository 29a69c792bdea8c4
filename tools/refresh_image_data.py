"""Refresh the framework image data shipped in ``constructs_lib/data/`` from a pinned release of
the SageMaker Python SDK (``sagemaker-core``'s ``sagemaker/core/image_uri_config/*.json``).

    python -m tools.refresh_image_data                    # the version the manifest records
    python -m tools.refresh_image_data --version 2.28.0   # move the pin
    python -m tools.refresh_image_data --wheel FILE.whl   # an already downloaded wheel
    python -m tools.refresh_image_data --check            # exit 1 if the data is not what the release gives

The release's wheel is fetched with ``pip download --no-deps`` into a temporary directory and read
as a zip: nothing is installed or imported. Only what ``constructs_lib.frameworks`` reads is kept
(``transform``); the output is deterministic (sorted keys, one value per line), so a refresh is a
reviewable diff, and the manifest records the source distribution, its version and wheel hash, the
sha256 of every source file and of every file written, and the date of the last refresh that
changed the data (an unchanged refresh keeps it, so it produces no diff at all).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "constructs_lib" / "data"
MANIFEST = DATA / "manifest.json"
DISTRIBUTION = "sagemaker-core"
SOURCE_DIRECTORY = "sagemaker/core/image_uri_config"
OUTPUT_DIRECTORY = "image_uri_config"
GPU_TABLE = "instance_gpu_info"


def dumps(value: Any) -> str:
    """The one serialization of every file written (sorted keys, a line per value, final newline)."""
    return json.dumps(value, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def transform(name: str, data: dict[str, Any]) -> dict[str, Any]:
    """What ``constructs_lib.frameworks`` reads of the SDK's ``<name>.json``:

    - the GPU table (``instance_gpu_info``): each region's instance types with their GPU count
      (its ``Count``; the GPU memory is never read);
    - a config without scopes (top-level ``versions``): the whole config, as the SDK wrote it
      (``image_uri`` takes it for any scope, as the SDK's ``retrieve`` takes a config's only scope);
    - a config with a ``training`` scope: that scope only (``inference``, ``eia``,
      ``inference_graviton`` and ``processing`` are never read);
    - any other config: its scopes' names with nothing in them, so a lookup can still say
      "no training images; scopes: ...".
    """
    if name == GPU_TABLE:
        return {
            region: {instance: int(info["Count"]) for instance, info in types.items()} for region, types in data.items()
        }
    if "versions" in data:
        return data
    if "training" in data:
        return {"training": data["training"]}
    return {scope: {} for scope in data}


def read_wheel(wheel: Path) -> dict[str, bytes]:
    """``{name: bytes}`` of the image data files in the SDK's wheel (``name`` without ``.json``)."""
    with zipfile.ZipFile(wheel) as archive:
        found = {
            PurePosixPath(entry).stem: archive.read(entry)
            for entry in archive.namelist()
            if PurePosixPath(entry).parent == PurePosixPath(SOURCE_DIRECTORY) and entry.endswith(".json")
        }
    if not found:
        raise SystemExit(f"{wheel.name} has no {SOURCE_DIRECTORY}/*.json")
    return found


def download(version: str, into: Path) -> Path:
    """The release's wheel, from the package index pip is configured with (``--no-deps``)."""
    subprocess.run(
        [
            sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
            "--only-binary=:all:", "--dest", str(into), f"{DISTRIBUTION}=={version}",
        ],
        check=True,
    )  # fmt: skip
    (wheel,) = into.glob("*.whl")
    return wheel


def render_data(sources: dict[str, bytes]) -> dict[str, str]:
    """``{path under constructs_lib/data: text}`` of the data files the SDK's files give."""
    return {f"{OUTPUT_DIRECTORY}/{name}.json": dumps(transform(name, json.loads(sources[name]))) for name in sources}


def render(version: str, wheel: Path, sources: dict[str, bytes], refreshed: str) -> dict[str, str]:
    """``{path under constructs_lib/data: text}``: every data file and the manifest."""
    files = render_data(sources)
    entries = []
    for name in sorted(sources):
        output = f"{OUTPUT_DIRECTORY}/{name}.json"
        entries.append(
            {
                "data": output,
                "data_sha256": sha256(files[output].encode()),
                "source": f"{SOURCE_DIRECTORY}/{name}.json",
                "source_sha256": sha256(sources[name]),
            }
        )
    manifest = {
        "description": (
            "Framework and built-in algorithm image data read by constructs_lib.frameworks: the SageMaker "
            "Python SDK's image_uri_config, reduced to what the library reads (docs/image-data.md). "
            "Written by tools/refresh_image_data.py; do not edit by hand."
        ),
        "distribution": DISTRIBUTION,
        "files": entries,
        "refreshed": refreshed,
        "refresh": "python -m tools.refresh_image_data [--version VERSION]",
        "version": version,
        "wheel": wheel.name,
        "wheel_sha256": sha256(wheel.read_bytes()),
    }
    files["manifest.json"] = dumps(manifest)
    return files


def current() -> dict[str, Any]:
    return json.loads(MANIFEST.read_text()) if MANIFEST.is_file() else {}


def written() -> dict[str, str]:
    """What ``constructs_lib/data`` holds now."""
    return {str(p.relative_to(DATA)): p.read_text() for p in sorted(DATA.rglob("*.json"))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", help=f"the {DISTRIBUTION} release (default: the manifest's)")
    parser.add_argument("--wheel", type=Path, help=f"a {DISTRIBUTION} wheel already downloaded (skips pip)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if the data differs")
    args = parser.parse_args(argv)
    before = current()
    version: str | None = args.version or before.get("version")
    with tempfile.TemporaryDirectory(prefix="image-data-") as folder:
        if args.wheel is not None:
            wheel: Path = args.wheel
        elif version:
            wheel = download(version, Path(folder))
        else:
            parser.error("no manifest yet: give --version")
        wheel_version = wheel.name.split("-")[1]
        if version and wheel_version != version:
            raise SystemExit(f"{wheel.name} is not {DISTRIBUTION} {version}")
        # The date changes only with the data: an unchanged refresh writes the same bytes.
        files = render(wheel_version, wheel, read_wheel(wheel), str(before.get("refreshed", "")))
        unchanged = files == written()
        if not unchanged:
            files = render(wheel_version, wheel, read_wheel(wheel), datetime.date.today().isoformat())
    if args.check:
        print(f"{DATA.relative_to(ROOT)}: " + ("as the release gives it" if unchanged else "differs from the release"))
        return 0 if unchanged else 1
    if unchanged:
        print(f"{DATA.relative_to(ROOT)}: unchanged ({DISTRIBUTION} {wheel_version})")
        return 0
    for stale in set(written()) - set(files):
        (DATA / stale).unlink()
    for path, text in files.items():
        (DATA / path).parent.mkdir(parents=True, exist_ok=True)
        (DATA / path).write_text(text)
    size = sum(len(text.encode()) for text in files.values())
    print(f"{DATA.relative_to(ROOT)}: {len(files)} files, {size} bytes, from {wheel.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
