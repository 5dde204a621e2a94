"""Cross-node delivery latency: a case submitted at the 嘉善 window (zj) until
the 青浦 official (sh) can open it.

For each case: ``POST /api/v1/cases`` at zj as ``jiashan.clerk``, then poll
``GET /api/v1/cases/<number>`` at sh as ``qingpu.official`` every
``--poll-ms`` until it answers 200. Latency is measured from the moment the
zj answer arrived (the case and its envelope are committed) to the first 200
at sh; the breakdown comes from the zj outbox's timestamps
(``GET /api/v1/exchange/outbox`` as ``zj.admin``):

    queued      request_out_at  − created_at       waiting for the zj worker (idle poll)
    request     request_in_at   − request_out_at   HTTP to sh, up to the inbox view
    processing  response_out_at − request_in_at    sh verifies, applies, signs the receipt
    response    response_in_at  − response_out_at  sh commits and answers
    visible     first 200 at sh − response_in_at    (clock of this process; ≈ poll interval)

Cases are submitted one at a time with a random pause (uniform in
0…idle-interval) between them so that arrivals are not phase-locked to the
worker's idle sleep. Three passes:

* ``idle_default`` — the worker's default idle poll, TONGBAN_WORKER_IDLE_SECONDS=0.5;
* ``idle_fast`` — TONGBAN_WORKER_IDLE_SECONDS=0.05 (set via Region.extra_env and
  a restart of the zj worker);
* ``idle_fast_loaded`` — as idle_fast, with background intake at zj
  (``--background-rate`` cases/s from two other client threads).

Baselines from the same run: the zj intake ``POST`` itself (p50) and a
``GET /api/v1/cases/<number>`` at sh (p50).

    .venv/bin/python bench/delivery_latency.py [--cases 100] [--poll-ms 10]
"""

from __future__ import annotations

import argparse
import functools
import random
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    PHASES,
    QINGPU,
    Intake,
    add_phases,
    git_revision,
    measured_pass,
    own_region,
    percentiles,
    ratio,
    require_postgres,
    set_worker_idle,
    table,
    wait_until,
    write_result,
)

NAME = "delivery_latency"


class Background:
    """Steady intake at zj from other client threads (bounded by stop() and a deadline)."""

    def __init__(
        self,
        intake: Intake,
        *,
        rate: float,
        threads: int = 2,
        max_seconds: float = 600,
        first_index: int = 0,
    ):
        self.intake, self.rate, self.threads = intake, rate, threads
        self.stop_event = threading.Event()
        self.deadline = time.monotonic() + max_seconds
        self.submitted = 0
        self.errors = 0
        self.lock = threading.Lock()
        self.index = first_index
        self.workers: list[threading.Thread] = []

    def _run(self) -> None:
        client = self.intake.client()
        interval = self.threads / self.rate
        next_at = time.monotonic() + random.uniform(0, interval)
        while not self.stop_event.is_set() and time.monotonic() < self.deadline:
            delay = next_at - time.monotonic()
            if delay > 0 and self.stop_event.wait(delay):
                return
            next_at += interval
            with self.lock:
                self.index += 1
                i = self.index
            r = client.post("/cases", self.intake.body(i))
            with self.lock:
                if r.status_code == 201:
                    self.submitted += 1
                else:
                    self.errors += 1

    def __enter__(self):
        for _ in range(self.threads):
            t = threading.Thread(target=self._run, daemon=True)
            t.start()
            self.workers.append(t)
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        for t in self.workers:
            t.join(timeout=30)


def _with_background(measure, intake: Intake, *, rate: float, first_index: int) -> dict:
    """``measure()`` while other client threads submit ``rate`` cases/s at zj."""
    with Background(intake, rate=rate, first_index=first_index) as bg:
        time.sleep(1)
        p = measure()
    p["background"] = {"submitted": bg.submitted, "errors": bg.errors}
    return p


def measure(
    intake: Intake,
    clerk,
    official,
    admin,
    *,
    cases: int,
    poll: float,
    pause_max: float,
    first_index: int,
    max_seconds: float,
    timeout: float = 30,
) -> dict:
    rows = []
    t_start = time.monotonic()
    for n in range(cases):
        if time.monotonic() - t_start > max_seconds:
            break
        time.sleep(random.uniform(0, pause_max))
        t0 = time.time()
        r = clerk.post("/cases", intake.body(first_index + n))
        t1 = time.time()
        if r.status_code != 201:
            raise RuntimeError(f"intake failed: {r.status_code} {r.text[:300]}")
        number = r.json()["number"]
        _, polls = wait_until(
            lambda number=number: official.get(f"/cases/{number}").status_code == 200,
            poll=poll,
            timeout=timeout,
            what=f"{number} at sh",
        )
        t2 = time.time()
        rows.append(
            {"number": number, "submit_start": t0, "submitted": t1, "visible": t2, "polls": polls}
        )
    # the zj outbox's four timestamps for these cases
    by_number = {}
    for row in admin.get("/exchange/outbox", limit=500).json():
        if row["type"] == "case.submit":
            by_number.setdefault(row["correlation"], row)
    phases: dict[str, list[float]] = {p: [] for p in PHASES}
    end_to_end, after_commit, post = [], [], []
    for row in rows:
        post.append(row["submitted"] - row["submit_start"])
        end_to_end.append(row["visible"] - row["submit_start"])
        after_commit.append(row["visible"] - row["submitted"])
        add_phases(phases, by_number.get(row["number"]), row["visible"])
    return {
        "cases": len(rows),
        "latency_after_commit": percentiles(after_commit),
        "latency_end_to_end": percentiles(end_to_end),
        "intake_post": percentiles(post),
        "breakdown": {p: percentiles(v) for p, v in phases.items()},
        "mean_polls": round(sum(r["polls"] for r in rows) / max(len(rows), 1), 1),
    }


