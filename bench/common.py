"""Shared helpers for the benchmarks: a real region on fresh PostgreSQL
databases, latency statistics, pgbench baselines and the JSON result files.

Everything here only ever talks to 127.0.0.1. Every loop is bounded in count
and in time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
# The server (no database name); each run creates and drops its own databases.
PG_SERVER = os.environ.get("TONGBAN_BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
PG_SERVER = PG_SERVER.rstrip("/")
_PG_HOST = urlparse(PG_SERVER).hostname or "127.0.0.1"
if _PG_HOST not in ("127.0.0.1", "localhost", "::1"):
    raise SystemExit(f"the benchmarks only talk to this machine (127.0.0.1), not {_PG_HOST}")
QINGPU = "上海市青浦区市场监督管理局"
ZJ_WINDOW = "zj-330421-01"

try:  # the installed (editable) package, or whatever PYTHONPATH points at
    import tongban as _tongban  # noqa: F401
except ImportError:  # runnable without an installed package too
    sys.path.insert(0, str(REPO / "src"))


# --- results ------------------------------------------------------------------------


def machine() -> dict:
    info = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_gb"] = round(int(line.split()[1]) / 1024 / 1024, 1)
    with contextlib.suppress(Exception):
        import psycopg

        with psycopg.connect(f"{PG_SERVER}/postgres", connect_timeout=5) as conn:
            info["postgres"] = conn.execute("SHOW server_version").fetchone()[0]
            for name in ("shared_buffers", "synchronous_commit", "max_connections"):
                info[f"postgres_{name}"] = conn.execute(f"SHOW {name}").fetchone()[0]
    return info


def write_result(name: str, data: dict) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    body = {
        "benchmark": name,
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        **data,
    }
    path.write_text(json.dumps(body, ensure_ascii=False, indent=2) + "\n")
    print(f"→ {path.relative_to(REPO)}")
    return path


def emit_result(name: str, result: dict, json_out: str = "") -> None:
    """Write ``result`` to ``json_out`` (for a parent process) or to bench/results/."""
    if json_out:
        Path(json_out).write_text(json.dumps(result, ensure_ascii=False))
    else:
        write_result(name, result)


def result_from_subprocess(script: str, args: list[str], *, label: str) -> dict:
    """Run a benchmark script in a fresh Python (Django can be set up once per process)
    with ``--json-out`` and return its result."""
    with tempfile.TemporaryDirectory(prefix=f"tongban-bench-{label}-out-") as tmp:
        out = Path(tmp) / "result.json"
        subprocess.run(
            [sys.executable, str(Path(script).resolve()), *args, "--json-out", str(out)],
            check=True,
            timeout=600,
        )
        return json.loads(out.read_text())


def percentiles(samples_s: list[float]) -> dict:
    """p50/p95/p99/mean/max in milliseconds (nearest-rank)."""
    if not samples_s:
        return {"n": 0}
    ordered = sorted(samples_s)

    def rank(p: float) -> float:
        k = max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1))
        return ordered[k]

    return {
        "n": len(ordered),
        "p50_ms": round(rank(50) * 1000, 2),
        "p95_ms": round(rank(95) * 1000, 2),
        "p99_ms": round(rank(99) * 1000, 2),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


def ratio(a: float | None, b: float | None, digits: int = 3) -> float | None:
    if not a or not b:
        return None
    return round(a / b, digits)


def table(rows: list[list], headers: list[str]) -> str:
    cells = [[str(c) for c in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(_width(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, r in enumerate(cells):
        lines.append("  ".join(c + " " * (w - _width(c)) for c, w in zip(r, widths, strict=True)))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


# --- PostgreSQL ---------------------------------------------------------------------


def pg_reachable() -> bool:
    try:
        import psycopg

        psycopg.connect(f"{PG_SERVER}/postgres", connect_timeout=5).close()
    except Exception:  # noqa: BLE001
        return False
    return True


def require_postgres() -> None:
    """Exit with a clear message when the benchmark's PostgreSQL server is not reachable."""
    if not pg_reachable():
        sys.exit("PostgreSQL is not reachable (TONGBAN_BENCH_POSTGRES); this benchmark needs it")


