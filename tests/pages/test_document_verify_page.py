"""/verify/ for printed documents: the QR text, a picture of the code or the whole PDF; the
page shows the verdict and the signed content (a PDF whose text was changed is refused), and
亮证 codes still reach the licence verifier."""

from __future__ import annotations

import copy
import html as html_lib
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tongban.documents.dates import datetime_cn
from tongban.documents.rendering import document_pdf
from tongban.documents.samples import sample_arguments
from tongban.documents.services import document_issue, document_qr_text, document_status_set
from tongban.licences.qr_images import qr_png

pytestmark = pytest.mark.django_db


def texts(response) -> str:
    body = re.sub(r"<[^>]+>", " ", response.content.decode())
    return re.sub(r"\s+", " ", html_lib.unescape(body))


def verdict_of(response) -> str:
    match = re.search(r'data-verdict="([a-z_]+)"', response.content.decode())
    assert match, texts(response)[:500]
    return match.group(1)


@pytest.fixture
def certificate(region):
    return document_issue(
        organization=region.org("上海市公安局"), **sample_arguments("certificate")
    )


def test_a_document_verifies_from_its_text_picture_or_pdf(client, certificate):
    text = document_qr_text(certificate)
    form = client.get("/verify/")
    assert form.status_code == 200 and "application/pdf" in form.content.decode()

    by_text = client.post("/verify/", {"qr_text": text, "online": "on"})
    assert by_text.status_code == 200 and verdict_of(by_text) == "genuine"
    shown = texts(by_text)
    issued = datetime_cn(certificate.record["issued_at"])  # Beijing time, in Chinese
    for words in ("户籍事项证明", "上海市公安局", "王芳", "亲属关系", issued):
        assert words in shown, words

    picture = SimpleUploadedFile("qr.png", qr_png(text), "image/png")
    assert verdict_of(client.post("/verify/", {"image": picture, "online": "on"})) == "genuine"

    pdf = SimpleUploadedFile("户籍事项证明.pdf", document_pdf(certificate), "application/pdf")
    by_pdf = client.post("/verify/", {"image": pdf, "online": "on"})
    assert verdict_of(by_pdf) == "genuine"
    assert "PDF 打印内容与签发内容一致" in texts(by_pdf)


def test_an_altered_pdf_and_a_revoked_document_are_refused(client, certificate):
    altered = copy.copy(certificate)
    altered.record = copy.deepcopy(certificate.record)
    altered.record["subject"]["name"] = "王芬"
    pdf = SimpleUploadedFile("x.pdf", document_pdf(altered), "application/pdf")
    response = client.post("/verify/", {"image": pdf, "online": "on"})
    assert verdict_of(response) == "content_mismatch"
    assert "王芬" in texts(response) and "打印内容与签发内容不一致" in texts(response)

    document_status_set(document_id=certificate.document_id, status="revoked", reason="证明有误")
    revoked = client.post("/verify/", {"qr_text": document_qr_text(certificate), "online": "on"})
    assert verdict_of(revoked) == "revoked" and "证明有误" in texts(revoked)


def test_other_codes_and_files_are_answered_clearly(client, region):
    # a 亮证 code goes on to the licence verifier, which explains itself
    licence_code = client.post("/verify/", {"qr_text": "TB1:%%%garbage"})
    assert licence_code.status_code == 200 and verdict_of(licence_code) == "tampered"
    # a forged document code: refused, nothing shown as content
    forged = client.post(
        "/verify/",
        {"qr_text": "TBD1:sh:sh-0123456789abcdef0123:" + "a" * 64 + ":sh-key:" + "A" * 96},
    )
    assert verdict_of(forged) in ("unknown_issuer", "forged")
    assert "签发内容" not in texts(forged)
    # a PDF without any code, and bytes that are not a PDF
    blank = SimpleUploadedFile("blank.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")
    assert client.post("/verify/", {"image": blank}).status_code == 400
