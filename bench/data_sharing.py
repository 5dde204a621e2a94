"""数据共享: a ``data.query`` round trip between two nodes against a plain delivery
measured in the same run, over a real region of separate processes on loopback.

The query is the issue's case in point (docs/data-sharing.md): 合肥住房公积金管理中心
(ah), handling 异地购房提取住房公积金 (000530001000), asks 上海市不动产登记局's 不动产登记信息
(``sh.real_estate``, fields 是否登记有房产 and 不动产坐落) about 陈静 to 核验购房提取条件.
The benchmark process acts as node ah (Django on ah's own database, as ``hefei.fund.
official``) and calls ``tongban.sharing.query.data_query_send`` — what the official's 数据核验
does — then polls ah's database every 10 ms until the query is answered, i.e. until
``data.query`` went ah → sh, sh checked the authorization, asked its provider (the sample
table), signed the record, logged the use and sent ``data.answer`` back, and ah verified
and stored the signed answer. Latency: from the moment the query's transaction committed
to the moment the answer is visible at ah.

Baseline, interleaved one for one: a plain delivery ah → sh of an envelope of about the
same size — a ``notice.deliver`` for a Shanghai resident (the message type with the least
work at the receiver: check, store one row), padded to the ``data.query`` envelope's
size — from its commit at ah until ah's outbox row is ``delivered`` (sh's signed receipt
stored). A query is two such deliveries (one each way) plus the work at both ends, so a
ratio near 2 means the query machinery itself costs little.

Breakdown per leg from the sending node's outbox timestamps (queued → request →
processing → response), as in bench/delivery_latency.py: leg 1 is ah's ``data.query``,
leg 2 sh's ``data.answer`` (read through sh's ``GET /api/v1/exchange/outbox``).

Two passes: the workers' default idle poll (0.5 s) and a fast one (0.05 s); both workers
restarted with the setting. A random pause before each measurement keeps arrivals from
being phase-locked to the idle sleep. The region is the hub, sh and ah on fresh
PostgreSQL databases (gunicorn 2 × 4 per node), dropped at the end.

    .venv/bin/python bench/data_sharing.py [--queries 40] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    PHASES,
    add_phases,
    applicant_for,
    free_port_block,
    git_revision,
    measured_pass,
    percentiles,
    ratio,
    require_postgres,
    scratch_databases,
    set_worker_idle,
    table,
    timestamp,
    wait_until,
    write_result,
)

NAME = "data_sharing"
ASKER, SOURCE = "ah", "sh"
DATASET = "sh.real_estate"
FIELDS = ["has_property", "property_address"]
PURPOSE = "核验购房提取条件"
ITEM = "000530001000"  # 异地购房提取住房公积金
HEFEI_FUND = "1134010007737916X4"  # 合肥住房公积金管理中心
OFFICIAL = "hefei.fund.official"


@contextlib.contextmanager
def sharing_region(label: str, *, web_workers: int = 2, web_threads: int = 4, keep=False):
    """hub + sh + ah as real processes on fresh PostgreSQL databases, sh's sample rows
    generated (bench_region in common.py starts sh + zj; this benchmark needs ah)."""
    from tongban.region import Region

    root = Path(tempfile.mkdtemp(prefix=f"tongban-bench-{label}-"))
    with scratch_databases(label, ("hub", SOURCE, ASKER)) as urls:
        region = Region(
            root=root,
            base_port=free_port_block(),
            nodes=(SOURCE, ASKER),
            database_urls=urls,
            web_workers=web_workers,
            web_threads=web_threads,
            extra_env={"TONGBAN_LOG_LEVEL": "WARNING"},
        )
        try:
            t0 = time.monotonic()
            region.prepare(log=lambda *_: None)
            region.manage(SOURCE, "sharing-samples")
            region.prepare_seconds = round(time.monotonic() - t0, 1)
            region.start_all()
            yield region
        finally:
            region.stop_all()
            if not keep:
                shutil.rmtree(root, ignore_errors=True)


def attach(region, node: str) -> None:
    """Django in this process as ``node`` of the region (its database, keys, settings)."""
    os.environ.update(region.env(node))
    import django

    django.setup()


class Bench:
    """Runs inside the benchmark process as node ah."""

    def __init__(self, region):
        from tongban.identity.demo_accounts import DEMO_PASSWORD, PERSONS
        from tongban.identity.models import User
        from tongban.region import ApiClient

        self.region = region
        self.official = User.objects.get(username=OFFICIAL)
        self.subject = {"id_type": "111", "id_number": PERSONS[ASKER][2]}  # 陈静
        self.sh_admin = ApiClient(region.url(SOURCE), f"{SOURCE}.admin", DEMO_PASSWORD)
        self.notice_text_chars = 200

    # --- the query --------------------------------------------------------------------

    def query(self, *, poll: float, timeout: float) -> dict:
        from tongban.sharing.models import DataQuery
        from tongban.sharing.query import data_query_send

        t0 = time.time()
        q = data_query_send(
            dataset_code=DATASET,
            subject=self.subject,
            fields=FIELDS,
            purpose=PURPOSE,
            item_code=ITEM,
            organization_code=HEFEI_FUND,
            use="case",
            requested_by=self.official,
        )
        t1 = time.time()  # committed (data_query_send's own transaction)

        def settled():
            return (
                DataQuery.objects.filter(pk=q.pk)
                .exclude(status=DataQuery.Status.PENDING)
                .values_list("status", flat=True)
                .first()
            )

        status, polls = wait_until(settled, poll=poll, timeout=timeout, what=f"answer {q.query_id}")
        t2 = time.time()
        if status != DataQuery.Status.ANSWERED:
            row = DataQuery.objects.get(pk=q.pk)
            raise RuntimeError(f"query {q.query_id} ended {status}: {row.refusal_code}")
        return {"id": q.query_id, "send": t1 - t0, "latency": t2 - t1, "polls": polls, "at": t1}

    # --- the baseline: a plain delivery of about the same size ---------------------------

    def delivery(self, i: int, *, poll: float, timeout: float) -> dict:
        from django.db import transaction
        from django.utils import timezone

        from tongban.exchange.envelopes import iso
        from tongban.exchange.models import OutboxMessage
        from tongban.exchange.services import outbox_enqueue

        person = applicant_for(i, "310101")  # a Shanghai resident: sh is the home node
        text = ("您的数据核验已完成，结果已附入办件。" * 200)[: self.notice_text_chars]
        t0 = time.time()
        with transaction.atomic():
            message = outbox_enqueue(
                type="notice.deliver",
                recipient=SOURCE,
                correlation=f"bench-notice-{i}",
                body={
                    "id_number": person["id_number"],
                    "title": "数据核验结果",
                    "text": text,
                    "case_number": "",
                    "link": "",
                    "created_at": iso(timezone.now()),
                },
            )
        t1 = time.time()

        def delivered():
            return (
                OutboxMessage.objects.filter(pk=message.pk)
                .exclude(status="pending")
                .values_list("status", flat=True)
                .first()
            )

        status, polls = wait_until(delivered, poll=poll, timeout=timeout, what=f"notice {i}")
        t2 = time.time()
        if status != "delivered":
            raise RuntimeError(f"notice {i} ended {status}")
        return {
            "id": message.message_id,
            "send": t1 - t0,
            "latency": t2 - t1,
            "polls": polls,
            "at": t1,
        }

    def envelope_bytes(self, type_: str) -> int:
        from tongban.exchange.models import OutboxMessage
        from tongban.identity.pii import decrypt_at_rest

        row = OutboxMessage.objects.filter(type=type_).order_by("-id").first()
        return len(decrypt_at_rest(row.envelope).encode()) if row else 0

    def match_sizes(self, i: int) -> dict:
        """Pad the notice's text until its envelope is about the query envelope's size."""
        target = self.envelope_bytes("data.query")
        self.delivery(i, poll=0.01, timeout=60)  # one at the default length, to measure
        size = self.envelope_bytes("notice.deliver")
        per_char = len("您".encode())  # the text is Chinese: 3 bytes a character in JSON
        self.notice_text_chars = max(
            1, min(2000, self.notice_text_chars + (target - size) // per_char)
        )
        self.delivery(i + 1, poll=0.01, timeout=60)
        return {
            "data_query_envelope_bytes": target,
            "notice_envelope_bytes": self.envelope_bytes("notice.deliver"),
            "notice_text_chars": self.notice_text_chars,
        }

    # --- breakdown -------------------------------------------------------------------

    def outbox_rows(self, kind: str) -> dict[str, dict]:
        """ah's own outbox rows of ``kind`` by correlation, as the API serializes them."""
        from tongban.exchange.envelopes import iso
        from tongban.exchange.models import OutboxMessage

        out = {}
        for row in OutboxMessage.objects.filter(type=kind).values(
            "message_id",
            "correlation",
            "status",
            "created_at",
            "request_out_at",
            "request_in_at",
            "response_out_at",
            "response_in_at",
        ):
            row = {k: iso(v) if hasattr(v, "isoformat") else v for k, v in row.items()}
            out[row["correlation"]] = row
            out[row["message_id"]] = row
        return out

    def source_outbox(self, kind: str) -> dict[str, dict]:
        rows = self.sh_admin.get("/exchange/outbox", limit=500).json()
        return {r["correlation"]: r for r in rows if r["type"] == kind}

    def source_answers(self, query_ids: set[str], timeout: float = 10) -> dict[str, dict]:
        """sh's data.answer rows (correlation: the query id). ah sees an answer as soon as
        it applied it; sh stores ah's receipt a moment later, so wait (bounded) for that."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.source_outbox("data.answer")
            done = all(found.get(i, {}).get("status") == "delivered" for i in query_ids)
            if done or time.monotonic() > deadline:
                return found
            time.sleep(0.2)


def _phases(
    rows: dict[str, dict], keys: list[str], visible: dict[str, float] | None = None
) -> dict:
    """Percentiles per phase of the outbox rows ``keys`` (and of the whole leg, created →
    receipt stored); "visible" only where the benchmark saw the result after the receipt."""
    phases: dict[str, list[float]] = {p: [] for p in PHASES}
    total: list[float] = []
    for key in keys:
        row = rows.get(key)
        if row is None or row["status"] != "delivered":
            continue
        receipt = timestamp(row["response_in_at"])
        add_phases(phases, row, (visible or {}).get(key, receipt))
        if receipt is not None:
            total.append(receipt - timestamp(row["created_at"]))
    if not visible:
        phases.pop("visible")
    out = {p: percentiles(v) for p, v in phases.items() if v}
    out["leg"] = percentiles(total)
    return out


def measure(
    bench: Bench, *, queries: int, poll: float, pause_max: float, max_seconds: float, index: int
) -> dict:
    base, rows = [], []
    t_start = time.monotonic()
    for n in range(queries):
        if time.monotonic() - t_start > max_seconds:
            break
        time.sleep(random.uniform(0, pause_max))
        base.append(bench.delivery(index + n, poll=poll, timeout=30))
        time.sleep(random.uniform(0, pause_max))
        rows.append(bench.query(poll=poll, timeout=30))
    ah_queries = bench.outbox_rows("data.query")
    ah_notices = bench.outbox_rows("notice.deliver")
    sh_answers = bench.source_answers({r["id"] for r in rows})
    baseline = [b["latency"] for b in base]
    query = [r["latency"] for r in rows]
    return {
        "queries": len(rows),
        "baseline_deliveries": len(base),
        "baseline": percentiles(baseline),
        "query": percentiles(query),
        "breakdown": {
            "baseline": _phases(
                ah_notices,
                [b["id"] for b in base],
                {b["id"]: b["at"] + b["latency"] for b in base},
            ),
            "query_leg_1_ah_to_sh": _phases(ah_queries, [r["id"] for r in rows]),
            "query_leg_2_sh_to_ah": _phases(sh_answers, [r["id"] for r in rows]),
        },
        "send_commit": {
            "data_query_send": percentiles([r["send"] for r in rows]),
            "notice_enqueue": percentiles([b["send"] for b in base]),
        },
        "mean_polls": {
            "baseline": round(sum(b["polls"] for b in base) / max(len(base), 1), 1),
            "query": round(sum(r["polls"] for r in rows) / max(len(rows), 1), 1),
        },
    }


def run(
    region,
    *,
    queries: int = 40,
    poll_ms: float = 10,
    fast_idle: float = 0.05,
    max_seconds: float = 150,
    passes=("idle_default", "idle_fast"),
) -> dict:
    bench = Bench(region)
    poll = poll_ms / 1000
    print(
        f"data.query {ASKER} → {SOURCE} ({DATASET}): ≤{queries} queries per pass "
        f"(≤{max_seconds:.0f} s), each with a plain delivery {ASKER} → {SOURCE}; "
        f"polled every {poll_ms:g} ms"
    )
    index = 7_000_000  # notice recipients distinct from the other benchmarks
    bench.query(poll=poll, timeout=60)  # warm-up of both nodes, and the envelope's size
    sizes = bench.match_sizes(index)
    index += 10
    result: dict = {
        "revision": git_revision(),
        "setup": {
            "asker": f"{ASKER} 合肥住房公积金管理中心 ({HEFEI_FUND}) as {OFFICIAL}",
            "query": f"{DATASET} 不动产登记信息, fields {FIELDS}, item {ITEM}, purpose {PURPOSE}",
            "baseline": f"notice.deliver {ASKER} → {SOURCE}, padded to the query's size",
            "poll_ms": poll_ms,
            "web_workers": region.web_workers,
            "web_threads": region.web_threads,
            "prepare_seconds": getattr(region, "prepare_seconds", None),
            **sizes,
        },
        "passes": {},
    }
    settings = {"idle_default": (None, 0.5), "idle_fast": (fast_idle, fast_idle)}
    for name in passes:
        idle, interval = settings[name]
        set_worker_idle(region, idle, (SOURCE, ASKER))
        time.sleep(1)
        bench.delivery(index - 1, poll=poll, timeout=60)  # the restarted workers' first
        bench.query(poll=poll, timeout=60)  # envelopes are not measured
        p, wall = measured_pass(
            region,
            lambda interval=interval, index=index: measure(
                bench,
                queries=queries,
                poll=poll,
                pause_max=interval,
                max_seconds=max_seconds,
                index=index,
            ),
            units="queries",
        )
        p["worker_idle_seconds"] = interval
        p["seconds"] = round(wall, 1)
        p["ratio_query_p50_to_baseline_p50"] = ratio(
            p["query"]["p50_ms"], p["baseline"]["p50_ms"], 2
        )
        p["ratio_query_p99_to_baseline_p99"] = ratio(
            p["query"]["p99_ms"], p["baseline"]["p99_ms"], 2
        )
        result["passes"][name] = p
        index += 100_000
        print(
            f"  {name:<12} idle {interval:>4} s: query p50 {p['query']['p50_ms']} / p99 "
            f"{p['query']['p99_ms']} ms; baseline p50 {p['baseline']['p50_ms']} / p99 "
            f"{p['baseline']['p99_ms']} ms (n={p['queries']})"
        )
    set_worker_idle(region, None, (SOURCE, ASKER))

    rows = []
    for name, p in result["passes"].items():
        bd = p["breakdown"]
        for key, label, s_, leg in (
            ("baseline", f"delivery {ASKER} → {SOURCE} (baseline)", p["baseline"], bd["baseline"]),
            ("query", "data.query round trip", p["query"], {}),
            (
                "leg_1",
                f"  leg 1 data.query {ASKER} → {SOURCE}",
                bd["query_leg_1_ah_to_sh"]["leg"],
                bd["query_leg_1_ah_to_sh"],
            ),
            (
                "leg_2",
                f"  leg 2 data.answer {SOURCE} → {ASKER}",
                bd["query_leg_2_sh_to_ah"]["leg"],
                bd["query_leg_2_sh_to_ah"],
            ),
        ):
            rows.append(
                [
                    name,
                    label,
                    s_.get("n"),
                    s_.get("p50_ms"),
                    s_.get("p99_ms"),
                    {"baseline": "1", "query": p["ratio_query_p50_to_baseline_p50"]}.get(key, ""),
                    {"baseline": "1", "query": p["ratio_query_p99_to_baseline_p99"]}.get(key, ""),
                    leg.get("queued", {}).get("p50_ms"),
                    leg.get("request", {}).get("p50_ms"),
                    leg.get("processing", {}).get("p50_ms"),
                    leg.get("response", {}).get("p50_ms"),
                ]
            )
    result["table"] = table(
        rows,
        [
            "pass",
            "what",
            "n",
            "p50 ms",
            "p99 ms",
            "÷ base p50",
            "÷ base p99",
            "queued",
            "request",
            "proc",
            "response",
        ],
    )
    return result


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=40, help="queries (and baselines) per pass")
    parser.add_argument("--quick", action="store_true", help="8 queries per pass")
    parser.add_argument("--poll-ms", type=float, default=10)
    parser.add_argument("--fast-idle", type=float, default=0.05)
    parser.add_argument("--max-seconds", type=float, default=150, help="time budget per pass")
    parser.add_argument("--passes", default="idle_default,idle_fast")
    parser.add_argument("--keep", action="store_true", help="keep the region's directory")
    args = parser.parse_args(argv)
    require_postgres()
    with sharing_region("sharing", keep=args.keep) as region:
        print(
            f"region prepared in {region.prepare_seconds} s (hub, {SOURCE}, {ASKER} on PostgreSQL)"
        )
        attach(region, ASKER)
        result = run(
            region,
            queries=8 if args.quick else args.queries,
            poll_ms=args.poll_ms,
            fast_idle=args.fast_idle,
            max_seconds=args.max_seconds,
            passes=tuple(args.passes.split(",")),
        )
    print(result["table"])
    write_result(NAME, result)
    return result


if __name__ == "__main__":
    main()
