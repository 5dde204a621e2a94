"""The result QR code (docs/exchange-protocol.md §14): a real approved case's QR text
matches the documented grammar, and a verifier following the documented steps —
with its own SM3 (gmssl) — ties it to the signed result document."""

from __future__ import annotations

import io
import re
from pathlib import Path

import rfc8785
import segno
import zxingcpp
from gmssl import func
from gmssl import sm3 as gmssl_sm3
from PIL import Image

from tests.api.test_cases_api import NUMBER, official, received
from tongban.cases.documents import result_qr_text
from tongban.cases.models import Case
from tongban.directory.signing import peer_public_key
from tongban.gm import sm2

__all__ = ["official"]  # the fixture, used by name

DOC = Path(__file__).resolve().parents[2] / "docs" / "exchange-protocol.md"
# the grammar of §14, as a regular expression
GRAMMAR = re.compile(r"TONGBAN-RESULT:([0-9A-Z]{1,64}):([a-z0-9]{1,16}):([0-9a-f]{64})")
ABNF = [
    'result-qr   = %s"TONGBAN-RESULT:" case-number ":" node-id ":" digest',
    "case-number = 1*64( DIGIT / %x41-5A )",
    "node-id     = 1*16( %x61-7A / DIGIT )",
    "digest      = 64( DIGIT / %x61-66 )",
]


def test_the_qr_text_of_a_real_result_follows_the_documented_format(region, api, official):
    received(region, api)
    api.login(official)
    api.post(f"/cases/{NUMBER}/accept", {"note": "材料齐全"})
    approved = api.post(f"/cases/{NUMBER}/approve", {}).json()
    case = Case.objects.get(number=NUMBER)
    text = result_qr_text(case.number, case.result.document)

    # 1. the grammar
    match = GRAMMAR.fullmatch(text)
    assert match, text
    assert text.isascii() and text.isprintable()
    number, node, digest = match.groups()
    # 2. the signed result, as the case detail gives it
    result = api.get(f"/cases/{NUMBER}").json()["result"]
    assert result["document"] == approved["result"]["document"]
    document, signature = result["document"], result["signature"]
    # 3. the fields and the digest, with another SM3 implementation
    assert number == document["case_number"] == NUMBER and node == document["issuer"]["node"]
    assert digest == gmssl_sm3.sm3_hash(func.bytes_to_list(rfc8785.dumps(document)))
    # 4. the issuer's signature over JCS(document)
    assert signature["alg"] == "SM2-SM3"
    key = peer_public_key(node, signature["kid"])
    assert sm2.verify_b64(key, rfc8785.dumps(document), signature["value"])
    # a changed document no longer matches the printed digest
    tampered = {**document, "name": document["name"] + "X"}
    assert gmssl_sm3.sm3_hash(func.bytes_to_list(rfc8785.dumps(tampered))) != digest

    # the symbol as drawn in the PDF: byte mode, level M (or higher), decodes to the text
    symbol = segno.make(text, error="m")
    assert symbol.mode == "byte" and symbol.error in ("M", "Q", "H")
    png = io.BytesIO()
    symbol.save(png, kind="png", scale=4)
    (decoded,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.getvalue())).convert("L"))
    assert decoded.text == text
    pdf = api.get(f"/cases/{NUMBER}/documents/result.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_the_grammar_in_the_docs_is_the_one_tested():
    text = DOC.read_text()
    for line in ABNF:
        assert line in text, line
