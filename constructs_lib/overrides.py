"""The escape hatch: set any member of the CreateTrainingJob request by path.

Paths are API member names joined by dots, with list indexes in brackets:
``ResourceConfig.KeepAlivePeriodInSeconds``, ``InputDataConfig[0].ShuffleConfig.Seed``.
The result is validated against the SageMaker model like everything else.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping
from typing import Any

from .errors import Problems

_STEP = re.compile(r"([A-Za-z][A-Za-z0-9]*)|\[(\d+)\]")
_PATH = re.compile(r"^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*|\[\d+\])*$")
# Members whose values are resources the generated role may need access to.
_ACCESS_KEYS = re.compile(
    r"(S3Uri|S3OutputPath|S3Path|KmsKeyId|FileSystemId|RoleArn)$"
)  # not LocalPath: a container path


def parse_path(path: str) -> list[str | int]:
    """``A.B[2].C`` -> ``["A", "B", 2, "C"]``; raises ValueError when malformed."""
    if not _PATH.match(path):
        raise ValueError(path)
    return [name if name else int(index) for name, index in _STEP.findall(path)]


def apply_overrides(request: dict[str, Any], overrides: Mapping[str, Any], problems: Problems) -> None:
    """Sets each ``path -> value`` in ``request``; creates missing objects along the way."""
    for path, value in overrides.items():
        try:
            steps = parse_path(path)
        except ValueError:
            problems.add(f"overrides[{path!r}]", value, "paths are API member names joined by '.', list indexes as [n]")
            continue
        node: Any = request
        for step, following in itertools.pairwise(steps):
            node = _child(node, step, following, path, problems)
            if node is None:
                break
        else:
            last = steps[-1]
            if isinstance(last, int):
                if not isinstance(node, list) or last > len(node):
                    problems.add(f"overrides[{path!r}]", value, f"index {last} is past the end of the list")
                    continue
                node[last : last + 1] = [value]
            elif isinstance(node, dict):
                node[last] = value
            else:
                problems.add(f"overrides[{path!r}]", value, f"{last} is not inside an object")


def _child(node: Any, step: str | int, following: str | int, path: str, problems: Problems) -> Any:
    empty: Any = [] if isinstance(following, int) else {}
    if isinstance(step, int):
        if not isinstance(node, list) or step > len(node):
            problems.add(f"overrides[{path!r}]", step, "index is past the end of the list")
            return None
        if step == len(node):
            node.append(empty)
        return node[step]
    if not isinstance(node, dict):
        problems.add(f"overrides[{path!r}]", step, f"{step} is not inside an object")
        return None
    return node.setdefault(step, empty)


def access_points(overrides: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """``(path, value)`` of every overridden S3 location, KMS key, file system or role."""

    def walk(path: str, value: Any) -> Iterator[tuple[str, str]]:
        if isinstance(value, Mapping):
            for key, item in value.items():
                yield from walk(f"{path}.{key}", item)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                yield from walk(f"{path}[{index}]", item)
        elif isinstance(value, str) and (_ACCESS_KEYS.search(path) or value.startswith("s3://")):
            yield path, value

    for path, value in overrides.items():
        yield from walk(path, value)
