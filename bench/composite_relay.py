"""联办件 (接续办) overhead per stage hop: a three-stage relay whose stages alternate
nodes, decided by the benchmark, against one plain delivery measured in the same run.

The relay is 城镇职工基本养老保险关系转移接续 (000520001000), taken at the 青浦 window
(sh) with 转出地 浙江 (from_region 330000):

    stage 1 出具联系函   上海市人力资源和社会保障局 (sh)   — the coordinating node
    stage 2 转出        浙江省人力资源和社会保障厅 (zj)
    stage 3 确认接收     上海市人力资源和社会保障局 (sh)

A hop is the time from the moment stage n's ``POST /cases/<n>/approve`` answered to the
moment stage n+1's case is visible at its node:

* hop 1 (sh → zj): sh's approval starts stage 2 in the same transaction (a new case and
  its ``case.submit`` in sh's outbox); measured until ``GET /api/v1/cases/<stage 2>`` at
  zj, as the stage's official, answers 200;
* hop 2 (zj → sh): zj's approval sends ``case.event`` (with the outputs) back to sh, where
  applying it starts stage 3; measured until the 联办件 at sh names stage 3's case and
  ``GET /api/v1/cases/<stage 3>`` answers 200 to sh's official.

Baseline, interleaved with the relays: one plain ``case.submit`` delivery sh → zj — a
内资有限公司设立登记 taken at the same window for 嘉兴市市场监督管理局 (zj), from the
intake ``POST`` answering to ``GET`` 200 at zj (what bench/delivery_latency.py measures
the other way round). Each hop's p50/p99 is reported as a ratio to the baseline's.
The breakdown of each hop comes from the sending node's outbox timestamps, as in
delivery_latency (queued → request → processing → response → visible).

Two passes: the workers' default idle poll (0.5 s) and a fast one (0.05 s), both
workers (sh and zj) restarted with the setting. A random pause before each
measurement keeps arrivals from being phase-locked to the idle sleep.

    .venv/bin/python bench/composite_relay.py [--relays 20] [--quick]
"""

from __future__ import annotations

import argparse
import functools
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    PHASES,
    add_phases,
    applicant_for,
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

NAME = "composite_relay"
PENSION = "000520001000"
SH_HRSS = "上海市人力资源和社会保障局"
ZJ_HRSS = "浙江省人力资源和社会保障厅"
JIAXING = "嘉兴市市场监督管理局"
WINDOW = "sh-310118-01"
CLERK = "qingpu.clerk"
STAGE_OUTPUTS = {
    "contact_letter": lambda i: {"letter_number": f"沪人社联〔2026〕{i:05d}号"},
    "transfer_out": lambda i: {
        "insured_periods": "2015-07至2026-10",
        "account_balance": "86432.10",
        "fund_transfer_amount": "120500.00",
    },
    "receive": lambda i: {},
}


def officials(region) -> dict[str, str]:
    """Organization name → its demo official's username, at sh and zj (the accounts are
    numbered by organization code, so they are read from the node's own list)."""
    found = {}
    for node in ("sh", "zj"):
        for line in region.manage(node, "demo-accounts").splitlines():
            username, _sep, what = line.partition(" ")
            what = what.strip()
            if what.startswith("审批 · "):
                found[what.removeprefix("审批 · ")] = username
    return found


