"""A real region for end-to-end tests: hub, sh and zj as separate processes on
loopback (see tests/live_regions.py). The four-province region is in
tests/conftest.py, shared with the browser tests."""

from __future__ import annotations

import pytest

from tests.live_regions import running_region


@pytest.fixture(scope="session")
def live_region(tmp_path_factory):
    """hub + sh + zj."""
    yield from running_region(tmp_path_factory.mktemp("region"), ("sh", "zj"))