@contextlib.contextmanager
def scratch_databases(label: str, names: tuple[str, ...]) -> Iterator[dict[str, str]]:
    """Fresh databases ``tongban_bench_<label>_<name>_<random>``, dropped afterwards."""
    import psycopg

    created: list[str] = []
    urls: dict[str, str] = {}
    try:
        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
            for name in names:
                db = f"tongban_bench_{label}_{name}_{uuid.uuid4().hex[:8]}"
                conn.execute(f'CREATE DATABASE "{db}"')
                created.append(db)
                urls[name] = f"{PG_SERVER}/{db}"
        yield urls
    finally:
        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
            for db in created:
                conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def pgbench_path() -> str:
    found = shutil.which("pgbench")
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"), reverse=True):
        return str(candidate)
    raise FileNotFoundError("pgbench not found (install postgresql-contrib / postgresql-client)")


def _pg_args(url: str) -> tuple[list[str], dict[str, str]]:
    u = urlparse(url)
    args = [
        "-h",
        u.hostname or "127.0.0.1",
        "-p",
        str(u.port or 5432),
        "-U",
        u.username or "postgres",
    ]
    env = dict(os.environ)
    if u.password:
        env["PGPASSWORD"] = u.password
    return args, env


def pgbench_baseline(
    client_counts: list[int],
    *,
    seconds: int = 8,
    scale: int | None = None,
    select_only: bool = True,
) -> dict:
    """TPC-B-like (and select-only) pgbench runs on a scratch database; tps per client count.

    Scale defaults to the largest client count so that TPC-B's per-branch row
    locks do not serialise the clients artificially.
    """
    exe = pgbench_path()
    scale = scale or max(client_counts)
    out: dict = {"pgbench": exe, "scale": scale, "seconds": seconds, "tpcb": {}, "select_only": {}}
    with scratch_databases("pgbench", ("pgbench",)) as urls:
        url = urls["pgbench"]
        conn_args, env = _pg_args(url)
        db = url.rsplit("/", 1)[1]
        t0 = time.monotonic()
        subprocess.run(
            [exe, *conn_args, "-i", "-q", "-s", str(scale), db],
            env=env,
            check=True,
            capture_output=True,
            text=True,
            timeout=300,
        )
        out["init_seconds"] = round(time.monotonic() - t0, 1)
        modes = [("tpcb", [])] + ([("select_only", ["-S"])] if select_only else [])
        for mode, extra in modes:
            for clients in client_counts:
                result = subprocess.run(
                    [
                        exe,
                        *conn_args,
                        "-n",
                        "-c",
                        str(clients),
                        "-j",
                        str(min(clients, 2)),
                        "-T",
                        str(seconds),
                        *extra,
                        db,
                    ],
                    env=env,
                    check=True,
                    capture_output=True,
                    text=True,
                    timeout=seconds + 120,
                )
                out[mode][str(clients)] = _pgbench_parse(result.stdout)
                print(
                    f"  pgbench {mode:<11} -c {clients}: {out[mode][str(clients)]['tps']:.0f} tps, "
                    f"{out[mode][str(clients)]['latency_ms']} ms avg"
                )
    return out


def _pgbench_parse(text: str) -> dict:
    tps = latency = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("tps =") and tps is None:
            tps = float(line.split("=", 1)[1].split()[0])
        elif line.startswith("latency average ="):
            latency = float(line.split("=", 1)[1].split()[0])
    if tps is None:
        raise RuntimeError(f"could not read pgbench output:\n{text}")
    return {"tps": round(tps, 1), "latency_ms": latency}


# --- the region ---------------------------------------------------------------------


def free_port_block(size: int = 5) -> int:
    rng = random.Random()
    for _ in range(100):
        base = rng.randint(20000, 40000)
        ok = True
        for port in range(base, base + size):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    ok = False
                    break
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no free port block")


@contextlib.contextmanager
def bench_region(
    label: str,
    *,
    web_workers: int = 2,
    web_threads: int = 4,
    extra_env: dict[str, str] | None = None,
    start: bool = True,
    keep: bool = False,
    database: str = "postgres",
) -> Iterator:
    """hub + sh + zj as real processes on fresh PostgreSQL databases (or SQLite files) in a temp dir."""
    from tongban.region import Region

    root = Path(tempfile.mkdtemp(prefix=f"tongban-bench-{label}-"))
    databases = (
        scratch_databases(label, ("hub", "sh", "zj"))
        if database == "postgres"
        else contextlib.nullcontext({})
    )
    with databases as urls:
        region = Region(
            root=root,
            base_port=free_port_block(),
            nodes=("sh", "zj"),
            database_urls=urls,
            web_workers=web_workers,
            web_threads=web_threads,
            extra_env={"TONGBAN_LOG_LEVEL": "WARNING", **(extra_env or {})},
        )
        try:
            t0 = time.monotonic()
            region.prepare(log=lambda *_: None)
            region.prepare_seconds = round(time.monotonic() - t0, 1)
            if start:
                region.start_all()
            yield region
        finally:
            region.stop_all()
            if not keep:
                shutil.rmtree(root, ignore_errors=True)