class Relay:
    def __init__(self, region, clients: dict):
        self.region = region
        self.c = clients
        clerk = clients["clerk"]
        self.pension = clerk.get(f"/items/{PENSION}").json()
        self.establishment_code = "000301001000"
        self.establishment = clerk.get(f"/items/{self.establishment_code}").json()
        self.sh_hrss = _implementation(self.pension, SH_HRSS)
        self.jiaxing = _implementation(self.establishment, JIAXING)

    def relay_body(self, i: int) -> dict:
        from tongban.demo_seed import material_payload

        applicant = applicant_for(i, "310101")
        return {
            "window": WINDOW,
            "item": PENSION,
            "organization": self.sh_hrss,
            "applicant": applicant,
            "form": {
                "applicant_name": applicant["name"],
                "applicant_id_number": applicant["id_number"],
                "contact_phone": applicant["phone"],
                "from_region": "330000",
                "new_employer": "上海青禾数字科技有限公司",
            },
            "materials": material_payload(self.pension),
        }

    def baseline_body(self, i: int) -> dict:
        from tongban.demo_seed import form_payload, material_payload

        applicant = applicant_for(i, "310101")
        return {
            "window": WINDOW,
            "item": self.establishment_code,
            "organization": self.jiaxing,
            "applicant": applicant,
            "form": form_payload(self.establishment, applicant, f"上海示例{i:06d}科技有限公司"),
            "materials": material_payload(self.establishment),
        }

    def baseline(self, i: int, *, poll: float, timeout: float) -> dict:
        clerk, official = self.c["clerk"], self.c["jiaxing"]
        t0 = time.time()
        r = clerk.post("/cases", self.baseline_body(i))
        t1 = time.time()
        if r.status_code != 201:
            raise RuntimeError(f"intake failed: {r.status_code} {r.text[:300]}")
        number = r.json()["number"]
        _, polls = wait_until(
            lambda: official.get(f"/cases/{number}").status_code == 200,
            poll=poll,
            timeout=timeout,
            what=f"{number} at zj",
        )
        t2 = time.time()
        return {"number": number, "post": t1 - t0, "latency": t2 - t1, "polls": polls, "at": t1}

    def decide(self, client, number: str, outputs: dict) -> tuple[float, float]:
        """受理 and 准予 one stage; (approve POST seconds, the moment it answered)."""
        r = client.post(f"/cases/{number}/accept", {})
        if r.status_code != 200:
            raise RuntimeError(f"accept {number}: {r.status_code} {r.text[:300]}")
        t0 = time.time()
        r = client.post(f"/cases/{number}/approve", {"result": outputs})
        t1 = time.time()
        if r.status_code != 200:
            raise RuntimeError(f"approve {number}: {r.status_code} {r.text[:300]}")
        return t1 - t0, t1

    def relay(self, i: int, *, poll: float, timeout: float, pause_max: float) -> dict:
        clerk, sh, zj = self.c["clerk"], self.c["sh_hrss"], self.c["zj_hrss"]
        t0 = time.time()
        r = clerk.post("/cases", self.relay_body(i))
        post = time.time() - t0
        if r.status_code != 201:
            raise RuntimeError(f"relay intake failed: {r.status_code} {r.text[:300]}")
        body = r.json()
        number = body["number"]
        stages = {s["key"]: s for s in body["stages"]}
        first = stages["contact_letter"]["number"]
        sh.get(f"/cases/{first}")  # the official opens it (not timed)

        # hop 1: sh approves stage 1 → stage 2 visible at zj
        time.sleep(random.uniform(0, pause_max))
        approve_1, t_1 = self.decide(sh, first, STAGE_OUTPUTS["contact_letter"](i))
        second = self._stage_number(clerk, number, "transfer_out")
        _, polls_1 = wait_until(
            lambda: zj.get(f"/cases/{second}").status_code == 200,
            poll=poll,
            timeout=timeout,
            what=f"stage 2 {second} at zj",
        )
        hop_1 = time.time() - t_1

        # hop 2: zj approves stage 2 → stage 3 visible at sh
        time.sleep(random.uniform(0, pause_max))
        approve_2, t_2 = self.decide(zj, second, STAGE_OUTPUTS["transfer_out"](i))

        def third_visible():
            n = self._stage_number(clerk, number, "receive", wait=False)
            return n if n and sh.get(f"/cases/{n}").status_code == 200 else None

        third, polls_2 = wait_until(
            third_visible, poll=poll, timeout=timeout, what=f"stage 3 of {number} at sh"
        )
        hop_2 = time.time() - t_2

        # stage 3 decided (not timed as a hop); the 联办件 must end 已办结
        approve_3, _t3 = self.decide(sh, third, STAGE_OUTPUTS["receive"](i))
        status = clerk.get(f"/cases/{number}").json()["status"]
        if status != "approved":
            raise RuntimeError(f"{number} ended {status!r}, not approved")
        return {
            "number": number,
            "stages": [first, second, third],
            "intake_post": post,
            "approve_post": [approve_1, approve_2, approve_3],
            "hops": [hop_1, hop_2],
            "hop_at": [t_1, t_2],
            "polls": [polls_1, polls_2],
        }

    @staticmethod
    def _stage_number(clerk, number: str, key: str, *, wait: bool = True) -> str | None:
        body = clerk.get(f"/cases/{number}").json()
        found = next(s for s in body["stages"] if s["key"] == key)
        if not found.get("number") and wait:
            raise RuntimeError(f"{number}: stage {key} was not started by the approval")
        return found.get("number") or None


