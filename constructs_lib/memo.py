"""Values read from CDK objects, remembered per object.

Each property read or method call on a CDK object is a round trip to the jsii runtime
(Node.js). Stacks with hundreds of jobs share roles, buckets, VPCs and the stack itself, so
facts about those are read once and reused.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from aws_cdk import Stack
from constructs import IConstruct

T = TypeVar("T")
_values: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()


def per_object(obj: Any, key: str, compute: Callable[[], T]) -> T:
    """``compute()`` the first time ``key`` is asked of ``obj``; the remembered value after."""
    values = _values.setdefault(obj, {})
    if key not in values:
        values[key] = compute()
    return values[key]  # type: ignore[no-any-return]


def stack_of(scope: IConstruct) -> Stack:
    """``Stack.of(scope)``, asked once per scope."""
    return scope if isinstance(scope, Stack) else per_object(scope, "stack", lambda: Stack.of(scope))


def has_members(obj: Any, *names: str) -> bool:
    """Whether ``obj`` (a jsii object, so a jsii interface cannot be checked with isinstance)
    offers ``names``, looked up on its class so that no property is read. An object jsii hands
    back for several interfaces delegates to one proxy per interface."""
    classes = [type(d) for d in getattr(obj, "_delegates", ())] or [type(obj)]
    return all(any(hasattr(c, name) for c in classes) for name in names)
