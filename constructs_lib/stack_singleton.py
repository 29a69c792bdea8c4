"""Constructs that exist once per stack, created by the first TrainingJob that needs them."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from aws_cdk import Stack
from constructs import Construct

from .memo import per_object

T = TypeVar("T", bound=Construct)


def of_stack(scope: Construct, construct_id: str, kind: type[T] | Callable[[Stack, str], T]) -> T:
    """The stack's ``construct_id`` child, created with ``kind(stack, construct_id)`` on first use."""
    stack = scope if isinstance(scope, Stack) else Stack.of(scope)
    return per_object(stack, construct_id, lambda: _find_or_create(stack, construct_id, kind))


def _find_or_create(stack: Stack, construct_id: str, kind: type[T] | Callable[[Stack, str], T]) -> T:
    existing = stack.node.try_find_child(construct_id)
    if existing is not None:
        if isinstance(kind, type) and not isinstance(existing, kind):
            raise TypeError(f"{stack.node.path}/{construct_id} exists but is a {type(existing).__name__}")
        return existing  # type: ignore[return-value]
    return kind(stack, construct_id)