def _implementation(item: dict, organization_name: str) -> str:
    return next(
        i["organization"]
        for i in item["implementations"]
        if i["organization_name"] == organization_name
    )


def _breakdown(outbox: list[dict], kind: str, samples: list[tuple[str, float]]) -> dict:
    """Per phase from the sender's outbox timestamps; samples: (correlation, visible at)."""
    by_correlation: dict[str, dict] = {}
    for row in outbox:  # a stage's last event is its approval
        if row["type"] == kind and row["seq"] >= by_correlation.get(row["correlation"], row)["seq"]:
            by_correlation[row["correlation"]] = row
    phases: dict[str, list[float]] = {p: [] for p in PHASES}
    for correlation, visible in samples:
        add_phases(phases, by_correlation.get(correlation), visible)
    return {p: percentiles(v) for p, v in phases.items()}


def measure(
    bench: Relay, *, relays: int, poll: float, pause_max: float, max_seconds: float, index: int
) -> dict:
    rows, base = [], []
    t_start = time.monotonic()
    for n in range(relays):
        if time.monotonic() - t_start > max_seconds:
            break
        time.sleep(random.uniform(0, pause_max))
        base.append(bench.baseline(index + 2 * n, poll=poll, timeout=30))
        rows.append(bench.relay(index + 2 * n + 1, poll=poll, timeout=30, pause_max=pause_max))
    sh_outbox = bench.c["sh_admin"].get("/exchange/outbox", limit=500).json()
    zj_outbox = bench.c["zj_admin"].get("/exchange/outbox", limit=500).json()
    hop_1 = [r["hops"][0] for r in rows]
    hop_2 = [r["hops"][1] for r in rows]
    baseline = [b["latency"] for b in base]
    return {
        "relays": len(rows),
        "baseline_deliveries": len(base),
        "baseline": percentiles(baseline),
        "hop": percentiles(hop_1 + hop_2),
        "hop_1_sh_to_zj": percentiles(hop_1),
        "hop_2_zj_to_sh": percentiles(hop_2),
        "relay_two_hops": percentiles([a + b for a, b in zip(hop_1, hop_2, strict=True)]),
        "breakdown": {
            "baseline": _breakdown(
                sh_outbox, "case.submit", [(b["number"], b["at"] + b["latency"]) for b in base]
            ),
            "hop_1_sh_to_zj": _breakdown(
                sh_outbox,
                "case.submit",
                [(r["stages"][1], r["hop_at"][0] + r["hops"][0]) for r in rows],
            ),
            "hop_2_zj_to_sh": _breakdown(
                zj_outbox,
                "case.event",
                [(r["stages"][1], r["hop_at"][1] + r["hops"][1]) for r in rows],
            ),
        },
        "approve_post": {
            "stage_1_sh_starts_remote_stage_2": percentiles([r["approve_post"][0] for r in rows]),
            "stage_2_zj": percentiles([r["approve_post"][1] for r in rows]),
            "stage_3_sh_concludes": percentiles([r["approve_post"][2] for r in rows]),
        },
        "intake_post": {
            "relay": percentiles([r["intake_post"] for r in rows]),
            "baseline": percentiles([b["post"] for b in base]),
        },
        "mean_polls": {
            "baseline": round(sum(b["polls"] for b in base) / max(len(base), 1), 1),
            "hop_1": round(sum(r["polls"][0] for r in rows) / max(len(rows), 1), 1),
            "hop_2": round(sum(r["polls"][1] for r in rows) / max(len(rows), 1), 1),
        },
    }


