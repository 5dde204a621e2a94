"""Case-list latency on a large sh database (the Open Zaak comparison point).

A few real cases are submitted at zj and delivered to sh; then ``--rows``
(default 1,000,000) more are bulk-inserted into the sh node's PostgreSQL
database by ``INSERT … SELECT generate_series`` run from Django under the sh
node's own environment, each row a copy of a real delivered case with its
own number, submission time (one every 90 s, newest last), item, status
(older cases mostly concluded) and deciding organization (40 % 青浦区市场监管局,
the rest spread over the other Shanghai organizations), then VACUUM ANALYZE.

Measured as ``qingpu.official`` over HTTP, p50/p95/p99:

    list        GET /api/v1/cases?limit=50
    worklist    GET /api/v1/cases?worklist=true&limit=50
    status      GET /api/v1/cases?status=accepted&limit=50
    search      GET /api/v1/cases?q=<number prefix of one day>&limit=50
    deep_page   GET /api/v1/cases?limit=50&offset=5000
    detail      GET /api/v1/cases/<number>

Baselines from the same run: the same requests before the bulk insert (a
nearly empty database), GET /api/v1/health, and the same selector run
in-process by Django against the database (no HTTP) — so the figures are
given as ratios to the empty database and to the database's own time. With
the EXPLAIN ANALYZE of every SQL statement the selector runs.

What-if (not the schema, the scratch database only): the list, search and
deep-page requests again after adding the indexes in WHAT_IF_INDEXES that the
schema does not have yet (one on deciding organization + newest first, one
trigram index for the name search) — evidence for a schema change, measured,
not assumed; and finally the list without the schema's per-organization index
(case_org_recent), to measure what it is worth.

    .venv/bin/python bench/case_list.py [--rows 1000000] [--samples 40]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    QINGPU,
    Intake,
    git_revision,
    own_region,
    percentiles,
    ratio,
    require_postgres,
    table,
    wait_quiet,
    write_result,
)

NAME = "case_list"


def _bulk_script() -> str:
    """The bulk insert; runs under the sh node's environment (its settings, its DATABASE_URL)."""
    return textwrap.dedent(r"""
    import json, sys, time
    import django
    django.setup()
    from django.db import connection
    from tongban.cases.models import Case
    from tongban.catalog.models import ServiceItem
    from tongban.directory.models import Organization

    rows, chunk, qingpu = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    table = Case._meta.db_table
    template = Case.objects.filter(perspective="handling").order_by("id").first()
    assert template is not None, "no delivered case to copy"
    others = sorted(Organization.objects.filter(node__node_id="sh").exclude(code=qingpu)
                    .values_list("code", flat=True))
    items = list(ServiceItem.objects.order_by("id").values_list("id", flat=True))
    with connection.cursor() as cur:
        cur.execute("SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                    "ORDER BY ordinal_position", [table])
        columns = [c for (c,) in cur.fetchall() if c != "id"]
    q = "'" + qingpu.replace("'", "''") + "'"
    other_array = "ARRAY[" + ",".join("'" + o.replace("'", "''") + "'" for o in others) + "]::text[]"
    age = f"({rows} - g)"  # in 90-second steps before now
    overrides = {
        "number": "substr(t.number, 1, 31) || to_char(s.at, 'YYYYMMDD') || '31' || lpad(g::text, 8, '0')",
        "submitted_at": "s.at",
        "status_changed_at": "s.at + interval '1 hour'",
        "received_at": "s.at + interval '2 seconds'",
        "status": (f"CASE WHEN {age} < 960 * 14 THEN (ARRAY['submitted','accepted',"
                   "'supplement_requested','accepted','submitted','approved'])[1 + g % 6] "
                   "ELSE (ARRAY['approved','approved','approved','approved','approved','approved',"
                   "'approved','approved','denied','refused'])[1 + g % 10] END"),
        "perspective": "CASE WHEN g % 5 = 0 THEN 'local' ELSE 'handling' END",
        "handling_organization_id": (f"CASE WHEN g % 10 < 4 THEN {q} "
                                     f"ELSE ({other_array})[1 + (g / 10) % {len(others)}] END"),
        "item_id": "i.id",
        "item_name": "i.name",
        "applicant_name": ("(ARRAY['赵一鸣','钱思远','孙雨桐','李浩然','周佳怡','吴子涵','郑梓萱',"
                           "'王俊杰'])[1 + g % 8]"),
        "applicant_id_index": "md5(g::text) || md5('idx' || g::text)",
    }
    select = ", ".join(overrides.get(c, f"t.{c}") for c in columns)
    item_table = ServiceItem._meta.db_table
    t0 = time.monotonic()
    done = 0
    with connection.cursor() as cur:
        # (not synchronous_commit=off: VACUUM cannot mark the pages of asynchronously
        # committed rows all-visible, and index-only scans would then read the heap)
        while done < rows:
            n = min(chunk, rows - done)
            cur.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) "
                f"SELECT {select} FROM generate_series({done + 1}, {done + n}) AS g "
                f"CROSS JOIN LATERAL (SELECT now() - make_interval(secs => 90 * {age}) AS at) AS s "
                f"JOIN (SELECT id, name, (row_number() OVER (ORDER BY id) - 1) AS k "
                f"      FROM {item_table}) AS i ON i.k = g % {len(items)} "
                f"CROSS JOIN (SELECT * FROM {table} WHERE id = {template.pk}) AS t"
            )
            done += n
            print(json.dumps({"inserted": done, "seconds": round(time.monotonic() - t0, 1)}), flush=True)
    insert_seconds = time.monotonic() - t0
    t1 = time.monotonic()
    connection.ensure_connection()
    raw = connection.connection
    raw.autocommit = True
    with raw.cursor() as cur:
        cur.execute(f"VACUUM ANALYZE {table}")
        cur.execute("SELECT pg_total_relation_size(%s), (SELECT count(*) FROM " + table + ")", [table])
        size, count = cur.fetchone()
        cur.execute("SELECT relpages, relallvisible FROM pg_class WHERE relname = %s", [table])
        pages, all_visible = cur.fetchone()
    print(json.dumps({"done": True, "insert_seconds": round(insert_seconds, 1),
                      "vacuum_analyze_seconds": round(time.monotonic() - t1, 1),
                      "table_bytes": size, "cases": count, "organizations": 1 + len(others),
                      "pages": pages, "pages_all_visible": all_visible,
                      "items": len(items)}), flush=True)
    """)


