"""Case intake through the HTTP API on PostgreSQL, with concurrent clients.

A real region (hub + sh + zj as separate gunicorn/worker processes, each on
its own fresh PostgreSQL database) takes ``POST /api/v1/cases`` at the 嘉善
window (zj, ``jiashan.clerk``) for 内资有限公司设立登记 decided by 上海市青浦区
市场监督管理局 (sh) — flow 1 of the demo, with the item's five required
materials (small PDFs/PNGs) in the body.

Two passes per client count:

* ``worker_stopped`` — the zj worker is stopped, so intake is measured alone
  (the envelopes pile up in the zj outbox; the time the worker then takes to
  drain that backlog is reported as the delivery throughput);
* ``worker_running`` — the zj worker delivers while clients submit (sh's web
  server verifies and applies each envelope on the same two cores).

The sh worker runs throughout (it sends sh's ``received`` event back to zj
for every case it receives).

Also recorded: CPU milliseconds per case by process (/proc), PostgreSQL
backends waiting for locks (pg_stat_activity sampled every 50 ms), and the SQL
statements one intake runs (Django's test client under the zj environment).

Baselines from the same run: pgbench TPC-B-like and select-only on a scratch
database with the same client counts, and ``GET /api/v1/health`` on the zj
web server with the same clients (the Django/gunicorn floor).

    .venv/bin/python bench/case_intake.py [--clients 1,4,8] [--cases 200] [--seconds 30]
    .venv/bin/python bench/case_intake.py --sweep-web-workers 1,2,3   # gunicorn workers at zj
    .venv/bin/python bench/case_intake.py --database sqlite --no-pgbench
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import requests  # noqa: E402
from common import (  # noqa: E402
    Intake,
    PgActivitySampler,
    bench_region,
    cpu_delta,
    cpu_snapshot,
    git_revision,
    percentiles,
    pgbench_baseline,
    ratio,
    require_postgres,
    table,
    wait_quiet,
    write_result,
)

NAME = "case_intake"


def run_load(
    make_client,
    request,
    *,
    clients: int,
    total: int,
    seconds: float,
    first_index: int = 0,
    region=None,
) -> dict:
    """``clients`` threads share a budget of ``total`` requests and a deadline."""
    lock = threading.Lock()
    state = {"next": 0}
    latencies: list[float] = []
    errors: dict[str, int] = {}
    examples: list[str] = []
    sessions = [make_client() for _ in range(clients)]
    barrier = threading.Barrier(clients + 1)
    deadline_box: list[float] = []

    def worker(n: int) -> None:
        session = sessions[n]
        barrier.wait()
        deadline = deadline_box[0]
        while True:
            with lock:
                if state["next"] >= total or time.perf_counter() >= deadline:
                    return
                i = state["next"]
                state["next"] += 1
            t0 = time.perf_counter()
            try:
                ok, code = request(session, first_index + i)
            except requests.RequestException as exc:
                ok, code = False, exc.__class__.__name__
                with lock:
                    if len(examples) < 3:
                        examples.append(f"{exc.__class__.__name__}: {exc}"[:300])
            elapsed = time.perf_counter() - t0
            with lock:
                if ok:
                    latencies.append(elapsed)
                else:
                    errors[str(code)] = errors.get(str(code), 0) + 1

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(clients)]
    for t in threads:
        t.start()
    sampler = PgActivitySampler(region.database_urls) if region is not None else None
    if sampler:
        sampler.__enter__()
    cpu_before = cpu_snapshot(region)
    start = time.perf_counter()
    deadline_box.append(start + seconds)
    barrier.wait()
    for t in threads:
        t.join(timeout=seconds + 120)
    wall = time.perf_counter() - start
    if sampler:
        sampler.__exit__(None, None, None)
    cpu = cpu_delta(cpu_before, cpu_snapshot(region), units=len(latencies), wall=wall)
    return {
        "clients": clients,
        "completed": len(latencies),
        "errors": errors,
        "error_examples": examples,
        "wall_seconds": round(wall, 2),
        "per_second": round(len(latencies) / wall, 2) if wall else None,
        "latency": percentiles(latencies),
        "cpu": cpu,
        "postgres_activity": sampler.report() if sampler else None,
    }


# Runs under the zj node's environment: one intake through Django's test client,
# counting the SQL statements it runs (no HTTP server involved).
QUERY_COUNT = textwrap.dedent(r"""
    import json, sys
    import django
    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    username, password, body = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    client = Client()
    r = client.post("/api/v1/auth/tokens", {"username": username, "password": password,
                    "name": "bench"}, content_type="application/json")
    token = r.json()["token"]
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    client.post("/api/v1/cases", body, content_type="application/json", **headers)  # warm
    body["form"]["company_name"] = body["form"].get("company_name", "") + "二"
    with CaptureQueriesContext(connection) as ctx:
        r = client.post("/api/v1/cases", body, content_type="application/json", **headers)
    kinds = {}
    for q in ctx.captured_queries:
        verb = q["sql"].lstrip().split(" ", 1)[0].upper()
        kinds[verb] = kinds.get(verb, 0) + 1
    print(json.dumps({"status": r.status_code, "statements": len(ctx.captured_queries),
                      "by_kind": kinds}))
