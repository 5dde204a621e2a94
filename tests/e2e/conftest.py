"""A real region for end-to-end tests: hub, sh and zj as separate processes on
loopback, each on its own database (SQLite files, or PostgreSQL databases in
the PostgreSQL pass)."""

from __future__ import annotations

import os
import random
import socket
import uuid

import pytest

from tongban.region import Region


def free_port_block(size: int = 5) -> int:
    for _ in range(50):
        base = random.randint(20000, 40000)
        ok = True
        for port in range(base, base + size):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no free port block")


def _running_region(root, nodes: tuple[str, ...]):
    """Prepare and start hub + ``nodes``; yields the Region, stops and cleans up after."""
    database_urls = {}
    pg = os.environ.get("TONGBAN_TEST_POSTGRES_URL")
    created = []
    if pg:
        import psycopg

        server = pg.rsplit("/", 1)[0]
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            for node in ("hub", *nodes):
                name = f"tongban_e2e_{node}_{uuid.uuid4().hex[:8]}"
                conn.execute(f'CREATE DATABASE "{name}"')
                created.append(name)
                database_urls[node] = f"{server}/{name}"
    region = Region(
        root=root,
        base_port=free_port_block(),
        nodes=nodes,
        database_urls=database_urls,
        extra_env={
            "TONGBAN_DELIVERY_LEASE_SECONDS": "3",
            "TONGBAN_BACKOFF_BASE_SECONDS": "0.2",
            "TONGBAN_BACKOFF_MAX_SECONDS": "1",
            "TONGBAN_CONFIG_POLL_SECONDS": "2",
            "TONGBAN_WORKER_IDLE_SECONDS": "0.1",
        },
    )
    try:
        region.prepare(log=lambda *_: None)
        region.start_all()
        yield region
    finally:
        region.stop_all()
        if created:
            import psycopg

            with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
                for name in created:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def live_region(tmp_path_factory):
    """hub + sh + zj."""
    yield from _running_region(tmp_path_factory.mktemp("region"), ("sh", "zj"))


@pytest.fixture(scope="session")
def full_region(tmp_path_factory):
    """hub + all four provinces (e-licences cross four nodes)."""
    yield from _running_region(tmp_path_factory.mktemp("region4"), ("sh", "js", "zj", "ah"))
