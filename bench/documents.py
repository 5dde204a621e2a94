"""Printed documents on one core: what issuing, printing and checking a 文书 costs.

Baseline: the raw SM2 verify rate of ``tongban.gm.sm2.verify`` over a fixed
64-byte message, measured exactly as ``bench/sm2_verify.py`` does, in the same
run (the raw SM2 sign rate too). Every other figure is also given as a ratio
of the raw verify rate:

* ``document_issue`` (``tongban.documents.services``) of the sample 户籍事项证明
  (``documents/samples.py``, 上海市公安局): the record, its SM3 digest over RFC
  8785 JSON, the SM2 signature of the statement, one row inserted;
* ``document_pdf`` (``rendering``) of that one-page certificate and of the
  sample 准予许可决定书, whose 2,000-character 经营范围 runs onto further pages:
  the official layout (segno draws the QR symbol) and the PDF (reportlab);
* ``document_ofd`` (``ofd``) of the same two: the same layout as an OFD package;
* ``document_verify`` offline of the certificate's QR text at its issuer (the
  QR parsed, the key looked up, the SM2 signature verified, the record and its
  status read from the register);
* reading a PDF back as ``tongban verify`` and the /verify/ page do
  (``pdf_reading``): the QR code (pages rendered by poppler's ``pdftoppm``,
  last page first, read with zxing-cpp), and the comparison of the printed
  text (pdfplumber) with what the signed record lays out;
* the sizes: PDF and OFD bytes, pages, the QR text's length and the QR version
  it needs (byte mode, error level M, as the documents draw it).

It runs node ``sh`` in this process on a fresh SQLite database in a temporary
directory (migrate + ``tests.factories.RegionData.create()``), and deletes the
directory afterwards. Needs no PostgreSQL and no running region; needs
``pdftoppm`` (poppler-utils) for the QR read-back.

    .venv/bin/python bench/documents.py [--seconds 1.5]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from common import (  # noqa: E402
    REPO,
    emit_result,
    git_revision,
    ratio,
    result_from_subprocess,
    sqlite_node,
    table,
    wait_quiet,
)
from sm2_verify import ROUNDS, one_core, rate  # noqa: E402

NAME = "documents"
CERTIFICATE = "certificate"  # 户籍事项证明, 上海市公安局
DECISION = "approval_decision"  # 准予许可决定书 with a 2,000-character 经营范围
SLOW = ("pdf_qr_", "pdf_text_", "read_back_")


def _prepare() -> dict:
    """The region's data and the two sample documents, issued at sh."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))  # tests.factories
    from tests.factories import RegionData

    from tongban.documents.samples import SAMPLES, sample_arguments
    from tongban.documents.services import document_issue

    region = RegionData.create()
    organizations = {
        kind: region.org(SAMPLES[kind]["organization"]) for kind in (CERTIFICATE, DECISION)
    }
    documents = {
        kind: document_issue(organization=org, **sample_arguments(kind))
        for kind, org in organizations.items()
    }
    return {"region": region, "organizations": organizations, "documents": documents}


