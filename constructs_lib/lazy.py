"""Values rendered when the template is, after every construct (and Aspect) had its say."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jsii
from aws_cdk import IAnyProducer, IResolvable, IResolveContext, IStringProducer, Lazy


@jsii.implements(IAnyProducer)
class _Producer:
    def __init__(self, produce: Callable[[], Any]) -> None:
        self._produce = produce

    def produce(self, context: IResolveContext) -> Any:
        return self._produce()


def lazy_any(produce: Callable[[], Any]) -> IResolvable:
    """``produce()`` each time the value is resolved (never cached)."""
    return Lazy.uncached_any(_Producer(produce))


@jsii.implements(IStringProducer)
class _StringProducer:
    def __init__(self, produce: Callable[[], str]) -> None:
        self._produce = produce

    def produce(self, context: IResolveContext) -> str:
        return self._produce()


def lazy_string(produce: Callable[[], str]) -> str:
    """A string token whose value is ``produce()`` when the template is rendered (never cached)."""
    return Lazy.uncached_string(_StringProducer(produce))