# Runs under the sh node's environment: the selector alone, and the plans of the SQL it runs.
IN_PROCESS = textwrap.dedent(r"""
    import json, sys, time
    import django
    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from tongban.cases import selectors
    from tongban.cases.presenters import case_summary_dict
    from tongban.identity.models import User
    from tongban.identity.selectors import access_for

    queries = json.loads(sys.argv[1])
    samples, max_seconds = int(sys.argv[2]), float(sys.argv[3])
    access = access_for(User.objects.get(username="qingpu.official"))

    def nodes_of(plan):
        found = []
        def walk(node):
            found.append(node["Node Type"] + (f" on {node['Index Name']}" if "Index Name" in node else ""))
            for child in node.get("Plans", []):
                walk(child)
        walk(plan)
        return found

    out = {}
    for name, params in queries.items():
        if name == "detail":
            fn = lambda: selectors.case_detail(access, params["number"])
        else:
            kwargs = {"status": params.get("status", ""), "query": params.get("q", ""),
                      "worklist": params.get("worklist") == "true",
                      "limit": int(params.get("limit", 50)), "offset": int(params.get("offset", 0))}
            fn = lambda kwargs=kwargs: [case_summary_dict(c) for c in selectors.case_list(access, **kwargs)[0]]
        with CaptureQueriesContext(connection) as ctx:
            fn()
        times = []
        deadline = time.monotonic() + max_seconds
        while len(times) < samples and time.monotonic() < deadline:
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        plans = []
        for q in ctx.captured_queries:
            sql = q["sql"]
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            with connection.cursor() as cur:
                cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
                plan = cur.fetchone()[0]
            plan = (plan if isinstance(plan, list) else json.loads(plan))[0]
            plans.append({"sql": sql[:160] + ("…" if len(sql) > 160 else ""),
                          "execution_ms": round(plan["Execution Time"], 2),
                          "nodes": nodes_of(plan["Plan"])[:8]})
        out[name] = {"times": times, "queries": len(ctx.captured_queries), "plans": plans}
    print(json.dumps(out))
""")