""")


def queries_per_intake(region, intake, index: int) -> dict:
    """SQL statements of one POST /api/v1/cases (Django test client under the zj environment)."""
    try:
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                QUERY_COUNT,
                "jiashan.clerk",
                intake.password,
                json.dumps(intake.body(index)),
            ],
            env=region.env("zj"),
            capture_output=True,
            text=True,
            timeout=120,
        )
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError) as exc:
        return {"error": f"{exc.__class__.__name__}: {exc}"}


def outbox_pending(admin) -> int:
    rows = admin.get("/exchange/outbox", status="pending", limit=500).json()
    return len(rows)


def wait_drained(admin, *, timeout: float = 180) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if outbox_pending(admin) == 0:
            return time.monotonic() - t0
        time.sleep(0.1)
    raise TimeoutError("the zj outbox did not drain")


def run(
    region=None,
    *,
    clients=(1, 4, 8),
    cases: int = 200,
    seconds: float = 30,
    health_requests: int = 400,
    web_workers: int = 2,
    web_threads: int = 4,
    modes=("worker_stopped", "worker_running"),
    database: str = "postgres",
    sweep_web_workers=(),
) -> dict:
    if region is None:
        with bench_region(
            "intake", web_workers=web_workers, web_threads=web_threads, database=database
        ) as own:
            return run(
                own,
                clients=clients,
                cases=cases,
                seconds=seconds,
                health_requests=health_requests,
                modes=modes,
                sweep_web_workers=sweep_web_workers,
            )
    clients = list(clients)
    print(
        f"case intake: clients {clients}, ≤{cases} cases or ≤{seconds:.0f} s per pass, "
        f"gunicorn {region.web_workers}×{region.web_threads} per node"
    )
    intake = Intake(region)
    from tongban.identity.demo_accounts import DEMO_PASSWORD
    from tongban.region import ApiClient

    admin = ApiClient(region.url("zj"), "zj.admin", DEMO_PASSWORD)
    index = {"next": 3_000_000}  # applicants distinct from the other benchmarks

    def submit(client, i):
        r = client.http.post(client.base + "/cases", json=intake.body(i), timeout=60)
        return r.status_code == 201, r.status_code

    def health(session, _i):
        r = session.get(f"{region.url('zj')}/api/v1/health", timeout=10)
        return r.status_code == 200, r.status_code

    # warm-up: every gunicorn worker/thread imports its views and opens its connection
    warm = run_load(
        intake.client,
        submit,
        clients=max(clients),
        total=max(clients) * 3,
        seconds=30,
        first_index=index["next"],
    )
    index["next"] += 10_000
    if warm["errors"]:
        raise RuntimeError(f"warm-up failed: {warm['errors']}")

    result: dict = {
        "revision": git_revision(),
        "setup": {
            "nodes": ["hub", "sh", "zj"],
            "database": (
                "postgresql (one fresh database per node)"
                if region.database_urls
                else "sqlite (one file per node)"
            ),
            "web_workers": region.web_workers,
            "web_threads": region.web_threads,
            "case_budget_per_pass": cases,
            "seconds_budget_per_pass": seconds,
            "materials_per_case": len(intake.body(0)["materials"]),
            "request_body_bytes": len(json.dumps(intake.body(0)).encode()),
            "sh_worker": "running (it sends sh's events, e.g. 'received', back to zj)",
            "region_prepare_seconds": getattr(region, "prepare_seconds", None),
        },
        "health": {},
        "passes": {},
        "drain": {},
    }

    result["queries_per_intake"] = queries_per_intake(region, intake, index["next"])
    index["next"] += 10
    print(
        f"  one intake runs {result['queries_per_intake'].get('statements')} SQL statements "
        f"{result['queries_per_intake'].get('by_kind')}"
    )
    print("baseline: GET /api/v1/health on zj")
    for c in clients:
        h = run_load(
            requests.Session, health, clients=c, total=health_requests, seconds=15, region=region
        )
        result["health"][str(c)] = h
        print(f"  health -c {c}: {h['per_second']:.0f} req/s, p50 {h['latency'].get('p50_ms')} ms")

    for mode in modes:
        if mode == "worker_stopped":
            region.stop("zj", web=False)
        else:
            region.start("zj", web=False)
            wait_drained(admin)
        result["passes"][mode] = {}
        for c in clients:
            quiet = wait_quiet()
            p = run_load(
                intake.client,
                submit,
                clients=c,
                total=cases,
                seconds=seconds,
                first_index=index["next"],
                region=region,
            )
            index["next"] += 10_000
            p["backlog_after"] = outbox_pending(admin)
            p["machine"] = quiet
            result["passes"][mode][str(c)] = p
            print(
                f"  intake {mode:<14} -c {c}: {p['per_second']:.1f} cases/s, p50 "
                f"{p['latency'].get('p50_ms')} ms, p95 {p['latency'].get('p95_ms')} ms, "
                f"p99 {p['latency'].get('p99_ms')} ms, errors {p['errors'] or 0}, "
                f"zj outbox backlog {p['backlog_after']}"
            )
            print(
                f"      CPU ms/case {p['cpu']['cpu_ms_per_unit']} (machine "
                f"{p['cpu']['cores_busy']} of 2 cores busy, {p['cpu']['other_cores_busy']} by "
                f"others); zj backends {p['postgres_activity']['mean_backends'].get('zj')}"
            )
        if mode == "worker_stopped":
            # every case submitted while the worker was stopped is waiting (the outbox
            # API's page would cap the count at 500)
            backlog = sum(p["completed"] for p in result["passes"][mode].values())
            before = cpu_snapshot(region)
            region.start("zj", web=False)
            t = wait_drained(admin)
            cpu = cpu_delta(before, cpu_snapshot(region), units=backlog, wall=t)
            result["drain"] = {
                "cases": backlog,
                "seconds": round(t, 2),
                "cases_per_second": round(backlog / t, 1) if t else None,
                "cpu": cpu,
                "note": "one zj worker delivering its case.submit backlog sequentially to sh "
                "(sh's worker sends a 'received' event back to zj for each meanwhile)",
            }
            print(
                f"  zj worker delivered its backlog of {backlog} cases in {t:.1f} s "
                f"({result['drain']['cases_per_second']} cases/s); CPU ms/case "
                f"{cpu['cpu_ms_per_unit']} ({cpu['cores_busy']} cores busy)"
            )
    region.start("zj", web=False)  # leave the region as found

    if sweep_web_workers:
        # the same worker_stopped passes with the zj web server restarted with other
        # gunicorn worker counts (threads unchanged)
        original = region.web_workers
        result["web_workers_sweep"] = {}
        wait_drained(admin)
        region.stop("zj", web=False)
        for w in sweep_web_workers:
            region.web_workers = w
            region.stop("zj", worker=False)
            region.start("zj", worker=False)
            run_load(
                intake.client,
                submit,
                clients=max(clients),
                total=max(clients) * 3,
                seconds=30,
                first_index=index["next"],
            )
            index["next"] += 10_000
            result["web_workers_sweep"][str(w)] = {}
            for c in clients:
                quiet = wait_quiet()
                p = run_load(
                    intake.client,
                    submit,
                    clients=c,
                    total=cases,
                    seconds=seconds,
                    first_index=index["next"],
                    region=region,
                )
                index["next"] += 10_000
                p["machine"] = quiet
                result["web_workers_sweep"][str(w)][str(c)] = p
                print(
                    f"  zj gunicorn {w}×{region.web_threads}, worker stopped, -c {c}: "
                    f"{p['per_second']:.1f} cases/s, p50 {p['latency'].get('p50_ms')} ms, "
                    f"p95 {p['latency'].get('p95_ms')} ms ({p['cpu']['other_cores_busy']} "
                    "cores busy with other work)"
                )
        region.web_workers = original
        region.stop("zj", worker=False)
        region.start("zj")
        wait_drained(admin, timeout=600)
    return result


def add_baselines(result: dict, pgbench: dict | None) -> dict:
    result["pgbench"] = pgbench
    rows = []
    for mode, passes in result["passes"].items():
        for c, p in passes.items():
            tpcb = (pgbench or {}).get("tpcb", {}).get(c, {}).get("tps")
            sel = (pgbench or {}).get("select_only", {}).get(c, {}).get("tps")
            health = result["health"].get(c, {}).get("per_second")
            p["ratio_to_pgbench_tpcb"] = ratio(p["per_second"], tpcb, 4)
            p["ratio_to_pgbench_select_only"] = ratio(p["per_second"], sel, 5)
            p["ratio_to_health_rps"] = ratio(p["per_second"], health, 4)
            rows.append(
                [
                    mode,
                    c,
                    p["per_second"],
                    p["latency"].get("p50_ms"),
                    p["latency"].get("p95_ms"),
                    p["latency"].get("p99_ms"),
                    tpcb,
                    p["ratio_to_pgbench_tpcb"],
                    health,
                    p["ratio_to_health_rps"],
                ]
            )
    result["table"] = table(
        rows,
        [
            "pass",
            "clients",
            "cases/s",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "pgbench tps",
            "÷pgbench",
            "health req/s",
            "÷health",
        ],
    )
    return result


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="1,4,8")
    parser.add_argument("--cases", type=int, default=200, help="case budget per pass")
    parser.add_argument("--seconds", type=float, default=30, help="time budget per pass")
    parser.add_argument("--pgbench-seconds", type=int, default=10)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=4)
    parser.add_argument("--modes", default="worker_stopped,worker_running")
    parser.add_argument("--no-pgbench", action="store_true")
    parser.add_argument(
        "--database",
        choices=("postgres", "sqlite"),
        default="postgres",
        help="sqlite: the nodes on SQLite files instead (results in case_intake_sqlite.json)",
    )
    parser.add_argument(
        "--sweep-web-workers",
        default="",
        help="e.g. 1,2,3: also run the worker-stopped passes with the zj web server restarted "
        "with that many gunicorn workers",
    )
    args = parser.parse_args(argv)
    require_postgres()
    clients = [int(c) for c in args.clients.split(",")]
    pgbench = None
    if not args.no_pgbench:
        print("baseline: pgbench")
        pgbench = pgbench_baseline(clients, seconds=args.pgbench_seconds)
    result = run(
        clients=clients,
        cases=args.cases,
        seconds=args.seconds,
        web_workers=args.web_workers,
        web_threads=args.web_threads,
        modes=tuple(args.modes.split(",")),
        database=args.database,
        sweep_web_workers=[int(w) for w in args.sweep_web_workers.split(",") if w],
    )
    add_baselines(result, pgbench)
    print(result["table"])
    write_result(NAME if args.database == "postgres" else f"{NAME}_sqlite", result)
    return result


if __name__ == "__main__":
    main()
