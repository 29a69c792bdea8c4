"""The benchmark's variants still build, and cost the resources per job the README states
(counts, not timings: timings live in ``make bench``)."""

from __future__ import annotations

import aws_cdk as cdk
import pytest

from benchmarks.run import _largest_n
from benchmarks.variants import VARIANTS


def _resources(variant: str, count: int) -> int:
    stack = cdk.Stack(cdk.App(), "Bench", env=cdk.Environment(account="111111111111", region="us-east-1"))
    VARIANTS[variant](stack, count)
    return len(cdk.assertions.Template.from_stack(stack).to_json()["Resources"])


@pytest.mark.parametrize(("variant", "per_job"), list(zip(VARIANTS, (1, 3, 2, 5), strict=True)))
def test_resources_per_additional_job(variant: str, per_job: int) -> None:
    assert _resources(variant, 3) - _resources(variant, 1) == 2 * per_job


def test_largest_n_follows_the_tighter_limit() -> None:
    small, large = {"resources": 7, "bytes": 11_000}, {"resources": 106, "bytes": 147_000}
    assert _largest_n(small, large, 1, 100) == 494
