"""A whole region on one machine: the hub and province nodes as separate
processes (web server + worker each), each with its own database, talking
real HTTP on loopback. Used by ``tongban demo``, the end-to-end tests and
the benchmarks.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

PROVINCES = ("sh", "js", "zj", "ah")
ORDER = ("hub", *PROVINCES)


@dataclass
class Region:
    root: Path
    base_port: int = 8000
    nodes: tuple[str, ...] = PROVINCES
    database_urls: dict[str, str] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)
    node_env: dict[str, dict[str, str]] = field(default_factory=dict)  # per-node overrides
    web_workers: int = 1
    web_threads: int = 4
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def port(self, node: str) -> int:
        return self.base_port + ORDER.index(node)

    def url(self, node: str) -> str:
        return f"http://127.0.0.1:{self.port(node)}"

    def env(self, node: str) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("DATABASE_URL", None)
        env.update(
            TONGBAN_NODE=node,
            TONGBAN_DATA_DIR=str(self.root / node),
            TONGBAN_BASE_URL=self.url(node),
            TONGBAN_HUB_URL=self.url("hub"),
            DJANGO_SETTINGS_MODULE="tongban.settings",
            PYTHONUNBUFFERED="1",
        )
        if node in self.database_urls:
            env["DATABASE_URL"] = self.database_urls[node]
        env.update(self.extra_env)
        env.update(self.node_env.get(node, {}))
        return env

    def manage(self, node: str, *args: str, timeout: float = 300) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "tongban.cli", *args],
            env=self.env(node),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"[{node}] tongban {' '.join(args)} failed:\n{result.stderr[-3000:]}"
            )
        return result.stdout

    # --- preparation ---------------------------------------------------------------

    @property
    def prepared_marker(self) -> Path:
        return self.root / "prepared.json"

    def is_prepared(self) -> bool:
        return self.prepared_marker.exists()

    def prepare(self, log=print) -> None:
        """Idempotent: databases, keys, registrations, trust, configuration, accounts."""
        self.root.mkdir(parents=True, exist_ok=True)
        log("· 枢纽 hub: database, signing key, directory, catalog")
        hub = json.loads(
            self.manage(
                "hub", "hub-init", *[f"--node={n}={self.url(n)}" for n in PROVINCES]
            ).strip()
        )
        for node in self.nodes:
            log(f"· {node}: database, signing key, trust in the hub key")
            key = json.loads(
                self.manage(
                    node,
                    "prepare-node",
                    "--hub-kid",
                    hub["hub_kid"],
                    "--hub-public-key",
                    hub["hub_public_key"],
                )
                .strip()
                .splitlines()[-1]
            )
            self.manage(
                "hub",
                "node-key-add",
                "--node",
                node,
                "--kid",
                key["kid"],
                "--public-key",
                key["public_key"],
                "--oidc-issuer",
                key["oidc_issuer"],
                "--oidc-jwks",
                json.dumps(key["oidc_jwks"]),
            )
        self.start("hub", worker=False)
        try:
            self.manage("hub", "demo-accounts")  # the hub's operator
            for node in self.nodes:
                log(f"· {node}: global configuration, catalog, demo accounts")
                self.manage(node, "config-sync")
                # sample rows of the node's datasets, e.g. its 企业登记信息 (data-sharing.md §7)
                self.manage(node, "sharing-samples")
                self.manage(node, "demo-accounts")
        finally:
            self.stop("hub")
        self.prepared_marker.write_text(json.dumps({"nodes": list(self.nodes), "hub": hub}))

    # --- processes -------------------------------------------------------------------

    def _spawn(self, name: str, node: str, args: list[str]) -> None:
        logs = self.root / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        out = open(logs / f"{name}.log", "ab")  # noqa: SIM115 — owned by the child process
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "tongban.cli", *args],
            env=self.env(node),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start(self, node: str, *, web: bool = True, worker: bool = True, wait: bool = True) -> None:
        if web and f"{node}-web" not in self.processes:
            self._spawn(
                f"{node}-web",
                node,
                [
                    "serve",
                    "--port",
                    str(self.port(node)),
                    "--workers",
                    str(self.web_workers),
                    "--threads",
                    str(self.web_threads),
                ],
            )
        if worker and f"{node}-worker" not in self.processes:
            self._spawn(f"{node}-worker", node, ["worker"])
        if web and wait:
            self.wait_healthy(node)

    def start_all(self) -> None:
        for node in ("hub", *self.nodes):
            self.start(node, wait=False)
        for node in ("hub", *self.nodes):
            self.wait_healthy(node)

    def wait_healthy(self, node: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            proc = self.processes.get(f"{node}-web")
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(
                    f"{node} web server exited ({proc.returncode}); see {self.root}/logs"
                )
            try:
                response = requests.get(f"{self.url(node)}/api/v1/health", timeout=2)
                if response.status_code == 200:
                    return response.json()
            except requests.RequestException as exc:
                last = exc
            time.sleep(0.2)
        raise TimeoutError(f"{node} not healthy after {timeout}s: {last}")

    def stop(self, node: str, *, web: bool = True, worker: bool = True, sig=signal.SIGTERM) -> None:
        names = [n for n, on in ((f"{node}-web", web), (f"{node}-worker", worker)) if on]
        for name in names:
            proc = self.processes.pop(name, None)
            if proc is None or proc.poll() is not None:
                continue
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                continue
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def stop_all(self) -> None:
        for node in reversed(("hub", *self.nodes)):
            self.stop(node)

    def last_sms_code(self, node: str) -> str:
        """The newest code the console SMS backend printed in ``node``'s web log."""
        import re

        text = (self.root / "logs" / f"{node}-web.log").read_text(
            encoding="utf-8", errors="replace"
        )
        codes = re.findall(r"验证码为 (\d{6})", text)
        if not codes:
            raise LookupError(f"no SMS code in {node}'s log")
        return codes[-1]

    def kill_worker(self, node: str) -> None:
        """Kill -9 (no clean shutdown), as a crash would."""
        self.stop(node, web=False, sig=signal.SIGKILL)


class ApiClient:
    """A small JSON client for one node's /api/v1 with a bearer token.

    Residents sign in with a one-time SMS code: ``otp`` is called to read it
    (e.g. ``lambda: region.last_sms_code("zj")``) when the node asks for one.
    """

    def __init__(
        self,
        base_url: str,
        username: str | None = None,
        password: str | None = None,
        otp=None,
        scopes: list[str] | None = None,
    ):
        self.base = base_url.rstrip("/") + "/api/v1"
        self.http = requests.Session()
        if username:
            body = {
                "username": username,
                "password": password,
                "name": "client",
                "scopes": scopes or [],
            }
            r = self.http.post(f"{self.base}/auth/tokens", json=body, timeout=30)
            if r.status_code == 202 and otp is not None:
                r = self.http.post(
                    f"{self.base}/auth/tokens", json={**body, "otp": otp()}, timeout=30
                )
            r.raise_for_status()
            self.http.headers["Authorization"] = f"Bearer {r.json()['token']}"

    def get(self, path: str, **params):
        return self.http.get(self.base + path, params=params, timeout=30)

    def post(self, path: str, body: dict):
        return self.http.post(self.base + path, json=body, timeout=60)