@own_region("delivery")
def run(
    region,
    *,
    cases: int = 100,
    poll_ms: float = 10,
    fast_idle: float = 0.05,
    background_rate: float = 4.0,
    max_seconds: float = 90,
    passes=("idle_default", "idle_fast", "idle_fast_loaded"),
) -> dict:
    from tongban.identity.demo_accounts import DEMO_PASSWORD
    from tongban.region import ApiClient

    intake = Intake(region)
    clerk = intake.client()
    official = ApiClient(region.url("sh"), "qingpu.official", DEMO_PASSWORD)
    admin = ApiClient(region.url("zj"), "zj.admin", DEMO_PASSWORD)
    poll = poll_ms / 1000
    index = 5_000_000  # applicants distinct from the other benchmarks
    print(
        f"delivery latency zj → sh: ≤{cases} cases per pass (≤{max_seconds:.0f} s), "
        f"sh polled every {poll_ms:g} ms"
    )

    # baselines: a GET of an existing case at sh, and warm-up of both nodes
    r = clerk.post("/cases", intake.body(index))
    index += 1
    number = r.json()["number"]
    deadline = time.monotonic() + 30
    while official.get(f"/cases/{number}").status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    samples = []
    for _ in range(100):
        t0 = time.perf_counter()
        official.get(f"/cases/{number}")
        samples.append(time.perf_counter() - t0)
    result: dict = {
        "revision": git_revision(),
        "setup": {
            "poll_ms": poll_ms,
            "fast_idle_seconds": fast_idle,
            "background_rate_cases_per_second": background_rate,
            "web_workers": region.web_workers,
            "web_threads": region.web_threads,
            "handling_organization": QINGPU,
        },
        "baseline_sh_case_get": percentiles(samples),
        "passes": {},
    }
    settings = {
        "idle_default": (None, 0.5, 0),
        "idle_fast": (fast_idle, fast_idle, 0),
        "idle_fast_loaded": (fast_idle, fast_idle, background_rate),
    }
    for name in passes:
        idle, interval, rate = settings[name]
        set_worker_idle(region, idle)
        time.sleep(1)
        one_pass = functools.partial(
            measure,
            intake,
            clerk,
            official,
            admin,
            cases=cases,
            poll=poll,
            pause_max=interval,
            first_index=index,
            max_seconds=max_seconds,
        )
        if rate:
            one_pass = functools.partial(
                _with_background, one_pass, intake, rate=rate, first_index=index + 50_000
            )
        p, _wall = measured_pass(region, one_pass, units="cases")
        p["worker_idle_seconds"] = interval
        index += 100_000
        result["passes"][name] = p
        lat = p["latency_after_commit"]
        print(
            f"  {name:<17} idle {interval:>4} s: p50 {lat['p50_ms']} ms, p95 {lat['p95_ms']} ms, "
            f"p99 {lat['p99_ms']} ms  (n={lat['n']}; queued p50 "
            f"{p['breakdown']['queued'].get('p50_ms')} ms, sh processing p50 "
            f"{p['breakdown']['processing'].get('p50_ms')} ms)"
        )
    set_worker_idle(region, None)  # leave the region as found

    base_get = result["baseline_sh_case_get"]["p50_ms"]
    rows = []
    for name, p in result["passes"].items():
        lat = p["latency_after_commit"]
        post_p50 = p["intake_post"]["p50_ms"]
        p["ratio_p50_to_intake_post_p50"] = ratio(lat["p50_ms"], post_p50, 2)
        p["ratio_p50_to_sh_get_p50"] = ratio(lat["p50_ms"], base_get, 2)
        b = p["breakdown"]
        rows.append(
            [
                name,
                p["worker_idle_seconds"],
                lat["n"],
                lat["p50_ms"],
                lat["p95_ms"],
                lat["p99_ms"],
                b["queued"].get("p50_ms"),
                b["request"].get("p50_ms"),
                b["processing"].get("p50_ms"),
                b["response"].get("p50_ms"),
                b["visible"].get("p50_ms"),
                post_p50,
                p["ratio_p50_to_intake_post_p50"],
            ]
        )
    result["table"] = table(
        rows,
        [
            "pass",
            "idle s",
            "n",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "queued",
            "request",
            "sh proc",
            "response",
            "visible",
            "POST p50",
            "÷POST",
        ],
    )
    return result


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100, help="cases per pass")
    parser.add_argument("--poll-ms", type=float, default=10)
    parser.add_argument("--fast-idle", type=float, default=0.05)
    parser.add_argument(
        "--background-rate", type=float, default=4.0, help="cases/s in the loaded pass"
    )
    parser.add_argument("--max-seconds", type=float, default=90, help="time budget per pass")
    parser.add_argument("--passes", default="idle_default,idle_fast,idle_fast_loaded")
    args = parser.parse_args(argv)
    require_postgres()
    result = run(
        cases=args.cases,
        poll_ms=args.poll_ms,
        fast_idle=args.fast_idle,
        background_rate=args.background_rate,
        max_seconds=args.max_seconds,
        passes=tuple(args.passes.split(",")),
    )
    print(result["table"])
    write_result(NAME, result)
    return result


if __name__ == "__main__":
    main()
