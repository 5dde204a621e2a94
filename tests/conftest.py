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


@pytest.fixture(autouse=True)
def _platform_language_after_each_test():
    """A page asked in English leaves English active in the test's thread (Django's
    LocaleMiddleware activates per request and nothing resets it between tests); code a
    later test calls directly would then speak English."""
    yield
    from django.utils import translation

    translation.deactivate()


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


# --- live regions ----------------------------------------------------------------------
# A region is started once per session (per pytest-xdist worker: every test using one
# region is put in the same xdist_group, so with --dist loadgroup it runs on one worker)
# and stopped right after its last test, not at the end of the session.

REGION_FIXTURES = ("live_region", "full_region")
_open_regions: dict[str, object] = {}  # fixture name -> running_region generator
_last_user: dict[str, str] = {}  # fixture name -> nodeid of the last test using it


def _session_region(name, root, nodes):
    from tests.live_regions import running_region

    region_run = running_region(root, nodes)
    region = next(region_run)
    _open_regions[name] = region_run
    try:
        yield region
    finally:
        _close_region(name)


def _close_region(name: str) -> None:
    region_run = _open_regions.pop(name, None)
    if region_run is not None:
        region_run.close()  # running_region's finally: stop the processes, drop databases


@pytest.fixture(scope="session")
def full_region(tmp_path_factory):
    """hub + all four provinces as real processes, shared by the e-licence e2e and
    browser tests (a region takes about a minute to prepare)."""
    yield from _session_region(
        "full_region", tmp_path_factory.mktemp("region4"), ("sh", "js", "zj", "ah")
    )


@pytest.fixture(scope="session")
def live_region(tmp_path_factory):
    """hub + sh + zj as real processes, shared by the end-to-end tests and the API fuzz
    test (which runs after them and is their region's last user)."""
    yield from _session_region("live_region", tmp_path_factory.mktemp("region"), ("sh", "zj"))


def _region_keys(item) -> list[tuple[str, str]]:
    """(fixture name, where it is defined) of each region ``item`` uses; a module may
    define its own region under the same name."""
    info = getattr(item, "_fixtureinfo", None)
    keys = []
    for name in REGION_FIXTURES:
        defs = info.name2fixturedefs.get(name) if info else None
        if name in getattr(item, "fixturenames", ()) and defs:
            fixturedef = defs[-1]  # the definition this test gets
            where = "session" if fixturedef.scope == "session" else fixturedef.baseid
            keys.append((name, where))
    return keys


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the xdist_group marks
def pytest_collection_modifyitems(config, items):
    """Tests sharing a region (directly or through another test) form one xdist_group;
    the tests with a region go first (in their order), so that a worker starts preparing
    a region at once while others run the in-process tests."""
    parent: dict = {}

    def find(key):
        while parent.setdefault(key, key) != key:
            key = parent[key]
        return key

    uses = [(item, _region_keys(item)) for item in items]
    for _, keys in uses:
        for key in keys[1:]:
            parent[find(key)] = find(keys[0])
    for item, keys in uses:
        if keys:
            name, where = find(keys[0])
            group = f"{name}:{where}"  # no "@" in it
            item.add_marker(pytest.mark.xdist_group(group))
            if getattr(config.option, "loadgroup", False):
                _group_in_nodeid(item, group)
    items[:] = [item for item, keys in uses if keys] + [item for item, keys in uses if not keys]


def _group_in_nodeid(item, group: str) -> None:
    """--dist loadgroup schedules by the "@group" suffix of a test's id. pytest-xdist 3.8
    appends it to ``item._nodeid``, which pytest 9.2 no longer reads (the id is
    ``item._id``), so every test would be scheduled alone: append it here."""
    if "@" in item.nodeid.rsplit("]", 1)[-1] or not hasattr(item, "_id"):
        return
    from _pytest.nodeid import NodeId

    item._id = NodeId.parse(f"{item.nodeid}@{group}")


def pytest_collection_finish(session):
    for item in session.items:
        for name, where in _region_keys(item):
            if where == "session":
                _last_user[name] = item.nodeid


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    yield
    for name, last in list(_last_user.items()):
        if last == item.nodeid and name in _open_regions:
            _close_region(name)