def run_python(
    region, node: str, script: str, *args: str, timeout: float = 900, on_line=None
) -> list[dict]:
    """Run ``script`` under the node's environment; its JSON lines, killed after ``timeout``."""
    import threading

    proc = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        env=region.env(node),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(timeout, proc.kill)
    watchdog.start()
    lines = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.strip()
            if line.startswith("{"):
                lines.append(json.loads(line))
                if on_line:
                    on_line(lines[-1])
        proc.wait(timeout=60)
    finally:
        watchdog.cancel()
    if proc.returncode != 0:
        raise RuntimeError(
            f"[{node}] script failed ({proc.returncode}):\n{proc.stderr.read()[-3000:]}"
        )
    return lines


def http_samples(client, path: str, params: dict, *, samples: int, max_seconds: float) -> dict:
    for _ in range(3):
        r = client.get(path, **params)
        if r.status_code != 200:
            raise RuntimeError(f"GET {path} {params}: {r.status_code} {r.text[:300]}")
    times = []
    deadline = time.monotonic() + max_seconds
    count = r.json().get("count")
    while len(times) < samples and time.monotonic() < deadline:
        t0 = time.perf_counter()
        client.get(path, **params)
        times.append(time.perf_counter() - t0)
    return {**percentiles(times), "count": count}


