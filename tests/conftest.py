"""Shared fixtures: an in-process node "sh" with a real directory, catalog and keys.

In-process tests run as the sh node; peers (zj, the hub) are represented by
real SM2 keys whose public halves are in the directory, so envelopes they
"send" are signed and verified for real.
"""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest

from tests.factories import RegionData


@pytest.fixture
def region(db, settings, tmp_path) -> RegionData:
    settings.TONGBAN_MEDIA_DIR = tmp_path / "media"
    return RegionData.create()


@pytest.fixture
def api(client):
    """Django test client with JSON helpers and bearer-token login."""

    class Api:
        def __init__(self):
            self.headers = {}

        def login(self, user):
            from tongban.identity.services import api_token_create

            _, secret = api_token_create(user=user, name="test")
            self.headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
            return self

        def get(self, path, **params):
            return client.get("/api/v1" + path, params, **self.headers)

        def post(self, path, body=None, raw: bytes | None = None):
            data = raw if raw is not None else json.dumps(body or {})
            return client.post(
                "/api/v1" + path, data, content_type="application/json", **self.headers
            )

    return Api()


def b64(content: bytes) -> str:
    return base64.b64encode(content).decode()


def utc(**delta) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(**delta)


@pytest.fixture(scope="session")
def full_region(tmp_path_factory):
    """hub + all four provinces as real processes, shared by the e-licence e2e and
    browser tests (a region takes about a minute to prepare)."""
    from tests.live_regions import running_region

    yield from running_region(tmp_path_factory.mktemp("region4"), ("sh", "js", "zj", "ah"))


@pytest.fixture(scope="session")
def live_region(tmp_path_factory):
    """hub + sh + zj as real processes, shared by the end-to-end tests and the API fuzz
    test (which runs after them and is their region's last user)."""
    from tests.live_regions import running_region

    yield from running_region(tmp_path_factory.mktemp("region"), ("sh", "zj"))
