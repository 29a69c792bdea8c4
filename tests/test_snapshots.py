"""Snapshots of the synthesized templates, for review. Intent is pinned by the other tests."""

from __future__ import annotations

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from tests.stacks import CONFIGURATIONS, mask_asset_hashes, template_of


@pytest.fixture
def snapshot_json(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("name", sorted(CONFIGURATIONS))
def test_template_matches_snapshot(name: str, snapshot_json: SnapshotAssertion) -> None:
    assert mask_asset_hashes(template_of(name)) == snapshot_json
