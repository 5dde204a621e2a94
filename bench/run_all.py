"""Run every benchmark (``make bench``) in about seven minutes.

SM2/SM3 first (one core, no region); then the e-licence and printed-document
figures (one core, node sh on its own SQLite file, each in a child process);
then pgbench baselines;
then ONE region (hub + sh + zj on fresh PostgreSQL databases) shared by case
intake, delivery latency, the 联办件 relay hops and case list, in that order — preparing a region
takes ~30 s, so it is done once; then the audit log (a 100,000-entry log instead of 1,000,000)
and the data.query round trip (its own hub + sh + ah region, 8 queries), each as its own
script in a child process. The budgets are smaller than the scripts' own
defaults (see SMALL below); the case list uses 200,000 bulk rows instead of
1,000,000. Run a script alone for its full-size figures, e.g.
``.venv/bin/python bench/case_list.py``.

Writes bench/results/<name>.json for each benchmark and bench/results/summary.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import case_intake  # noqa: E402
import case_list  # noqa: E402
import composite_relay  # noqa: E402
import delivery_latency  # noqa: E402
import documents  # noqa: E402
import licence_verify  # noqa: E402
import sm2_verify  # noqa: E402
from common import (  # noqa: E402
    QUIET_WAIT,
    bench_region,
    git_revision,
    pg_reachable,
    pgbench_baseline,
    table,
    wait_quiet,
    write_result,
)

SMALL = {
    "sm2_verify": {"seconds": 1.0},
    "licence_verify": {"seconds": 1.0, "status_list_size": 100_000},
    "documents": {"seconds": 1.0},
    "pgbench": {"seconds": 4, "select_only": False},
    "case_intake": {"clients": (1, 4, 8), "cases": 70, "seconds": 12},
    "delivery_latency": {"cases": 40, "max_seconds": 40},
    "composite_relay": {"relays": 10, "max_seconds": 40},
    "case_list": {"rows": 200_000, "samples": 30, "max_seconds": 4},
    "audit_log": ["--entries", "100000", "--append-seconds", "1", "--proof-seconds", "0.5"],
    "data_sharing": ["--quick", "--passes", "idle_default"],
}
BENCH_DIR = Path(__file__).resolve().parent


def script_in_subprocess(name: str, args: list[str]) -> dict:
    """Run bench/<name>.py in a child process (it sets Django up as its own node) and read
    the figures it wrote to bench/results/<name>.json."""
    subprocess.run([sys.executable, str(BENCH_DIR / f"{name}.py"), *args], check=True)
    return json.loads((BENCH_DIR / "results" / f"{name}.json").read_text(encoding="utf-8"))


def summarize(results: dict) -> tuple[list[list], dict]:
    rows: list[list] = []
    headline: dict = {}
    sm2 = results.get("sm2_verify")
    if sm2:
        r = sm2["results"]
        base = r["sm2_verify_raw"]["per_second"]
        rows.append(
            ["sm2_verify", "SM2 verify (tongsuopy), one core", f"{base:,.0f}/s", "1 (baseline)"]
        )
        for key in (
            "sm2_sign_raw",
            "envelope_verify_pure",
            "envelope_sign_pure",
            "sm3_1mb",
            "gmssl_verify",
        ):
            if key not in r:
                continue
            rows.append(
                [
                    "sm2_verify",
                    r[key]["label"],
                    f"{r[key]['per_second']:,.0f}/s",
                    f"{r[key]['ratio_to_raw_verify']} × verify",
                ]
            )
        headline["sm2_verify_per_second"] = base
        headline["envelope_verify_pure_per_second"] = r["envelope_verify_pure"]["per_second"]
    lic = results.get("licence_verify")
    if lic:
        r = lic["results"]
        rows.append(
            [
                "licence_verify",
                "SM2 verify (tongsuopy), same run",
                f"{r['sm2_verify_raw']['per_second']:,.0f}/s",
                "1 (baseline)",
            ]
        )
        for key in (
            "presentation_verify_peer",
            "presentation_verify_local",
            "presentation_verify_pure",
            "presentation_create",
            "qr_png",
            "qr_svg",
            "qr_read_png",
        ):
            rows.append(
                [
                    "licence_verify",
                    r[key]["label"],
                    f"{r[key]['per_second']:,.0f}/s",
                    f"{r[key]['ratio_to_raw_verify']} × verify",
                ]
            )
        sizes = lic["qr_sizes"]
        for label in ("2_fields", next(k for k in sizes if k.startswith("all_"))):
            s = sizes[label]
            rows.append(
                [
                    "licence_verify",
                    f"QR text, {s['fields']} fields disclosed",
                    f"{s['qr_text_chars']} characters, QR version {s['qr_version']}",
                    "",
                ]
            )
        headline["licence_presentation_verify_per_second"] = r["presentation_verify_peer"][
            "per_second"
        ]
        headline["licence_qr_chars_2_fields"] = sizes["2_fields"]["qr_text_chars"]
    docs = results.get("documents")
    if docs:
        r = docs["results"]
        rows.append(
            [
                "documents",
                "SM2 verify (tongsuopy), same run",
                f"{r['sm2_verify_raw']['per_second']:,.0f}/s",
                "1 (baseline)",
            ]
        )
        for key in (
            "document_issue",
            "document_verify_offline",
            "pdf_certificate",
            "pdf_decision",
            "ofd_certificate",
            "ofd_decision",
            "pdf_qr_certificate",
            "pdf_text_decision",
            "read_back_decision",
        ):
            rows.append(
                [
                    "documents",
                    r[key]["label"],
                    f"{r[key]['per_second']:,.1f}/s",
                    f"{r[key]['ratio_to_raw_verify']} × verify",
                ]
            )
        for s in docs["sizes"].values():
            rows.append(
                [
                    "documents",
                    f"{s['title']}, {s['pages']} page(s)",
                    f"PDF {s['pdf_bytes']:,} B, OFD {s['ofd_bytes']:,} B, QR {s['qr_text_chars']} "
                    f"characters, version {s['qr_version']}",
                    "",
                ]
            )
        headline["document_issue_per_second"] = r["document_issue"]["per_second"]
        headline["document_pdf_certificate_per_second"] = r["pdf_certificate"]["per_second"]
    intake = results.get("case_intake")
    if intake:
        for mode, passes in intake["passes"].items():
            for c, p in passes.items():
                lat = p["latency"]
                rows.append(
                    [
                        "case_intake",
                        f"{mode}, {c} client(s)",
                        f"{p['per_second']} cases/s (p50 {lat.get('p50_ms')} / p95 "
                        f"{lat.get('p95_ms')} / p99 {lat.get('p99_ms')} ms)",
                        f"{p.get('ratio_to_pgbench_tpcb')} × pgbench TPC-B",
                    ]
                )
        if intake.get("drain"):
            d = intake["drain"]
            rows.append(
                [
                    "case_intake",
                    "zj worker draining its backlog",
                    f"{d['cases_per_second']} cases/s delivered zj → sh",
                    "",
                ]
            )
        headline["intake_cases_per_second"] = {
            m: {c: p["per_second"] for c, p in ps.items()} for m, ps in intake["passes"].items()
        }
    delivery = results.get("delivery_latency")
    if delivery:
        for name, p in delivery["passes"].items():
            lat = p["latency_after_commit"]
            rows.append(
                [
                    "delivery_latency",
                    f"{name} (idle {p['worker_idle_seconds']} s)",
                    f"p50 {lat['p50_ms']} / p95 {lat['p95_ms']} / p99 {lat['p99_ms']} ms",
                    f"{p.get('ratio_p50_to_intake_post_p50')} × intake POST p50",
                ]
            )
        headline["delivery_p50_ms"] = {
            n: p["latency_after_commit"]["p50_ms"] for n, p in delivery["passes"].items()
        }
    relay = results.get("composite_relay")
    if relay:
        for p in relay["passes"].values():
            for key, label in (
                ("baseline", "delivery sh → zj, same run"),
                ("hop", "联办件 stage hop (sh → zj → sh)"),
            ):
                s = p[key]
                rows.append(
                    [
                        "composite_relay",
                        f"{label} (idle {p['worker_idle_seconds']} s)",
                        f"p50 {s['p50_ms']} / p99 {s['p99_ms']} ms",
                        "1 (baseline)"
                        if key == "baseline"
                        else f"{p['ratio_hop_p50_to_baseline_p50']} × p50, "
                        f"{p['ratio_hop_p99_to_baseline_p99']} × p99",
                    ]
                )
        headline["composite_hop_p50_ms"] = {
            n: p["hop"]["p50_ms"] for n, p in relay["passes"].items()
        }
    lst = results.get("case_list")
    if lst:
        n = lst["bulk"]["cases"]
        for name in ("list", "worklist", "search", "detail"):
            f = lst["full"][name]
            rows.append(
                [
                    "case_list",
                    f"{name} at {n:,} cases",
                    f"p50 {f['p50_ms']} / p99 {f['p99_ms']} ms",
                    f"{f.get('ratio_p50_to_empty')} × nearly-empty database",
                ]
            )
        results = (lst.get("what_if_index") or {}).get("results", {})
        for name in ("list", "search"):
            if name in results:
                wi = results[name]
                rows.append(
                    [
                        "case_list",
                        f"{name}, with the what-if indexes",
                        f"p50 {wi['p50_ms']} ms",
                        f"{wi['ratio_p50_to_without']} × without",
                    ]
                )
        without = (lst.get("what_if_without") or {}).get("results", {}).get("list")
        if without:
            rows.append(
                [
                    "case_list",
                    "list, without the schema's case_org_recent index",
                    f"p50 {without['p50_ms']} ms",
                    f"{without['ratio_p50_to_schema']} × with it",
                ]
            )
        headline["case_list_p50_ms"] = {k: v["p50_ms"] for k, v in lst["full"].items()}
        headline["case_list_rows"] = n
    audit = results.get("audit_log")
    if audit:
        for db, a in audit.get("appends", {}).items():
            for r in a["results"].values():
                rows.append(
                    [
                        "audit_log",
                        f"{r['label']} ({db})",
                        f"{r['per_second']:,.0f}/s",
                        f"{r['ratio_to_raw_sm3']} × raw SM3",
                    ]
                )
        lg = audit.get("log")
        if lg:
            rows.append(
                [
                    "audit_log",
                    f"tongban audit verify, {lg['entries']:,} entries",
                    f"{lg['audit_verify']['seconds']} s",
                    f"{lg['audit_verify']['ratio_to_raw_sm3_all']} × raw SM3 of all entries",
                ]
            )
            rows.append(
                [
                    "audit_log",
                    "witness: checkpoint signature + consistency proof",
                    f"p50 {lg['witness']['p50_ms']} ms",
                    f"{lg['witness']['ratio_p50_to_raw_sm3_all']} × raw SM3 of all entries",
                ]
            )
            headline["audit_verify_seconds"] = lg["audit_verify"]["seconds"]
    sharing = results.get("data_sharing")
    if sharing:
        for name, p in sharing.get("passes", {}).items():
            rows.append(
                [
                    "data_sharing",
                    f"data.query round trip ({name})",
                    f"p50 {p['query']['p50_ms']} ms / p99 {p['query']['p99_ms']} ms",
                    f"{p['ratio_query_p50_to_baseline_p50']} × a plain delivery (p50)",
                ]
            )
            headline[f"data_query_p50_ratio_{name}"] = p["ratio_query_p50_to_baseline_p50"]
    return rows, headline


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated subset: sm2_verify,licence_verify,documents,case_intake,"
        "delivery_latency,composite_relay,case_list,audit_log,data_sharing",
    )
    args = parser.parse_args(argv)
    wanted = set(filter(None, args.only.split(","))) or {
        "sm2_verify",
        "licence_verify",
        "documents",
        "case_intake",
        "delivery_latency",
        "composite_relay",
        "case_list",
        "audit_log",
        "data_sharing",
    }
    QUIET_WAIT["seconds"] = min(QUIET_WAIT["seconds"], 1.0)  # stay within the time budget
    t_start = time.monotonic()
    results: dict = {}
    errors: dict = {}
    timings: dict = {}
    machine_at_start = wait_quiet()

    def attempt(name: str, fn) -> None:
        t0 = time.monotonic()
        print(f"\n=== {name} ===")
        try:
            results[name] = fn()
        except Exception as exc:  # noqa: BLE001 — report and carry on with the others
            traceback.print_exc()
            errors[name] = f"{exc.__class__.__name__}: {exc}"
        timings[name] = round(time.monotonic() - t0, 1)

    if "sm2_verify" in wanted:
        attempt("sm2_verify", lambda: sm2_verify.run(**SMALL["sm2_verify"]))
        if "sm2_verify" in results:
            print(results["sm2_verify"]["table"])
            write_result("sm2_verify", results["sm2_verify"])

    if "licence_verify" in wanted:
        # a child process: Django is set up once per process, and sm2_verify set it up as zj
        attempt(
            "licence_verify",
            lambda: licence_verify.run_in_subprocess(**SMALL["licence_verify"]),
        )
        if "licence_verify" in results:
            print(results["licence_verify"]["table"])
            print(results["licence_verify"]["size_table"])
            write_result("licence_verify", results["licence_verify"])

    if "documents" in wanted:
        attempt("documents", lambda: documents.run_in_subprocess(**SMALL["documents"]))
        if "documents" in results:
            print(results["documents"]["table"])
            print(results["documents"]["size_table"])
            write_result("documents", results["documents"])

    region_benchmarks = [
        n
        for n in ("case_intake", "delivery_latency", "composite_relay", "case_list")
        if n in wanted
    ]
    if region_benchmarks and not pg_reachable():
        for name in region_benchmarks:
            errors[name] = "PostgreSQL is not reachable (TONGBAN_BENCH_POSTGRES)"
        region_benchmarks = []
    pgbench = None
    if "case_intake" in region_benchmarks:

        def baseline():
            return pgbench_baseline(list(SMALL["case_intake"]["clients"]), **SMALL["pgbench"])

        attempt("pgbench", baseline)
        pgbench = results.pop("pgbench", None)
    if region_benchmarks:
        t0 = time.monotonic()
        try:
            with bench_region("all") as region:
                timings["region_prepare"] = region.prepare_seconds
                print(f"region prepared in {region.prepare_seconds} s (hub, sh, zj on PostgreSQL)")
                if "case_intake" in region_benchmarks:

                    def intake():
                        r = case_intake.run(region, **SMALL["case_intake"])
                        return case_intake.add_baselines(r, pgbench)

                    attempt("case_intake", intake)
                if "delivery_latency" in region_benchmarks:
                    attempt(
                        "delivery_latency",
                        lambda: delivery_latency.run(region, **SMALL["delivery_latency"]),
                    )
                if "composite_relay" in region_benchmarks:
                    attempt(
                        "composite_relay",
                        lambda: composite_relay.run(region, **SMALL["composite_relay"]),
                    )
                if "case_list" in region_benchmarks:
                    attempt("case_list", lambda: case_list.run(region, **SMALL["case_list"]))
        except Exception as exc:  # noqa: BLE001
            traceback.print_exc()
            errors["region"] = f"{exc.__class__.__name__}: {exc}"
        timings["region_total"] = round(time.monotonic() - t0, 1)
        for name in region_benchmarks:
            if name in results:
                print(results[name]["table"])
                write_result(name, results[name])

    for name in ("audit_log", "data_sharing"):
        if name not in wanted:
            continue
        if name == "data_sharing" and not pg_reachable():
            errors[name] = "PostgreSQL is not reachable (TONGBAN_BENCH_POSTGRES)"
            continue
        attempt(name, lambda name=name: script_in_subprocess(name, SMALL[name]))

    rows, headline = summarize(results)
    total = round(time.monotonic() - t_start, 1)
    summary = {
        "revision": git_revision(),
        "total_seconds": total,
        "seconds": timings,
        "budgets": SMALL,
        "machine_at_start": machine_at_start,
        "headline": headline,
        "rows": [
            dict(zip(["benchmark", "what", "figure", "ratio to baseline"], r, strict=True))
            for r in rows
        ],
        "errors": errors,
    }
    print(f"\n=== summary ({total} s) ===")
    print(table(rows, ["benchmark", "what", "figure", "ratio to baseline"]))
    if errors:
        print("\nerrors:", errors)
    write_result("summary", summary)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
