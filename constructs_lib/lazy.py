"""Values rendered when the template is, after every construct (and Aspect) had its say."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jsii
from aws_cdk import IAnyProducer, IResolvable, IResolveContext, Lazy


@jsii.implements(IAnyProducer)
class _Producer:
    def __init__(self, produce: Callable[[], Any]) -> None:
        self._produce = produce

    def produce(self, context: IResolveContext) -> Any:
        return self._produce()


def lazy_any(produce: Callable[[], Any]) -> IResolvable:
    """``produce()`` each time the value is resolved (never cached)."""
    return Lazy.uncached_any(_Producer(produce))
