"""Where the time goes: py-spy profiles of a region under intake and delivery.

Not part of run_all. Needs py-spy, which is not a project dependency — install
it outside the project's environment, e.g.::

    python3 -m venv /tmp/prof && /tmp/prof/bin/pip install py-spy
    .venv/bin/python bench/profile_region.py --py-spy /tmp/prof/bin/py-spy

1. the zj worker is stopped and one client submits cases for ``--seconds``
   while py-spy samples the zj web server (all gunicorn workers);
2. the zj worker is started and drains that backlog while py-spy samples the
   sh web server (the inbox), the zj worker and the sh worker.

Writes the collapsed stacks to bench/results/profile/<process>.txt (flame-graph
input) and prints, per process, the share of samples spent in (inclusive) the
project's functions and the main library layers.
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from case_intake import outbox_pending, run_load, wait_drained  # noqa: E402
from common import RESULTS_DIR, Intake, bench_region, pg_reachable  # noqa: E402

OUT = RESULTS_DIR / "profile"
# library layers worth naming besides the project's own functions
LAYERS = {
    "psycopg: waiting for PostgreSQL": ("Connection.wait", "_execute_send"),
    "Django ORM: building SQL": ("SQLCompiler.as_sql",),
    "SM2 sign (tongsuopy)": ("_ecdsa_sig_sign",),
    "SM2 verify (tongsuopy)": ("_ecdsa_sig_verify",),
    "RFC 8785 canonical JSON": ("canonical_json",),
    "HTTP client (requests)": ("Session.request",),
}


def record(py_spy: str, pid: int, name: str, seconds: float) -> subprocess.Popen:
    OUT.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [py_spy, "record", "--pid", str(pid), "--subprocesses", "--rate", "200",
         "--duration", str(int(seconds)), "--format", "raw", "--nonblocking",
         "--output", str(OUT / f"{name}.txt")],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip


def summarize(path: Path, top: int = 25) -> list[tuple[float, str]]:
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        seen = set()
        for frame in stack.split(";"):
            key = re.sub(r":\d+\)", ")", frame)
            if key not in seen:
                seen.add(key)
                inclusive[key] += n
    rows = []
    for key, n in inclusive.items():
        if "(tongban/" in key:
            rows.append((100 * n / max(total, 1), key))
    for label, needles in LAYERS.items():
        n = max((v for k, v in inclusive.items() if any(x in k for x in needles)), default=0)
        if n:
            rows.append((100 * n / max(total, 1), f"[{label}]"))
    rows.sort(reverse=True)
    return rows[:top]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--py-spy", default=shutil.which("py-spy") or "", help="path to py-spy")
    parser.add_argument("--seconds", type=float, default=12)
    args = parser.parse_args(argv)
    if not args.py_spy or not Path(args.py_spy).exists():
        sys.exit("py-spy not found: pass --py-spy /path/to/py-spy (see the module docstring)")
    if not pg_reachable():
        sys.exit("PostgreSQL is not reachable (TONGBAN_BENCH_POSTGRES); this needs it")
    from tongban.identity.demo_accounts import DEMO_PASSWORD
    from tongban.region import ApiClient

    with bench_region("profile") as region:
        intake = Intake(region)
        admin = ApiClient(region.url("zj"), "zj.admin", DEMO_PASSWORD)

        def submit(client, i):
            r = client.http.post(client.base + "/cases", json=intake.body(i), timeout=60)
            return r.status_code == 201, r.status_code

        run_load(intake.client, submit, clients=2, total=20, seconds=30, first_index=7_000_000)
        wait_drained(admin)
        region.stop("zj", web=False)
        spy = record(args.py_spy, region.processes["zj-web"].pid, "zj-web-intake", args.seconds)
        time.sleep(1)
        load = run_load(intake.client, submit, clients=1, total=100_000,
                        seconds=args.seconds - 2, first_index=7_100_000)  # fmt: skip
        spy.wait(timeout=args.seconds + 60)
        print(
            f"intake under the profiler: {load['per_second']} cases/s; "
            f"backlog {outbox_pending(admin)}"
        )
        region.start("zj", web=False)
        spies = [
            record(args.py_spy, region.processes[name].pid, f"{name}-delivery", args.seconds / 2)
            for name in ("sh-web", "zj-worker", "sh-worker")
        ]
        for s in spies:
            s.wait(timeout=args.seconds + 60)
        wait_drained(admin, timeout=300)
    for path in sorted(OUT.glob("*.txt")):
        print(f"\n== {path.stem} (share of samples, inclusive)")
        for share, key in summarize(path):
            print(f"  {share:5.1f}%  {key[:110]}")


if __name__ == "__main__":
    main()
