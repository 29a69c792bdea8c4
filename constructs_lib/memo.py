"""Values read from CDK objects, remembered per object.

Each property read or method call on a CDK object is a round trip to the jsii runtime
(Node.js). Stacks with hundreds of jobs share roles, buckets, VPCs and the stack itself, so
facts about those are read once and reused.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
_values: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()


def per_object(obj: Any, key: str, compute: Callable[[], T]) -> T:
    """``compute()`` the first time ``key`` is asked of ``obj``; the remembered value after."""
    values = _values.setdefault(obj, {})
    if key not in values:
        values[key] = compute()
    return values[key]  # type: ignore[no-any-return]
