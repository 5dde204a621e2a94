"""Real regions for tests: hub and province nodes as separate processes on
loopback, each on its own database (SQLite files, or PostgreSQL databases in
the PostgreSQL pass, when TONGBAN_TEST_POSTGRES_URL is set).

Ports come from ``TONGBAN_TEST_PORTS`` (``low-high``, default 20000-32000, below
Linux's ephemeral range), so that two test runs at once — scripts/test.sh runs
the SQLite and the PostgreSQL pass side by side — never pick the same block. Under
pytest-xdist each worker takes its own slice of that range."""

from __future__ import annotations

import os
import random
import socket
import uuid

from tongban.region import Region

_handed_out: list[range] = []  # blocks given in this process (a region binds them later)


def port_range() -> tuple[int, int]:
    """This process's [low, high) slice of TONGBAN_TEST_PORTS."""
    low, high = (int(p) for p in os.environ.get("TONGBAN_TEST_PORTS", "20000-32000").split("-"))
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    if worker.startswith("gw") and count > 1:
        width = (high - low) // count
        low += int(worker[2:]) * width
        high = low + width
    return low, high


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_block(size: int = 5) -> int:
    low, high = port_range()
    for _ in range(100):
        base = random.randint(low, high - size)
        block = range(base, base + size)
        if any(block.start < r.stop and r.start < block.stop for r in _handed_out):
            continue
        if all(_bindable(port) for port in block):
            _handed_out.append(block)
            return base
    raise RuntimeError(f"no free block of {size} loopback ports in {low}-{high}")


def running_region(root, nodes: tuple[str, ...]):
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
            # the demo residents sign in in many tests of one region within the hour
            "TONGBAN_OTP_MAX_PER_HOUR": "100",
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
