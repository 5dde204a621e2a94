"""Real regions for tests: hub and province nodes as separate processes on
loopback, each on its own database (SQLite files, or PostgreSQL databases in
the PostgreSQL pass, when TONGBAN_TEST_POSTGRES_URL is set)."""

from __future__ import annotations

import os
import random
import socket
import uuid

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