def set_worker_idle(region, seconds: float | None, nodes: tuple[str, ...] = ("zj",)) -> None:
    """Restart the workers of ``nodes`` with another idle poll interval (None: the default)."""
    for node in nodes:
        region.stop(node, web=False)
    if seconds is None:
        region.extra_env.pop("TONGBAN_WORKER_IDLE_SECONDS", None)
    else:
        region.extra_env["TONGBAN_WORKER_IDLE_SECONDS"] = str(seconds)
    for node in nodes:
        region.start(node, web=False)


def sqlite_node(data_dir: Path) -> None:
    """Django in this process as node sh on a SQLite file in ``data_dir``, migrated
    (whatever the caller's environment says)."""
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "tongban.settings",
            "TONGBAN_NODE": "sh",
            "TONGBAN_DATA_DIR": str(data_dir),
            "TONGBAN_BASE_URL": "http://127.0.0.1:8001",
            "DATABASE_URL": f"sqlite:///{data_dir / 'db.sqlite3'}",
            "TONGBAN_LOG_LEVEL": "WARNING",
        }
    )
    for name in ("TONGBAN_KEY_DIR", "TONGBAN_MEDIA_DIR"):
        os.environ.pop(name, None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


# --- cross-node delivery --------------------------------------------------------------

# A delivery's phases, from the sending node's outbox timestamps:
#   queued      request_out_at  − created_at       waiting for the sender's worker
#   request     request_in_at   − request_out_at   HTTP to the receiver, up to its inbox view
#   processing  response_out_at − request_in_at    the receiver verifies, applies, signs
#   response    response_in_at  − response_out_at  the receiver commits and answers
#   visible     seen by the benchmark − response_in_at
PHASES = ("queued", "request", "processing", "response", "visible")


def timestamp(value: str | None) -> float | None:
    """An API timestamp (ISO 8601) as seconds since the epoch."""
    if not value:
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def add_phases(phases: dict[str, list[float]], outbox_row: dict | None, visible: float) -> None:
    """Append one delivered outbox row's phase durations to ``phases`` (keyed by PHASES);
    rows not delivered or without all their timestamps are passed over."""
    if not outbox_row or outbox_row["status"] != "delivered":
        return
    stamps = [
        timestamp(outbox_row[k])
        for k in (
            "created_at",
            "request_out_at",
            "request_in_at",
            "response_out_at",
            "response_in_at",
        )
    ]
    if None in stamps:
        return
    created, out_, in_, resp_out, resp_in = stamps
    phases["queued"].append(out_ - created)
    phases["request"].append(in_ - out_)
    phases["processing"].append(resp_out - in_)
    phases["response"].append(resp_in - resp_out)
    phases["visible"].append(visible - resp_in)


class Timeout(TimeoutError):
    pass


def wait_until(fn, *, poll: float, timeout: float, what: str):
    """Call ``fn`` every ``poll`` s until it returns something true; (value, polls)."""
    deadline = time.monotonic() + timeout
    polls = 0
    while True:
        polls += 1
        value = fn()
        if value:
            return value, polls
        if time.monotonic() > deadline:
            raise Timeout(f"{what} not visible within {timeout} s")
        time.sleep(poll)


def measured_pass(region, measure, *, units: str, max_wait: float = 15) -> tuple[dict, float]:
    """One pass of ``measure()`` once the machine is quiet: its result with the CPU cost
    per unit (``result[units]`` units) under "cpu" and the machine's state before it under
    "machine"; and the pass's wall-clock seconds."""
    quiet = wait_quiet(max_wait=max_wait)
    before = cpu_snapshot(region)
    t0 = time.monotonic()
    p = measure()
    wall = time.monotonic() - t0
    p["cpu"] = cpu_delta(before, cpu_snapshot(region), units=p[units], wall=wall)
    p["machine"] = quiet
    return p, wall


def own_region(label: str, **region_options):
    """For a benchmark's ``run(region, **options)``: called without a region (or with
    None), it runs in a fresh region of its own (``bench_region(label, …)``), stopped
    afterwards; run_all passes the region it shares."""

    def decorate(run):
        @functools.wraps(run)
        def with_region(region=None, **options):
            if region is not None:
                return run(region, **options)
            with bench_region(label, **region_options) as own:
                return run(own, **options)

        return with_region

    return decorate


class Intake:
    """POST /api/v1/cases at the 嘉善 (zj) window for 青浦 (sh) to decide — the demo's flow 1."""

    def __init__(self, region):
        from tongban.demo_seed import ESTABLISHMENT
        from tongban.identity.demo_accounts import DEMO_PASSWORD
        from tongban.region import ApiClient

        self.region = region
        self.item_code = ESTABLISHMENT
        self.password = DEMO_PASSWORD
        probe = ApiClient(region.url("zj"), "jiashan.clerk", DEMO_PASSWORD)
        self.item = probe.get(f"/items/{ESTABLISHMENT}").json()
        self.organization = next(
            i["organization"]
            for i in self.item["implementations"]
            if i["organization_name"] == QINGPU
        )
        self.token_header = probe.http.headers["Authorization"]

    def client(self, node: str = "zj", username: str = "jiashan.clerk"):
        """A fresh HTTP session (one per thread) with its own bearer token."""
        from tongban.region import ApiClient

        return ApiClient(self.region.url(node), username, self.password)

    def body(self, i: int) -> dict:
        from tongban.demo_seed import form_payload, material_payload

        applicant = applicant_for(i)
        company = f"嘉善示例{i:06d}科技有限公司"
        return {
            "window": ZJ_WINDOW,
            "item": self.item_code,
            "organization": self.organization,
            "applicant": applicant,
            "form": form_payload(self.item, applicant, company),
            "materials": material_payload(self.item),
        }


SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨"
GIVEN = ["一鸣", "思远", "雨桐", "浩然", "佳怡", "子涵", "梓萱", "俊杰"]


def applicant_for(i: int, region: str = "330421") -> dict:
    """A distinct, valid (invented) resident ID for any i < 7,000,000 (born 1985–2004)."""
    from stdnum.cn import ric

    day = dt.date(1985, 1, 1) + dt.timedelta(days=(i // 1000) % 7000)
    base = f"{region}{day:%Y%m%d}{i % 1000:03d}"
    return {
        "name": SURNAMES[i % len(SURNAMES)] + GIVEN[i % len(GIVEN)],
        "id_number": base + ric.calc_check_digit(base + "0"),
        "phone": f"139{i % 10**8:08d}",
    }


def git_revision() -> str:
    import tongban

    source = Path(tongban.__file__).resolve().parent.parent
    if source != REPO / "src":
        return f"source at {source}"
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "src"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return rev + ("+dirty-src" if dirty else "")


# --- CPU accounting -----------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command may contain spaces and parentheses: split after the last ')'
    return text[text.rindex(")") + 2 :].split()


def _cpu_seconds(fields: list[str], *, children: bool = False) -> float:
    # fields[0] is state (stat field 3): utime is field 14 → index 11, stime 12, cutime 13, cstime 14
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / _TICK


def cpu_snapshot(region=None) -> dict[str, float]:
    """CPU seconds used so far: per region process group, PostgreSQL, this process, the machine.

    A gunicorn master and its workers share a process group (the region starts
    each in its own session); PostgreSQL counts the live backends plus what the
    postmaster has reaped from exited ones.
    """
    groups: dict[int, str] = {}
    if region is not None:
        for name, proc in region.processes.items():
            if proc.poll() is None:
                groups[proc.pid] = name
    out: dict[str, float] = {name: 0.0 for name in groups.values()}
    out["postgres"] = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _proc_stat(int(entry.name))
        if fields is None:
            continue
        ppid, pgid = int(fields[1]), int(fields[2])
        name = groups.get(pgid)
        if name is not None:
            out[name] += _cpu_seconds(fields)
            continue
        try:
            comm = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if comm == "postgres":
            out["postgres"] += _cpu_seconds(fields, children=(ppid == 1))
    usage = os.times()
    out["bench_client"] = usage.user + usage.system
    cpu = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(v) for v in cpu]
    out["_machine_busy"] = (sum(values) - values[3] - values[4]) / _TICK  # minus idle and iowait
    out["_machine_total"] = sum(values) / _TICK
    return out


def cpu_delta(
    before: dict[str, float], after: dict[str, float], *, units: int, wall: float
) -> dict:
    """CPU milliseconds per unit of work by component, and how busy the machine was."""
    per_unit = {}
    for name, value in after.items():
        if name.startswith("_"):
            continue
        used = value - before.get(name, 0.0)  # a process started meanwhile counts from zero
        if used > 0.0005 * max(units, 1):
            per_unit[name] = round(used * 1000 / max(units, 1), 2)
    busy = after["_machine_busy"] - before["_machine_busy"]
    total = after["_machine_total"] - before["_machine_total"]
    accounted = sum(after[n] - before.get(n, 0.0) for n in after if not n.startswith("_"))
    return {
        "cpu_ms_per_unit": dict(sorted(per_unit.items(), key=lambda kv: -kv[1])),
        "cpu_ms_per_unit_total": round(sum(per_unit.values()), 2),
        "machine_busy_fraction": round(busy / total, 3) if total else None,
        "cores_busy": round(busy / wall, 2) if wall else None,
        # CPU used by anything else on the machine (other users' tests, the kernel…)
        "other_cores_busy": round(max(busy - accounted, 0) / wall, 2) if wall else None,
    }


def machine_load(seconds: float = 1.0) -> float:
    """Cores busy over a short interval."""
    a = cpu_snapshot()
    time.sleep(seconds)
    b = cpu_snapshot()
    return round((b["_machine_busy"] - a["_machine_busy"]) / seconds, 2)


# How long to wait for other work on the machine to finish before a measurement
# (run_all lowers it to stay within its time budget).
QUIET_WAIT = {"seconds": float(os.environ.get("TONGBAN_BENCH_QUIET_WAIT", "10"))}


def wait_quiet(*, max_wait: float | None = None, threshold: float = 0.3) -> dict:
    """Wait (bounded) until the machine is nearly idle; report what we found."""
    max_wait = QUIET_WAIT["seconds"] if max_wait is None else min(max_wait, QUIET_WAIT["seconds"])
    t0 = time.monotonic()
    load = machine_load(0.5)
    while load > threshold and time.monotonic() - t0 < max_wait:
        load = machine_load(0.5)
    waited = round(time.monotonic() - t0, 1)
    if load > threshold:
        print(f"  note: the machine is busy with other work ({load} cores) — figures will be lower")
    return {"cores_busy_before_start": load, "waited_seconds": waited}


class PgActivitySampler:
    """Samples pg_stat_activity of some databases every ``interval`` s in a thread.

    Reports, per sample on average, how many client backends were running a
    statement, waiting for a lock (and on which table's ``FOR UPDATE``), or
    idle inside a transaction (the application holding a transaction open
    while Python works) — evidence for where concurrent requests queue.
    """

    def __init__(
        self, database_urls: dict[str, str], *, interval: float = 0.05, max_seconds: float = 600
    ):
        import threading

        self.names = {url.rsplit("/", 1)[1]: node for node, url in database_urls.items()}
        self.interval, self.max_seconds = interval, max_seconds
        self.stop_event = threading.Event()
        self.samples = 0
        self.counts: dict[str, dict[str, float]] = {}
        self.lock_tables: dict[str, dict[str, int]] = {}
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import re

        import psycopg

        deadline = time.monotonic() + self.max_seconds
        table_re = re.compile(r'FROM\s+"(\w+)"', re.IGNORECASE)
        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
            while not self.stop_event.is_set() and time.monotonic() < deadline:
                rows = conn.execute(
                    "SELECT datname, state, wait_event_type, wait_event, query FROM pg_stat_activity "
                    "WHERE datname = ANY(%s) AND backend_type = 'client backend' "
                    "AND pid <> pg_backend_pid()",
                    [list(self.names)],
                ).fetchall()
                self.samples += 1
                for datname, state, wtype, wevent, query in rows:
                    node = self.names[datname]
                    c = self.counts.setdefault(node, {})
                    if state == "idle in transaction":
                        key = "idle_in_transaction"
                    elif state == "active" and wtype == "Lock":
                        key = "waiting_for_lock"
                        m = table_re.search(query or "")
                        tables = self.lock_tables.setdefault(node, {})
                        name = m.group(1) if m else (wevent or "?")
                        tables[name] = tables.get(name, 0) + 1
                    elif state == "active" and wtype in ("IO", "LWLock"):
                        key = f"active_{wtype.lower()}_{(wevent or '').lower()}"
                    elif state == "active":
                        key = "active"
                    else:
                        continue
                    c[key] = c.get(key, 0) + 1
                self.stop_event.wait(self.interval)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        self.thread.join(timeout=10)

    def report(self) -> dict:
        n = max(self.samples, 1)
        return {
            "samples": self.samples,
            "mean_backends": {
                node: {k: round(v / n, 2) for k, v in sorted(c.items())}
                for node, c in self.counts.items()
            },
            "lock_waits_by_table": {
                node: {t: round(v / n, 2) for t, v in sorted(c.items(), key=lambda kv: -kv[1])}
                for node, c in self.lock_tables.items()
            },
        }