@own_region("list")
def run(
    region,
    *,
    rows: int = 1_000_000,
    chunk: int = 100_000,
    samples: int = 40,
    max_seconds: float = 8,
    seed_cases: int = 3,
    what_if_index: bool = True,
) -> dict:
    import requests

    from tongban.identity.demo_accounts import DEMO_PASSWORD
    from tongban.region import ApiClient

    intake = Intake(region)
    clerk = intake.client()
    official = ApiClient(region.url("sh"), "qingpu.official", DEMO_PASSWORD)
    print(
        f"case list: {rows:,} bulk-inserted cases at sh, ≤{samples} samples or ≤{max_seconds:g} s "
        "per query"
    )
    numbers = []
    for n in range(seed_cases):
        r = clerk.post("/cases", intake.body(6_000_000 + n))
        r.raise_for_status()
        numbers.append(r.json()["number"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if all(official.get(f"/cases/{n}").status_code == 200 for n in numbers):
            break
        time.sleep(0.2)
    else:
        raise TimeoutError("seed cases did not reach sh")
    seed = numbers[0]

    def queries(day_prefix: str, number: str) -> dict[str, dict]:
        return {
            "list": {"limit": 50},
            "worklist": {"worklist": "true", "limit": 50},
            "status": {"status": "accepted", "limit": 50},
            "search": {"q": day_prefix, "limit": 50},
            "deep_page": {"limit": 50, "offset": 5000},
            "detail": {"number": number},
        }

    def measure(label: str, qs: dict[str, dict]) -> dict:
        out = {}
        for name, params in qs.items():
            if name == "detail":
                out[name] = http_samples(
                    official,
                    f"/cases/{params['number']}",
                    {},
                    samples=samples,
                    max_seconds=max_seconds,
                )
            else:
                out[name] = http_samples(
                    official, "/cases", params, samples=samples, max_seconds=max_seconds
                )
            print(
                f"  {label:<6} {name:<10} p50 {out[name]['p50_ms']} ms, p95 {out[name]['p95_ms']} ms, "
                f"p99 {out[name]['p99_ms']} ms  (count {out[name].get('count')})"
            )
        return out

    health = []
    session = requests.Session()
    for _ in range(100):
        t0 = time.perf_counter()
        session.get(f"{region.url('sh')}/api/v1/health", timeout=10)
        health.append(time.perf_counter() - t0)

    result: dict = {
        "revision": git_revision(),
        "rows_requested": rows,
        "health": percentiles(health),
        "machine_before": wait_quiet(max_wait=15),
    }
    empty_queries = queries(seed[: 31 + 8], seed)
    result["empty"] = measure("empty", empty_queries)

    print(f"  bulk insert of {rows:,} cases into the sh database …")

    def progress(line: dict) -> None:
        if "inserted" in line and line["inserted"] % max(chunk * 2, 1) == 0:
            print(f"    {line['inserted']:,} rows, {line['seconds']} s")

    lines = run_python(
        region,
        "sh",
        _bulk_script(),
        str(rows),
        str(chunk),
        _org_code(region, QINGPU),
        on_line=progress,
    )
    result["bulk"] = lines[-1]
    print(
        f"  inserted in {result['bulk']['insert_seconds']} s, VACUUM ANALYZE "
        f"{result['bulk']['vacuum_analyze_seconds']} s, table {result['bulk']['table_bytes'] / 2**20:.0f} MiB"
    )

    # a bulk row: its number prefix (one day of 青浦 cases at most ~960) and a detail to open
    page = official.get("/cases", limit=5, offset=1000).json()["results"]
    bulk_number = next(c["number"] for c in page if c["number"] not in numbers)
    full_queries = queries(bulk_number[: 31 + 8], bulk_number)
    result["machine_during"] = wait_quiet(max_wait=15)
    result["full"] = measure("full", full_queries)

    print("  the same selectors in-process (Django ORM + PostgreSQL, no HTTP)")
    inproc = run_python(
        region, "sh", IN_PROCESS, json.dumps(full_queries), str(samples), str(max_seconds)
    )[-1]
    result["in_process"] = {}
    rows_out = []
    for name in full_queries:
        ip = {
            **percentiles(inproc[name]["times"]),
            "queries": inproc[name]["queries"],
            "plans": inproc[name]["plans"],
        }
        result["in_process"][name] = ip
        full, empty = result["full"][name], result["empty"][name]
        full["ratio_p50_to_empty"] = ratio(full["p50_ms"], empty["p50_ms"], 2)
        full["ratio_p50_to_in_process"] = ratio(full["p50_ms"], ip["p50_ms"], 2)
        full["ratio_p50_to_health"] = ratio(full["p50_ms"], result["health"]["p50_ms"], 1)
        sql_ms = sum(p["execution_ms"] for p in ip["plans"]) or None
        rows_out.append(
            [
                name,
                full.get("count"),
                full["p50_ms"],
                full["p95_ms"],
                full["p99_ms"],
                empty["p50_ms"],
                full["ratio_p50_to_empty"],
                ip["p50_ms"],
                round(sql_ms, 1) if sql_ms else None,
            ]
        )
    result["table"] = table(
        rows_out,
        [
            "query",
            "count",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "empty p50",
            "÷empty",
            "in-proc p50",
            "SQL ms",
        ],
    )

    if what_if_index:
        # Indexes the schema might lack, built in the scratch database only; one that
        # duplicates an existing index is dropped again and reported as present.
        print("  what if: " + "; ".join(WHAT_IF_INDEXES.values()))
        t0 = time.monotonic()
        outcome = run_python(region, "sh", WHAT_IF_SCRIPT, json.dumps(WHAT_IF_INDEXES))[-1]
        result["what_if_index"] = {
            "ddl": WHAT_IF_INDEXES,
            **outcome,
            "build_seconds": round(time.monotonic() - t0, 1),
        }
        for name, info in outcome.items():
            print(f"    {name}: {info}")
        if any(v == "created" for v in outcome.values()):
            subset = {k: full_queries[k] for k in ("list", "search", "deep_page")}
            measured = measure("index", subset)
            for name, m in measured.items():
                m["ratio_p50_to_without"] = ratio(m["p50_ms"], result["full"][name]["p50_ms"], 3)
            result["what_if_index"]["results"] = measured
        # and the other way round: the list without the schema's per-organization index
        outcome = run_python(region, "sh", DROP_SCRIPT, json.dumps(WHAT_IF_WITHOUT))[-1]
        if any(v == "dropped" for v in outcome.values()):
            print(f"  what if not: {outcome}")
            subset = {k: full_queries[k] for k in ("list", "deep_page")}
            measured = measure("no-idx", subset)
            for name, m in measured.items():
                m["ratio_p50_to_schema"] = ratio(m["p50_ms"], result["full"][name]["p50_ms"], 3)
            result["what_if_without"] = {"dropped": outcome, "results": measured}
    return result


WHAT_IF_INDEXES = {
    # the default list and its count: one organization's cases, newest first
    "org_newest": (
        "CREATE INDEX bench_case_org_newest ON cases_case "
        "(handling_organization_id, submitted_at DESC, id DESC) INCLUDE (perspective, status)"
    ),
    # the search's "item_name LIKE '%…%'" half (the number-prefix half has its _like index)
    "item_name_trigram": (
        "CREATE INDEX bench_case_item_name_trgm ON cases_case USING gin (item_name gin_trgm_ops)"
    ),
}
# schema indexes whose value is measured by dropping them (last, in the scratch database)
WHAT_IF_WITHOUT = ["case_org_recent"]
DROP_SCRIPT = textwrap.dedent(r"""
    import json, sys
    import django
    django.setup()
    from django.db import connection

    outcome = {}
    with connection.cursor() as cur:
        for name in json.loads(sys.argv[1]):
            cur.execute("SELECT 1 FROM pg_indexes WHERE indexname = %s", [name])
            if cur.fetchone():
                cur.execute(f'DROP INDEX "{name}"')
                outcome[name] = "dropped"
            else:
                outcome[name] = "not in the schema"
    print(json.dumps(outcome))
""")
WHAT_IF_SCRIPT = textwrap.dedent(r"""
    import json, re, sys
    import django
    django.setup()
    from django.db import connection

    def definitions(cur):
        cur.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'cases_case'")
        return {n: re.sub(r"^CREATE (UNIQUE )?INDEX \S+ ", "", d) for n, d in cur.fetchall()}

    outcome = {}
    connection.ensure_connection()
    connection.connection.autocommit = True
    with connection.connection.cursor() as cur:
        for label, ddl in json.loads(sys.argv[1]).items():
            name = ddl.split()[2]
            try:
                if "gin_trgm_ops" in ddl:
                    cur.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                cur.execute(ddl)
            except Exception as exc:  # e.g. pg_trgm not installed
                outcome[label] = f"failed: {exc.__class__.__name__}: {str(exc).strip()[:200]}"
                continue
            defs = definitions(cur)
            twin = next((n for n, d in defs.items() if n != name and d == defs[name]), None)
            if twin:
                cur.execute(f"DROP INDEX {name}")
                outcome[label] = f"already in the schema as {twin}"
            else:
                outcome[label] = "created"
        cur.execute("VACUUM ANALYZE cases_case")
    print(json.dumps(outcome))
""")


def _org_code(region, name: str) -> str:
    from tongban.demo_seed import ESTABLISHMENT
    from tongban.identity.demo_accounts import DEMO_PASSWORD
    from tongban.region import ApiClient

    clerk = ApiClient(region.url("zj"), "jiashan.clerk", DEMO_PASSWORD)
    item = clerk.get(f"/items/{ESTABLISHMENT}").json()
    return next(
        i["organization"] for i in item["implementations"] if i["organization_name"] == name
    )


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--max-seconds", type=float, default=8, help="time budget per query")
    parser.add_argument(
        "--no-what-if-index",
        action="store_true",
        help="skip re-measuring with the extra indexes of WHAT_IF_INDEXES",
    )
    args = parser.parse_args(argv)
    require_postgres()
    result = run(
        rows=args.rows,
        chunk=args.chunk,
        samples=args.samples,
        max_seconds=args.max_seconds,
        what_if_index=not args.no_what_if_index,
    )
    print(result["table"])
    write_result(NAME, result)
    return result


if __name__ == "__main__":
    main()
