"""The append-only audit log (issue 11 §5): what an append costs, and what verifying a
checkpoint of a 1,000,000-entry log costs, both against raw SM3 in the same run.

(a) **Appends.** ``tongban.audit.services.audit_append`` on a fresh node database —
the embedded SQLite default (WAL, ``synchronous=NORMAL``) and, with ``--postgres URL``,
a scratch database on that server — one transaction per append (as a security event
commits it) and 100 appends per transaction (as a busy exchange commits several log
entries at once). Entries are a realistic mix: 60 % message-log entries (position and
chain hash), 30 % security events (id, kind, SM3 of the row), 10 % data-use entries.
Baseline: raw SM3 (``tongban.gm.sm3.sm3_digest``) of the same canonical entries; also
RFC 8785 canonicalization + leaf hash, which ``audit_append`` does before it touches
the database.

(b) **A log of N entries** (default 1,000,000) in a fresh SQLite database, built in
memory and bulk-inserted (leaves, every complete subtree's hash, the head — exactly the
rows ``audit_append`` would have written, not a million calls), with a signed checkpoint
at N − 10,000 (the previous one a witness cosigned) and one at N. Timed:

* **witness**: open the new checkpoint note (SM2 verify), read the consistency proof
  from the older size and verify it (RFC 9162 §2.1.4.2) — what the hub or a peer does
  before cosigning (the proof is read from the database in-process here; a witness gets
  it over HTTP);
* **inclusion proof** of a random leaf: read the proof and the leaf hash, verify it
  against the checkpoint's root — what a person's data-use entry carries;
* **whole-log verify** (``audit.verify.audit_log_verify``, i.e. ``tongban audit
  verify``): every leaf re-hashed, every stored subtree compared, the root compared with
  the checkpoint;
* references: raw SM3 over the same N canonical entries (hashing only), and the same
  recomputation in memory (leaf hashes + the streaming root, no database).

Each step runs in a child process (Django is set up once per process, on its own
database). Results in bench/results/audit_log.json.

    .venv/bin/python bench/audit_log.py [--entries 1000000] [--postgres postgres://postgres@127.0.0.1:5432]
    .venv/bin/python bench/audit_log.py --entries 20000 --append-seconds 1   # smoke run
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import git_revision, ratio, table, wait_quiet, write_result  # noqa: E402

NAME = "audit_log"
ROUNDS = 3
BATCH = 100  # appends per transaction in the batched pass
BUILD_CHUNK = 20_000  # leaves per bulk insert while building the large log
WITNESS_GAP = 10_000  # the older checkpoint is this many leaves behind the newest


# --- entries ------------------------------------------------------------------------


def _hex(i: int, salt: bytes) -> str:
    return hashlib.blake2s(salt + i.to_bytes(8, "big")).hexdigest()  # filler, 64 hex digits


def entry_for(i: int) -> tuple[str, dict]:
    """The i-th entry of the benchmark's log (deterministic): kind and JSON object, shaped
    like what the message log, the security log and data-use reporting append."""
    r = i % 10
    if r < 6:
        return "message_log", {"position": i + 1, "entry_hash": _hex(i, b"m")}
    if r < 9:
        kinds = ("login", "login_failed", "logout", "password_changed", "access_denied")
        return "security_event", {"id": i + 1, "kind": kinds[i % 5], "sm3": _hex(i, b"s")}
    return "data_use", {
        "format": "tongban-data-use/1",
        "reporter_node": "sh",
        "subject": _hex(i, b"p"),
        "use_id": f"0193{i:028x}",
        "kind": "data_query",
        "used_at": f"2026-12-01T08:{i // 60 % 60:02d}:{i % 60:02d}.000Z",
        "user_node": "ah",
        "user_organization_code": "1134010007737916X4",
        "user_organization_name": "合肥住房公积金管理中心",
        "dataset_code": "sh.real_estate",
        "dataset_name": "不动产登记信息",
        "fields": ["是否登记有房产", "不动产坐落"],
        "case_number": f"113401000773791600053000100020261201340{i % 10000:04d}",
        "item_name": "异地购房提取住房公积金",
        "purpose": "核验购房提取条件",
        "legal_basis": "《住房公积金管理条例》第二十四条",
        "consent_id": "",
    }


def canonical_entries(start: int, count: int) -> list[tuple[str, bytes]]:
    from tongban.gm.canonical import canonical_json

    out = []
    for i in range(start, start + count):
        kind, entry = entry_for(i)
        out.append((kind, canonical_json(entry)))
    return out


# --- a node in this process ---------------------------------------------------------


def node_setup(data_dir: Path, database_url: str) -> None:
    """Django in this process as node sh on ``database_url`` (migrated), with a signing key."""
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "tongban.settings",
            "TONGBAN_NODE": "sh",
            "TONGBAN_DATA_DIR": str(data_dir),
            "TONGBAN_BASE_URL": "http://127.0.0.1:8001",
            "DATABASE_URL": database_url,
            "TONGBAN_LOG_LEVEL": "WARNING",
        }
    )
    for name in ("TONGBAN_KEY_DIR", "TONGBAN_MEDIA_DIR"):
        os.environ.pop(name, None)
    import django

    django.setup()
    from django.core.management import call_command

    from tongban.directory.signing import signing_key_create

    call_command("migrate", verbosity=0)
    signing_key_create(node_id="sh")


def rate(fn, *, seconds: float, min_iterations: int = 3) -> dict:
    """Calls per second of ``fn`` within about ``seconds`` (fn returns how many units it did)."""
    units = calls = 0
    start = time.perf_counter()
    while True:
        units += fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if calls >= min_iterations and elapsed >= seconds:
            break
    return {"per_second": round(units / elapsed, 1), "units": units}


# --- (a) appends --------------------------------------------------------------------


def appends(*, seconds: float, max_appends: int) -> dict:
    from django.db import connection, transaction

    from tongban.audit.merkle import leaf_hash
    from tongban.audit.models import AuditLeaf, AuditNode
    from tongban.audit.selectors import tree_size
    from tongban.audit.services import audit_append
    from tongban.gm.canonical import canonical_json
    from tongban.gm.sm3 import sm3_digest

    sample = canonical_entries(0, 10_000)
    objects = [entry_for(i) for i in range(10_000)]
    state = {"next": 0}

    def take() -> tuple[str, dict]:
        i = state["next"]
        state["next"] += 1
        return entry_for(i)

    def raw_sm3() -> int:
        for _kind, data in sample:
            sm3_digest(data)
        return len(sample)

    def canonical_leaf() -> int:
        for _kind, obj in objects:
            leaf_hash(canonical_json(obj))
        return len(objects)

    def append_one() -> int:
        kind, entry = take()
        audit_append(kind=kind, entry=entry)
        return 1

    def append_batch() -> int:
        with transaction.atomic():
            for _ in range(BATCH):
                kind, entry = take()
                audit_append(kind=kind, entry=entry)
        return BATCH

    for _ in range(20):  # warm-up: connection, statements, the head row
        append_one()
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        for _ in range(64):
            append_one()
    statements_per_append = round(len(captured.captured_queries) / 64, 2)
    cases = [
        ("sm3_raw", "raw SM3 of the canonical entries — baseline", raw_sm3),
        ("canonical_leaf", "RFC 8785 canonical JSON + leaf hash", canonical_leaf),
        ("append_autocommit", "audit_append, one transaction each", append_one),
        ("append_batched", f"audit_append, {BATCH} per transaction", append_batch),
    ]
    rounds: dict[str, list[dict]] = {k: [] for k, *_ in cases}
    t0 = time.monotonic()
    for _ in range(ROUNDS):
        for key, _label, fn in cases:
            if key.startswith("append") and state["next"] >= max_appends:
                continue
            rounds[key].append(rate(fn, seconds=seconds / ROUNDS))
    results = {}
    for key, label, _fn in cases:
        if not rounds[key]:
            continue
        best = max(rounds[key], key=lambda r: r["per_second"])
        results[key] = {
            "label": label,
            "per_second": best["per_second"],
            "us_per_op": round(1e6 / best["per_second"], 1),
            "rounds_per_second": [r["per_second"] for r in rounds[key]],
            "units": sum(r["units"] for r in rounds[key]),
        }
    base = results["sm3_raw"]["per_second"]
    for r in results.values():
        r["ratio_to_raw_sm3"] = ratio(r["per_second"], base, 5)
    return {
        "database": connection.vendor,
        "seconds": round(time.monotonic() - t0, 1),
        "log_size_after": tree_size(),
        "stored_subtrees_after": AuditNode.objects.count(),
        "leaves_after": AuditLeaf.objects.count(),
        "statements_per_append": statements_per_append,
        "mean_entry_bytes": round(statistics.fmean(len(d) for _k, d in sample), 1),
        "results": results,
    }


# --- (b) a large log ----------------------------------------------------------------


def build_log(n: int, old: int) -> dict:
    """Leaves, stored subtrees and the head of an n-leaf log, bulk-inserted; the root at
    size ``old`` as well (for the older checkpoint)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from tongban.audit import merkle
    from tongban.audit.models import AuditHead, AuditLeaf, AuditNode

    q = connection.ops.quote_name  # table and column names from the models, no input
    leaf_table, node_table = q(AuditLeaf._meta.db_table), q(AuditNode._meta.db_table)
    leaf_cols = ", ".join(q(c) for c in ("index", "kind", "entry", "leaf_hash", "created_at"))
    node_cols = ", ".join(q(c) for c in ("level", "index", "hash"))
    leaf_sql = f"INSERT INTO {leaf_table} ({leaf_cols}) VALUES (%s, %s, %s, %s, %s)"  # noqa: S608
    node_sql = f"INSERT INTO {node_table} ({node_cols}) VALUES (%s, %s, %s)"  # noqa: S608
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    stream = merkle.StreamingRoot()
    old_root = merkle.empty_root()
    leaves = nodes = 0
    t0 = time.monotonic()
    for start in range(0, n, BUILD_CHUNK):
        leaf_rows, node_rows = [], []
        for i, (kind, data) in enumerate(
            canonical_entries(start, min(BUILD_CHUNK, n - start)), start
        ):
            h = merkle.leaf_hash(data)
            leaf_rows.append((i, kind, data, h, now))
            for level, sub in stream.add(h):
                node_rows.append((level, i >> level, sub))
            if stream.size == old:
                old_root = stream.root()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(leaf_sql, leaf_rows)
            cursor.executemany(node_sql, node_rows)
        leaves += len(leaf_rows)
        nodes += len(node_rows)
        if start and start % 200_000 == 0:
            print(f"    {start:,} leaves written ({time.monotonic() - t0:.0f} s)", flush=True)
    AuditHead.objects.update_or_create(pk=1, defaults={"size": n})
    return {
        "seconds": round(time.monotonic() - t0, 1),
        "leaves": leaves,
        "stored_subtrees": nodes,
        "root": stream.root(),
        "old_root": old_root,
    }


