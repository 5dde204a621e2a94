"""Every document kind, printed and read back as a verifier would (issue 9, section 2–3).

For each kind in formats.KINDS a realistic document (documents/samples.py; the 准予许可决定书
with a 2,000-character 经营范围, the licence file from a real 机动车驾驶证) is issued through
the service and printed once. Its PDF is then read with other tools than the ones that wrote
it: pdfplumber for the text and each character's box (no two boxes collide, none leaves the
page, none sits on the QR code; the page states the person, the matter, the authority and
Beijing time in Chinese), poppler's pdftoppm and zxing-cpp for the QR code, and
``tongban verify`` (its management command, as the CLI runs it) must say genuine. A copy
whose printed text was changed, and QR codes whose record or signature were changed, are
not genuine.
"""

from __future__ import annotations

import copy
import io
import json
import re
import subprocess

import pdfplumber
import pytest
import zxingcpp
from django.core.management import call_command
from PIL import Image

from tests.factories import id_number, user_with
from tongban.documents import formats
from tongban.documents.dates import datetime_cn
from tongban.documents.models import IssuedDocument
from tongban.documents.official import SEAL_RED, official_layout
from tongban.documents.pdf_reading import content_mismatches
from tongban.documents.rendering import document_pdf
from tongban.documents.samples import SAMPLES, sample_arguments
from tongban.documents.services import document_issue, document_qr_text, document_status_set
from tongban.documents.verification import document_verify
from tongban.identity.services import person_upsert
from tongban.licences import services as licence_services
from tongban.licences.documents import licence_file_document, licence_pdf
from tongban.licences.models import Licence

pytestmark = pytest.mark.django_db

DRIVING = "11100000000013338W003"  # 机动车驾驶证
HOLDER_ID = id_number("31010419850612001")
LICENCE_NUMBER = HOLDER_ID  # the 驾驶证 证号 is the 身份证号
PT_PER_MM = 72 / 25.4
ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}|\d{2}:\d{2}:\d{2}(\.\d+)?Z")
CN_DATETIME = re.compile(r"\d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2}")


def _verify_cli(tmp_path, name: str, content: bytes) -> tuple[int, dict]:
    path = tmp_path / name
    path.write_bytes(content)
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("verify_document", str(path), "--json", stdout=out)
    return exit_.value.code, json.loads(out.getvalue())


def _licence(region) -> Licence:
    police = user_with("police.official", role="official", organization=region.org("上海市公安局"))
    person_upsert(name="陈静", id_number=HOLDER_ID, home_node="sh")
    return licence_services.licence_issue(
        user=police,
        type_code=DRIVING,
        organization_code=region.org("上海市公安局").code,
        holder={"name": "陈静", "id_number": HOLDER_ID},
        fields={
            "licence_number": LICENCE_NUMBER,
            "address": "上海市徐汇区漕溪北路88号",
            "birth_date": "1985-06-12",
            "first_issue_date": "2010-05-01",
            "vehicle_class": "C1",
            "valid_from": "2024-05-01",
            "valid_until": "2030-05-01",
        },
    )


def _issue_all(region) -> dict[str, IssuedDocument]:
    documents = {}
    for kind in formats.KINDS:
        if kind == "licence_file":
            licence = _licence(region)
            documents[kind] = licence_file_document(
                licence, licence_services.licence_values(licence)
            )
            continue
        documents[kind] = document_issue(
            organization=region.org(SAMPLES[kind]["organization"]), **sample_arguments(kind)
        )
    return documents


def _collisions(chars: list[dict]) -> list[str]:
    """Pairs of character boxes that overlap (a sweep over boxes sorted by top)."""
    boxes = sorted(chars, key=lambda c: c["top"])
    found = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            if b["top"] >= a["bottom"] - 0.01:
                break
            overlap_x = min(a["x1"], b["x1"]) - max(a["x0"], b["x0"])
            overlap_y = min(a["bottom"], b["bottom"]) - max(a["top"], b["top"])
            if overlap_x > 0.3 and overlap_y > 0.3:
                found.append(f"{a['text']!r}@({a['x0']:.0f},{a['top']:.0f}) × {b['text']!r}")
    return found


def _is_seal(char: dict) -> bool:
    color = char.get("non_stroking_color")
    return isinstance(color, (tuple, list)) and all(
        abs(float(a) - b / 255) < 0.02 for a, b in zip(color, SEAL_RED, strict=False)
    )


