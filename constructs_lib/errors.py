"""The one exception type the library raises for bad input, and a collector for it."""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import Any

from aws_cdk import Duration, Size


def shown(value: Any) -> str:
    """A value as a user recognises it: sizes and durations in their units, enums by name."""
    if isinstance(value, Size):
        try:
            return f"{value.to_gibibytes()} GiB"
        except RuntimeError:  # not a whole number of GiB
            return f"{value.to_mebibytes()} MiB"
    if isinstance(value, Duration):
        return f"{value.to_human_string()} ({int(value.to_seconds())} s)"
    if isinstance(value, Enum):
        return f"{type(value).__name__}.{value.name}"
    return repr(value)


class TrainingJobValidationError(ValueError):
    """Raised at construct creation (or synth) when a training job is misconfigured.

    Every problem found is reported at once; ``problems`` holds one line per problem,
    each naming the property path, the bad value and what is allowed.
    """

    def __init__(self, construct_path: str, problems: Iterable[str]) -> None:
        self.construct_path = construct_path
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"Invalid SageMaker training job at {construct_path}:\n{lines}")


class Problems:
    """Collects validation problems so that all of them are reported together."""

    def __init__(self) -> None:
        self._items: list[str] = []

    def add(self, prop: str, value: Any, allowed: str) -> None:
        self._items.append(f"{prop}: got {shown(value)}; {allowed}")

    def extend(self, items: Iterable[str]) -> None:
        self._items.extend(items)

    def extend_new(self, items: Iterable[str]) -> None:
        """Adds the problems whose subject (``<prop>: got <value>``) no problem names yet: a
        rule's message says more than the API model's for the same value."""
        for item in items:
            subject = item.split("; ", 1)[0]
            if not any(existing.startswith(subject) for existing in self._items):
                self._items.append(item)

    def __bool__(self) -> bool:
        return bool(self._items)

    def raise_if_any(self, where: str | Any) -> None:
        """Raises for the problems found so far; ``where`` is a construct path or a construct."""
        if self._items:
            path = where if isinstance(where, str) else where.node.path
            raise TrainingJobValidationError(path, self._items)