def timed(fn, *, seconds: float, min_iterations: int = 20, max_iterations: int = 100_000) -> dict:
    samples = []
    deadline = time.perf_counter() + seconds
    while len(samples) < max_iterations:
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
        if len(samples) >= min_iterations and time.perf_counter() >= deadline:
            break
    ordered = sorted(samples)
    return {
        "n": len(samples),
        "p50_ms": round(ordered[len(ordered) // 2] * 1000, 3),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 3),
        "mean_ms": round(statistics.fmean(samples) * 1000, 3),
    }


def raw_references(n: int) -> dict:
    """Raw SM3 over the n canonical entries (hashing only, entries made outside the
    clock) and the same recomputation in memory (leaf hashes + streaming root)."""
    from tongban.audit import merkle
    from tongban.gm.sm3 import sm3_digest

    sm3_s = stream_s = 0.0
    stream = merkle.StreamingRoot()
    for start in range(0, n, BUILD_CHUNK):
        chunk = [data for _kind, data in canonical_entries(start, min(BUILD_CHUNK, n - start))]
        t0 = time.perf_counter()
        for data in chunk:
            sm3_digest(data)
        t1 = time.perf_counter()
        for data in chunk:
            stream.add(merkle.leaf_hash(data))
        t2 = time.perf_counter()
        sm3_s += t1 - t0
        stream_s += t2 - t1
    t0 = time.perf_counter()
    root = stream.root()
    stream_s += time.perf_counter() - t0
    return {"sm3_seconds": sm3_s, "stream_seconds": stream_s, "root": root}


def large_log(*, entries: int, seconds: float) -> dict:
    from django.db import connection

    from tongban.audit import merkle
    from tongban.audit.checkpoint import checkpoint_note, checkpoint_open, log_origin
    from tongban.audit.models import AuditCheckpoint
    from tongban.audit.selectors import consistency_proof, inclusion_proof, leaf_hash_at
    from tongban.audit.services import audit_checkpoint_create
    from tongban.audit.verify import audit_log_verify
    from tongban.directory.models import LocalSigningKey

    n = entries
    old = max(1, n - min(WITNESS_GAP, n // 10))
    print(f"  building a log of {n:,} entries (SQLite, bulk insert) …", flush=True)
    built = build_log(n, old)
    # the older checkpoint (the one the witness cosigned), then the newest
    AuditCheckpoint.objects.create(
        size=old,
        root_hash=built["old_root"],
        note=checkpoint_note(size=old, root=built["old_root"]),
    )
    t0 = time.perf_counter()
    newest = audit_checkpoint_create()
    sign_ms = (time.perf_counter() - t0) * 1000
    if bytes(newest.root_hash) != built["root"]:
        raise AssertionError("the stored tree's root differs from the one computed in memory")
    public_key = LocalSigningKey.objects.get(active=True).public_key
    origin = log_origin()
    print(f"  built in {built['seconds']} s; checkpoints at {old:,} and {n:,}", flush=True)
    quiet = wait_quiet()

    def witness() -> None:
        cp = checkpoint_open(newest.note, public_key_hex=public_key, origin=origin)
        proof = consistency_proof(old, cp.size)
        if not merkle.verify_consistency(old, cp.size, built["old_root"], cp.root, proof):
            raise AssertionError("consistency proof does not verify")

    rng = random.Random(11)

    def inclusion() -> None:
        index = rng.randrange(n)
        proof = inclusion_proof(index, n)
        leaf = leaf_hash_at(index)
        if not merkle.verify_inclusion(index, n, leaf, proof, built["root"]):
            raise AssertionError("inclusion proof does not verify")

    def inclusion_same() -> None:  # one leaf again and again: its pages stay cached
        index = n // 3
        proof = inclusion_proof(index, n)
        if not merkle.verify_inclusion(index, n, leaf_hash_at(index), proof, built["root"]):
            raise AssertionError("inclusion proof does not verify")

    def note_only() -> None:
        checkpoint_open(newest.note, public_key_hex=public_key, origin=origin)

    figures = {
        "witness": timed(witness, seconds=seconds),
        "checkpoint_open": timed(note_only, seconds=seconds / 2),
        "inclusion": timed(inclusion, seconds=seconds),
        "inclusion_same_leaf": timed(inclusion_same, seconds=seconds / 2),
    }
    figures["witness"]["proof_hashes"] = len(consistency_proof(old, n))
    figures["inclusion"]["proof_hashes"] = len(inclusion_proof(n // 3, n))
    print("  whole-log verify …", flush=True)
    t0 = time.perf_counter()
    result = audit_log_verify()
    verify_s = time.perf_counter() - t0
    if not result.ok or result.size != n:
        raise AssertionError(f"audit verify: {result}")
    print("  raw SM3 over the same entries …", flush=True)
    ref = raw_references(n)
    if ref["root"] != built["root"]:
        raise AssertionError("in-memory root differs")
    sm3_s = ref["sm3_seconds"]
    db_bytes = None
    if connection.vendor == "sqlite":
        with contextlib.suppress(OSError):
            path = Path(connection.settings_dict["NAME"])
            db_bytes = sum(
                p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file()
            )
    return {
        "entries": n,
        "older_checkpoint_size": old,
        "database": connection.vendor,
        "database_bytes": db_bytes,
        "machine_before": quiet,
        "build": {k: v for k, v in built.items() if k not in ("root", "old_root")},
        "checkpoint_sign_ms": round(sign_ms, 2),
        "checkpoint_note_bytes": len(newest.note.encode()),
        "witness": {
            **figures["witness"],
            "ratio_p50_to_raw_sm3_all": ratio(figures["witness"]["p50_ms"] / 1000, sm3_s, 8),
        },
        "checkpoint_open": figures["checkpoint_open"],
        "inclusion": {
            **figures["inclusion"],
            "ratio_p50_to_raw_sm3_all": ratio(figures["inclusion"]["p50_ms"] / 1000, sm3_s, 8),
        },
        "inclusion_same_leaf": figures["inclusion_same_leaf"],
        "audit_verify": {
            "seconds": round(verify_s, 2),
            "leaves_per_second": round(n / verify_s),
            "ratio_to_raw_sm3_all": ratio(verify_s, sm3_s, 2),
        },
        "raw_sm3_all": {"seconds": round(sm3_s, 3), "per_second": round(n / sm3_s)},
        "in_memory_recompute": {
            "seconds": round(ref["stream_seconds"], 3),
            "ratio_to_raw_sm3_all": ratio(ref["stream_seconds"], sm3_s, 2),
        },
    }


# --- processes ----------------------------------------------------------------------


def child(args) -> None:
    data_dir = Path(args.data_dir)
    node_setup(data_dir, args.database_url)
    if args.child == "appends":
        out = appends(seconds=args.append_seconds, max_appends=args.max_appends)
    else:
        out = large_log(entries=args.entries, seconds=args.proof_seconds)
    import resource

    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    Path(args.json_out).write_text(json.dumps(out, ensure_ascii=False))


def in_child(step: str, database_url: str | None, args, *, timeout: float) -> dict:
    data_dir = Path(tempfile.mkdtemp(prefix=f"tongban-bench-audit-{step}-"))
    try:
        out = data_dir / "result.json"
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            step,
            "--data-dir",
            str(data_dir),
            "--database-url",
            database_url or f"sqlite:///{data_dir / 'db.sqlite3'}",
            "--entries",
            str(args.entries),
            "--append-seconds",
            str(args.append_seconds),
            "--max-appends",
            str(args.max_appends),
            "--proof-seconds",
            str(args.proof_seconds),
            "--json-out",
            str(out),
        ]
        subprocess.run(cmd, check=True, timeout=timeout)
        return json.loads(out.read_text())
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


@contextlib.contextmanager
def scratch_database(server: str):
    """A fresh database on ``server`` (127.0.0.1 only), dropped afterwards."""
    import psycopg

    server = server.rstrip("/")
    host = urlparse(server).hostname or "127.0.0.1"
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"the benchmarks only talk to this machine (127.0.0.1), not {host}")
    admin = server if urlparse(server).path not in ("", "/") else f"{server}/postgres"
    base = admin.rsplit("/", 1)[0]
    name = f"tongban_bench_audit_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(args) -> dict:
    result: dict = {
        "revision": git_revision(),
        "setup": {
            "entries": args.entries,
            "append_seconds": args.append_seconds,
            "append_rounds": ROUNDS,
            "batch": BATCH,
            "proof_seconds": args.proof_seconds,
            "entry_mix": "60 % message_log, 30 % security_event, 10 % data_use",
        },
        "appends": {},
    }
    if args.only in ("", "appends"):
        print(f"(a) audit_append on SQLite, ≤{args.append_seconds} s per figure in {ROUNDS} rounds")
        result["appends"]["sqlite"] = in_child("appends", None, args, timeout=900)
        if args.postgres:
            print("(a) audit_append on PostgreSQL (scratch database)")
            with scratch_database(args.postgres) as url:
                result["appends"]["postgresql"] = in_child("appends", url, args, timeout=900)
    if args.only in ("", "log"):
        print(f"(b) a log of {args.entries:,} entries on SQLite")
        result["log"] = in_child("log", None, args, timeout=7200)

    rows = []
    for db, a in result["appends"].items():
        for r in a["results"].values():
            rows.append([db, r["label"], f"{r['per_second']:,.0f}/s", r["ratio_to_raw_sm3"]])
    result["append_table"] = table(rows, ["database", "operation", "rate", "÷ raw SM3"])
    if "log" not in result:
        result["log_table"] = ""
        return result
    lg = result["log"]
    rows = [
        [
            f"raw SM3 of the {lg['entries']:,} entries — baseline",
            f"{lg['raw_sm3_all']['seconds']} s",
            "1",
        ],
        [
            "the same recomputed in memory (leaf hashes + root)",
            f"{lg['in_memory_recompute']['seconds']} s",
            lg["in_memory_recompute"]["ratio_to_raw_sm3_all"],
        ],
        [
            "tongban audit verify (audit_log_verify), whole log",
            f"{lg['audit_verify']['seconds']} s",
            lg["audit_verify"]["ratio_to_raw_sm3_all"],
        ],
        [
            "witness: checkpoint signature + consistency proof",
            f"p50 {lg['witness']['p50_ms']} ms / p99 {lg['witness']['p99_ms']} ms",
            lg["witness"]["ratio_p50_to_raw_sm3_all"],
        ],
        [
            "inclusion proof of a random leaf",
            f"p50 {lg['inclusion']['p50_ms']} ms / p99 {lg['inclusion']['p99_ms']} ms",
            lg["inclusion"]["ratio_p50_to_raw_sm3_all"],
        ],
    ]
    rows.append(
        [
            "the same, one leaf again and again (cached pages)",
            f"p50 {lg['inclusion_same_leaf']['p50_ms']} ms",
            "",
        ]
    )
    result["log_table"] = table(rows, ["operation", "time", "÷ raw SM3 of all entries"])
    return result


def main(argv=None) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000, help="size of the large log")
    parser.add_argument("--append-seconds", type=float, default=6, help="time per append figure")
    parser.add_argument(
        "--max-appends", type=int, default=200_000, help="stop appending after this many"
    )
    parser.add_argument("--proof-seconds", type=float, default=3, help="time per proof figure")
    parser.add_argument(
        "--postgres",
        default="",
        help="also measure appends on this PostgreSQL server (a scratch database is made)",
    )
    parser.add_argument(
        "--only", choices=["appends", "log"], default="", help="run only (a) or only (b)"
    )
    parser.add_argument("--child", choices=["appends", "log"], help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--json-out", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.entries < 2:
        parser.error("--entries must be at least 2")
    if args.child:
        child(args)
        return None
    t0 = time.monotonic()
    result = run(args)
    result["total_seconds"] = round(time.monotonic() - t0, 1)
    print(result["append_table"])
    print(result["log_table"])
    write_result(NAME, result)
    return result


if __name__ == "__main__":
    main()