@own_region("relay")
def run(
    region,
    *,
    relays: int = 20,
    poll_ms: float = 10,
    fast_idle: float = 0.05,
    max_seconds: float = 120,
    passes=("idle_default", "idle_fast"),
) -> dict:
    from tongban.identity.demo_accounts import DEMO_PASSWORD
    from tongban.region import ApiClient

    names = officials(region)

    def client(node, username):
        return ApiClient(region.url(node), username, DEMO_PASSWORD)

    clients = {
        "clerk": client("sh", CLERK),
        "sh_hrss": client("sh", names[SH_HRSS]),
        "zj_hrss": client("zj", names[ZJ_HRSS]),
        "jiaxing": client("zj", names[JIAXING]),
        "sh_admin": client("sh", "sh.admin"),
        "zj_admin": client("zj", "zj.admin"),
    }
    bench = Relay(region, clients)
    poll = poll_ms / 1000
    print(
        f"relay hops sh → zj → sh: ≤{relays} relays per pass (≤{max_seconds:.0f} s), "
        f"each with a baseline delivery sh → zj; polled every {poll_ms:g} ms"
    )
    index = 6_000_000  # applicants distinct from the other benchmarks
    bench.baseline(index, poll=poll, timeout=60)  # warm-up of both nodes
    bench.relay(index + 1, poll=poll, timeout=60, pause_max=0)
    index += 10
    result: dict = {
        "revision": git_revision(),
        "setup": {
            "item": f"{PENSION} 城镇职工基本养老保险关系转移接续",
            "stages": [f"1 {SH_HRSS} (sh)", f"2 {ZJ_HRSS} (zj)", f"3 {SH_HRSS} (sh)"],
            "baseline": f"000301001000 内资有限公司设立登记, {WINDOW} (sh) → {JIAXING} (zj)",
            "poll_ms": poll_ms,
            "web_workers": region.web_workers,
            "web_threads": region.web_threads,
        },
        "passes": {},
    }
    settings = {"idle_default": (None, 0.5), "idle_fast": (fast_idle, fast_idle)}
    for name in passes:
        idle, interval = settings[name]
        set_worker_idle(region, idle, ("sh", "zj"))
        time.sleep(1)
        p, wall = measured_pass(
            region,
            functools.partial(
                measure,
                bench,
                relays=relays,
                poll=poll,
                pause_max=interval,
                max_seconds=max_seconds,
                index=index,
            ),
            units="relays",
        )
        p["worker_idle_seconds"] = interval
        p["seconds"] = round(wall, 1)
        for key in ("hop", "hop_1_sh_to_zj", "hop_2_zj_to_sh"):
            p[f"ratio_{key}_p50_to_baseline_p50"] = ratio(
                p[key]["p50_ms"], p["baseline"]["p50_ms"], 2
            )
            p[f"ratio_{key}_p99_to_baseline_p99"] = ratio(
                p[key]["p99_ms"], p["baseline"]["p99_ms"], 2
            )
        result["passes"][name] = p
        index += 100_000
        print(
            f"  {name:<12} idle {interval:>4} s: hop p50 {p['hop']['p50_ms']} / p99 "
            f"{p['hop']['p99_ms']} ms; baseline p50 {p['baseline']['p50_ms']} / p99 "
            f"{p['baseline']['p99_ms']} ms (n={p['relays']} relays)"
        )
    set_worker_idle(region, None, ("sh", "zj"))  # leave the region as found

    rows = []
    for name, p in result["passes"].items():
        for key, label in (
            ("baseline", "delivery sh → zj (baseline)"),
            ("hop_1_sh_to_zj", "hop 1 sh → zj"),
            ("hop_2_zj_to_sh", "hop 2 zj → sh"),
            ("hop", "hop, both"),
        ):
            s = p[key]
            b = p["breakdown"].get(key, {})
            rows.append(
                [
                    name,
                    label,
                    s["n"],
                    s["p50_ms"],
                    s["p99_ms"],
                    "1" if key == "baseline" else p[f"ratio_{key}_p50_to_baseline_p50"],
                    "1" if key == "baseline" else p[f"ratio_{key}_p99_to_baseline_p99"],
                    b.get("queued", {}).get("p50_ms"),
                    b.get("processing", {}).get("p50_ms"),
                    b.get("visible", {}).get("p50_ms"),
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
            "proc",
            "visible",
        ],
    )
    return result


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--relays", type=int, default=20, help="relays (and baselines) per pass")
    parser.add_argument("--quick", action="store_true", help="5 relays per pass")
    parser.add_argument("--poll-ms", type=float, default=10)
    parser.add_argument("--fast-idle", type=float, default=0.05)
    parser.add_argument("--max-seconds", type=float, default=120, help="time budget per pass")
    parser.add_argument("--passes", default="idle_default,idle_fast")
    args = parser.parse_args(argv)
    require_postgres()
    result = run(
        relays=5 if args.quick else args.relays,
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
