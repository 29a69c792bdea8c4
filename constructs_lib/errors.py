"""The one exception type the library raises for bad input, and a collector for it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


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
        self._items.append(f"{prop}: got {value!r}; {allowed}")

    def extend(self, items: Iterable[str]) -> None:
        self._items.extend(items)

    def __bool__(self) -> bool:
        return bool(self._items)

    def raise_if_any(self, where: str | Any) -> None:
        """Raises for the problems found so far; ``where`` is a construct path or a construct."""
        if self._items:
            path = where if isinstance(where, str) else where.node.path
            raise TrainingJobValidationError(path, self._items)