def _check_pdf(kind: str, document: IssuedDocument, pdf: bytes) -> list[str]:
    problems = []
    layout = official_layout(document)
    qr_items = [
        (page_no, item)
        for page_no, page in enumerate(layout.pages)
        for item in page.items
        if type(item).__name__ == "QrCode"
    ]
    text_all = ""
    with pdfplumber.open(io.BytesIO(pdf)) as reader:
        assert len(reader.pages) == len(layout.pages)
        for page_no, page in enumerate(reader.pages):
            chars = [c for c in page.chars if c["text"].strip()]
            for c in chars:
                if c["x0"] < 0 or c["x1"] > page.width or c["top"] < 0 or c["bottom"] > page.height:
                    problems.append(f"{kind} p{page_no + 1}: {c['text']!r} leaves the page")
            running = [c for c in chars if not _is_seal(c)]
            problems += [f"{kind} p{page_no + 1}: {p}" for p in _collisions(running)]
            for qr_page, qr in qr_items:
                if qr_page != page_no:
                    continue
                x0, x1 = qr.x * PT_PER_MM, (qr.x + qr.size) * PT_PER_MM
                top, bottom = qr.y * PT_PER_MM, (qr.y + qr.size) * PT_PER_MM
                inner = 4 / (len(qr.matrix) + 8) * qr.size * PT_PER_MM  # quiet zone
                for c in running:
                    if (
                        c["x1"] > x0 + inner
                        and c["x0"] < x1 - inner
                        and c["bottom"] > top + inner
                        and c["top"] < bottom - inner
                    ):
                        problems.append(f"{kind}: {c['text']!r} on the QR code")
            text_all += page.extract_text() + "\n"
    record = document.record
    flat = re.sub(r"\s+", "", text_all)
    wanted = {
        "person": record["subject"]["name"],
        "matter": record["title"],
        "authority": record["issuer"]["name"],
        "Beijing time": datetime_cn(record["issued_at"]).replace(" ", ""),
    }
    for what, value in wanted.items():
        if re.sub(r"\s+", "", value) not in flat:
            problems.append(f"{kind}: the {what} ({value}) is not printed")
    if not CN_DATETIME.search(text_all):
        problems.append(f"{kind}: no date and time in Chinese format")
    if ISO_TIME.search(text_all):
        problems.append(f"{kind}: an ISO/UTC timestamp is printed")
    if re.search(r"(?<![A-Za-z])(sh|js|zj|ah)(?![A-Za-z\-])", text_all):
        problems.append(f"{kind}: a node code is printed instead of a name")
    return problems


def test_every_kind_prints_cleanly_states_its_content_and_verifies_as_genuine(region, tmp_path):
    documents = _issue_all(region)
    assert set(documents) == set(formats.KINDS)
    problems: list[str] = []
    for kind, document in documents.items():
        pdf = document_pdf(document)
        problems += _check_pdf(kind, document, pdf)
        text = document_qr_text(document)
        if content_mismatches(pdf, document.record, text):
            problems.append(f"{kind}: the printed text is not the signed content")
        # the QR as a phone sees it: the last page rendered by poppler, read by zxing-cpp,
        # then the picture given to `tongban verify`
        pages = len(official_layout(document).pages)
        (tmp_path / f"{kind}.pdf").write_bytes(pdf)
        subprocess.run(
            ["pdftoppm", "-r", "150", "-gray", "-png", "-singlefile", "-f", str(pages)]
            + ["-l", str(pages), str(tmp_path / f"{kind}.pdf"), str(tmp_path / kind)],
            capture_output=True,
            check=True,
        )
        png = (tmp_path / f"{kind}.png").read_bytes()
        read = [r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]
        if read != [text]:
            problems.append(f"{kind}: the QR code reads {read!r}")
        code, verdict = _verify_cli(tmp_path, f"{kind}.png", png)
        if (code, verdict["verdict"]) != (0, "genuine"):
            problems.append(f"{kind}: tongban verify says {verdict['verdict']} {verdict['reason']}")
        if verdict["document"]["id"] != document.document_id:
            problems.append(f"{kind}: verified another document")
    # the whole PDF given to `tongban verify` (QR found on the last page, text compared)
    for kind in ("approval_decision", "licence_file"):
        code, verdict = _verify_cli(tmp_path, f"{kind}.pdf", document_pdf(documents[kind]))
        if (code, verdict["verdict"]) != (0, "genuine"):
            problems.append(f"{kind} PDF: tongban verify says {verdict['verdict']}")
    assert not problems, "\n".join(problems)

    # the long 经营范围 flowed onto further pages, all of it printed
    decision = documents["approval_decision"]
    scope = next(f["value"] for f in decision.record["facts"] if f["label"] == "经营范围")
    assert len(scope) >= 2000 and len(official_layout(decision).pages) >= 2
    with pdfplumber.open(io.BytesIO(document_pdf(decision))) as reader:
        printed = re.sub(r"\s+", "", "".join(p.extract_text() for p in reader.pages))
    printed = re.sub(r"—\d+/\d+—", "", printed)
    assert scope in printed
    # the licence file masks the 身份证号, also where a face field (证号) is the 身份证号
    licence_file = documents["licence_file"]
    assert HOLDER_ID not in json.dumps(licence_file.record, ensure_ascii=False)
    assert "3101**********" in json.dumps(licence_file.record, ensure_ascii=False)