def run(*, seconds: float = 1.5) -> dict:
    data_dir = Path(tempfile.mkdtemp(prefix="tongban-bench-documents-"))
    try:
        t0 = time.monotonic()
        sqlite_node(data_dir)
        migrate_seconds = round(time.monotonic() - t0, 1)
        with one_core():
            result = _run(seconds=seconds)
        result["setup"]["migrate_seconds"] = migrate_seconds
        return result
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def _run(*, seconds: float) -> dict:
    import segno
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tongban.documents.models import IssuedDocument
    from tongban.documents.ofd import document_ofd
    from tongban.documents.official import official_layout
    from tongban.documents.pdf_reading import content_mismatches, pdf_qr_text
    from tongban.documents.rendering import document_pdf
    from tongban.documents.samples import sample_arguments
    from tongban.documents.services import document_issue, document_qr_text
    from tongban.documents.verification import document_verify
    from tongban.gm import sm2

    # (a) the baseline, exactly as sm2_verify.py
    key = sm2.SigningKey.generate()
    public = key.public_key_hex
    message = b"tongban benchmark: a fixed 64-byte message for SM2 verification."[:64]
    signature = key.sign(message)
    assert sm2.verify(public, message, signature)

    t0 = time.monotonic()
    prepared = _prepare()
    certificate = prepared["documents"][CERTIFICATE]
    decision = prepared["documents"][DECISION]
    police = prepared["organizations"][CERTIFICATE]
    certificate_args = sample_arguments(CERTIFICATE)

    def issue() -> None:
        document_issue(organization=police, **certificate_args)

    texts = {kind: document_qr_text(d) for kind, d in prepared["documents"].items()}
    pdfs = {kind: document_pdf(d) for kind, d in prepared["documents"].items()}
    ofds = {kind: document_ofd(d) for kind, d in prepared["documents"].items()}
    for kind, document in prepared["documents"].items():
        verdict = document_verify(texts[kind], online=False)
        assert verdict.verdict == "genuine", (kind, verdict.verdict, verdict.reason)
        assert verdict.content_source == "register", verdict.content_source
        assert pdf_qr_text(pdfs[kind]) == texts[kind], kind
        assert content_mismatches(pdfs[kind], document.record, texts[kind]) == [], kind
    queries = {}
    with CaptureQueriesContext(connection) as ctx:
        document_verify(texts[CERTIFICATE], online=False)
    queries["verify"] = len(ctx.captured_queries)
    with CaptureQueriesContext(connection) as ctx:
        issue()
    queries["issue"] = len(ctx.captured_queries)

    def read_back(kind: str) -> None:
        """What `tongban verify <pdf> --offline` does: QR, verification, text comparison."""
        text = pdf_qr_text(pdfs[kind])
        verdict = document_verify(text, online=False)
        if verdict.verdict != "genuine" or content_mismatches(pdfs[kind], verdict.record, text):
            raise AssertionError(kind)

    prepare_seconds = round(time.monotonic() - t0, 1)
    print(
        f"Printed documents on one core, ≤{seconds} s per figure in {ROUNDS} interleaved rounds "
        f"(best kept); SQLite in a temporary directory"
    )
    quiet = wait_quiet()
    cases = [
        (
            "sm2_verify_raw",
            "SM2 verify, 64 B (tongsuopy) — baseline",
            lambda: sm2.verify(public, message, signature),
        ),
        ("sm2_sign_raw", "SM2 sign, 64 B (tongsuopy)", lambda: key.sign(message)),
        (
            "document_issue",
            "document_issue, 户籍事项证明 (JCS + SM3 + SM2 sign + insert)",
            issue,
        ),
        (
            "document_verify_offline",
            "document_verify, offline, at the issuer (SM2 verify + register)",
            lambda: document_verify(texts[CERTIFICATE], online=False),
        ),
        (
            "pdf_certificate",
            "document_pdf, 户籍事项证明 (1 page)",
            lambda: document_pdf(certificate),
        ),
        (
            "pdf_decision",
            "document_pdf, 准予许可决定书 (2,000-char 经营范围)",
            lambda: document_pdf(decision),
        ),
        (
            "ofd_certificate",
            "document_ofd, 户籍事项证明",
            lambda: document_ofd(certificate),
        ),
        (
            "ofd_decision",
            "document_ofd, 准予许可决定书",
            lambda: document_ofd(decision),
        ),
        (
            "layout_decision",
            "official_layout alone, 准予许可决定书 (incl. segno QR)",
            lambda: official_layout(decision),
        ),
        (
            "pdf_qr_certificate",
            "PDF → QR text (pdftoppm + zxing-cpp), 户籍事项证明",
            lambda: pdf_qr_text(pdfs[CERTIFICATE]),
        ),
        (
            "pdf_qr_decision",
            "PDF → QR text (pdftoppm + zxing-cpp), 准予许可决定书",
            lambda: pdf_qr_text(pdfs[DECISION]),
        ),
        (
            "pdf_text_certificate",
            "printed text vs signed record (pdfplumber), 户籍事项证明",
            lambda: content_mismatches(pdfs[CERTIFICATE], certificate.record, texts[CERTIFICATE]),
        ),
        (
            "pdf_text_decision",
            "printed text vs signed record (pdfplumber), 准予许可决定书",
            lambda: content_mismatches(pdfs[DECISION], decision.record, texts[DECISION]),
        ),
        (
            "read_back_certificate",
            "whole PDF check offline (QR + verify + text), 户籍事项证明",
            lambda: read_back(CERTIFICATE),
        ),
        (
            "read_back_decision",
            "whole PDF check offline (QR + verify + text), 准予许可决定书",
            lambda: read_back(DECISION),
        ),
    ]
    # Reading a PDF back takes ~0.3–1 s a call: those figures skip rate()'s warm-up
    # (min_iterations=0; every one of them already ran in the checks above), so the
    # default run stays under a minute.
    rounds: dict[str, list[dict]] = {name: [] for name, *_ in cases}
    for _ in range(ROUNDS):
        for name, _label, fn in cases:
            warm = 0 if name.startswith(SLOW) else 3
            rounds[name].append(rate(fn, seconds=seconds / ROUNDS, min_iterations=warm))

    results = {}
    for name, label, _fn in cases:
        best = max(rounds[name], key=lambda r: r["per_second"])
        results[name] = {
            "label": label,
            **best,
            "iterations": sum(r["iterations"] for r in rounds[name]),
            "rounds_per_second": [r["per_second"] for r in rounds[name]],
        }
    base = results["sm2_verify_raw"]["per_second"]
    rows = []
    for r in results.values():
        # the slow figures are far below one verify: 6 decimals, and their cost in verifies
        r["ratio_to_raw_verify"] = ratio(r["per_second"], base, 6)
        r["raw_verifies_per_op"] = ratio(base, r["per_second"], 1)
        rows.append(
            [
                r["label"],
                r["per_second"],
                r["us_per_op"],
                r["ratio_to_raw_verify"],
                r["raw_verifies_per_op"],
            ]
        )

    sizes = {}
    size_rows = []
    for kind, document in prepared["documents"].items():
        symbol = segno.make(texts[kind], error="m", mode="byte")
        side = symbol.symbol_size(border=0)[0]
        sizes[kind] = {
            "title": document.title,
            "pages": len(official_layout(document).pages),
            "pdf_bytes": len(pdfs[kind]),
            "ofd_bytes": len(ofds[kind]),
            "qr_text_chars": len(texts[kind]),
            "qr_version": symbol.version,
            "qr_modules_per_side": side,
            "qr_error": symbol.error,
            "qr_mode": symbol.mode,
        }
        s = sizes[kind]
        size_rows.append(
            [
                s["title"],
                s["pages"],
                s["pdf_bytes"],
                s["ofd_bytes"],
                s["qr_text_chars"],
                s["qr_version"],
                f"{side}×{side}",
            ]
        )
    return {
        "revision": git_revision(),
        "machine_before": quiet,
        "database": "sqlite (temporary file, this process)",
        "setup": {
            "prepare_seconds": prepare_seconds,
            "documents_issued_during_run": IssuedDocument.objects.count(),
            "queries_per_issue": queries["issue"],
            "queries_per_verify_offline": queries["verify"],
        },
        "sizes": sizes,
        "results": results,
        "table": table(
            rows, ["operation", "ops/s", "µs/op", "÷ raw verify", "cost in raw verifies"]
        ),
        "size_table": table(
            size_rows,
            ["document", "pages", "PDF bytes", "OFD bytes", "QR chars", "QR version", "modules"],
        ),
    }


def run_in_subprocess(*, seconds: float = 1.0) -> dict:
    """For run_all: Django can be set up once per process, and run_all's is zj's."""
    return result_from_subprocess(__file__, ["--seconds", str(seconds)], label="documents")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=1.5, help="time budget per figure")
    parser.add_argument(
        "--json-out", default="", help="write the result here instead of bench/results/"
    )
    args = parser.parse_args(argv)
    result = run(seconds=args.seconds)
    print(result["table"])
    print()
    print(result["size_table"])
    s = result["setup"]
    print(
        f"queries per document_issue: {s['queries_per_issue']}; "
        f"per offline document_verify: {s['queries_per_verify_offline']}"
    )
    emit_result(NAME, result, args.json_out)
    return result


if __name__ == "__main__":
    main()