def test_altered_copies_are_not_genuine(region, tmp_path):
    document = document_issue(
        organization=region.org("上海市公安局"), **sample_arguments("certificate")
    )
    text = document_qr_text(document)
    # the printed text changed (the QR code kept): content_mismatch, exit status 1
    forged = copy.copy(document)
    forged.record = copy.deepcopy(document.record)
    forged.record["facts"][1]["value"] = forged.record["facts"][1]["value"].replace("父女", "母女")
    code, verdict = _verify_cli(tmp_path, "altered.pdf", document_pdf(forged))
    assert (code, verdict["verdict"]) == (1, "content_mismatch")
    assert any("母女" in m for m in verdict["mismatches"])
    # what a person reads: the verdict, what differs, what was signed
    out = io.StringIO()
    with pytest.raises(SystemExit):
        call_command("verify_document", str(tmp_path / "altered.pdf"), stdout=out)
    said = out.getvalue()
    assert "打印内容与签发内容不一致" in said and "母女" in said and "父女" in said
    assert "签发机关: 上海市公安局" in said and "（北京时间）" in said
    # the record changed and its digest put in the QR: the issuer's signature fails
    ref = formats.qr_parse(text)
    other_digest = formats.record_digest(forged.record)
    assert document_verify(text.replace(ref.digest, other_digest)).verdict == "forged"
    # a signature by a key the directory does not list
    assert document_verify(text.replace(f":{ref.kid}:", ":sh-unknown-key:")).verdict == (
        "unknown_issuer"
    )
    assert document_verify("TONGBAN-RESULT:X:sh:" + "a" * 64).verdict == "malformed"
    # `tongban verify` hands a 亮证 code on to the licence verifier
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("verify_document", "TB1:%%%garbage", "--json", stdout=out)
    assert exit_.value.code == 1 and json.loads(out.getvalue())["verdict"] == "tampered"
    # revoked by its issuer
    document_status_set(document_id=document.document_id, status="revoked", reason="证明有误")
    revoked = document_verify(text)
    assert revoked.verdict == "revoked" and revoked.record["title"] == "户籍事项证明"


def test_a_licence_file_is_issued_once_and_follows_its_licence(region):
    licence = _licence(region)
    values = licence_services.licence_values(licence)
    first = licence_file_document(licence, values)
    assert licence_pdf(licence, values).startswith(b"%PDF")
    assert licence_file_document(licence, values) == first  # reused for every download
    assert IssuedDocument.objects.filter(kind="licence_file").count() == 1
    text = document_qr_text(first)
    assert document_verify(text).verdict == "genuine"
    official = user_with("police.two", role="official", organization=region.org("上海市公安局"))
    licence_services.licence_status_change(
        user=official, identifier=licence.identifier, action="revoke", reason="吊销"
    )
    verdict = document_verify(text)
    assert verdict.verdict == "licence_revoked" and not verdict.ok


def test_a_pdf_is_read_coarsely_first_and_finely_when_that_finds_nothing(region, monkeypatch):
    from tongban.documents import pdf_reading

    document = _issue_all(region)["certificate"]
    pdf = document_pdf(document)
    rendered = []
    real_run = subprocess.run

    def run(args, **kwargs):
        if args[0] == "pdftoppm":
            rendered.append(int(args[args.index("-scale-to") + 1]))
        return real_run(args, **kwargs)

    monkeypatch.setattr(pdf_reading.subprocess, "run", run)
    assert pdf_reading.pdf_qr_text(pdf) == document_qr_text(document)
    assert rendered == [pdf_reading.RENDER_PIXELS[0]]  # the coarse look was enough
    # a code too fine for the first look (rendered at 150 px) is found by the second
    rendered.clear()
    monkeypatch.setattr(pdf_reading, "RENDER_PIXELS", (150, pdf_reading.RENDER_PIXELS[1]))
    assert pdf_reading.pdf_qr_text(pdf) == document_qr_text(document)
    assert rendered == [150, pdf_reading.RENDER_PIXELS[1]]
