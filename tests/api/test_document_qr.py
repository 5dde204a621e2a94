"""The printed document's QR code as docs/exchange-protocol.md §14 specifies it, checked the
way another province would: its own RFC 8785 (``rfc8785``) and SM3 (gmssl), the documented
grammar, statement and issuer endpoint — on the documented test vector and on the real
documents of a decided case."""

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
from tongban.directory.signing import peer_public_key
from tongban.documents import formats
from tongban.documents.models import IssuedDocument
from tongban.documents.services import document_qr_text
from tongban.gm import sm2
from tongban.gm.strict_json import loads_strict

__all__ = ["official"]  # the fixture, used by name

DOC = Path(__file__).resolve().parents[2] / "docs" / "exchange-protocol.md"
# the grammar of §14.3, as the regular expression a verifier would write from it
GRAMMAR = re.compile(
    r"TBD1:([a-z]{2,16}):(([a-z]{2,16})-[0-9a-f]{20}):([0-9a-f]{64}):"
    r"([A-Za-z0-9._-]{1,96}):([A-Za-z0-9+/]{40,200}={0,2})"
)
ABNF = [
    'document-qr = %s"TBD1:" node ":" doc-id ":" digest ":" kid ":" signature',
    "node        = 2*16( %x61-7A )",
    'doc-id      = node "-" 20( DIGIT / %x61-66 )',
    "digest      = 64( DIGIT / %x61-66 )",
    'kid         = 1*96( ALPHA / DIGIT / "." / "_" / "-" )',
    'signature   = 40*200( ALPHA / DIGIT / "+" / "/" ) 0*2"="',
]


def sm3(data: bytes) -> str:
    return gmssl_sm3.sm3_hash(func.bytes_to_list(data))


def section_14() -> str:
    text = DOC.read_text()
    return text[text.index("## 14. Printed documents") :]


def check_as_documented(text: str, record: dict, signature_value: str, public_key: str) -> None:
    """§14.3–14.4 steps 1 and 3 and the digest check of step 4."""
    match = GRAMMAR.fullmatch(text)
    assert match, text
    node, doc_id, id_node, digest, _kid, signature = match.groups()
    assert id_node == node and text.isascii() and len(text) <= 600
    assert signature == signature_value
    statement = f"tongban-document/1|{node}|{doc_id}|{digest}".encode("ascii")
    assert sm2.verify_b64(public_key, statement, signature)
    assert sm3(rfc8785.dumps(record)) == digest
    assert record["id"] == doc_id and record["issuer"]["node"] == node
    assert record["format"] == "tongban-document/1"
    # a changed record no longer has the signed digest
    changed = {**record, "title": record["title"] + "（副本）"}
    assert sm3(rfc8785.dumps(changed)) != digest


def test_the_grammar_in_the_docs_is_the_one_tested():
    text = section_14()
    for line in ABNF:
        assert line in text, line
    assert "result-qr   =" not in DOC.read_text()  # the retired TONGBAN-RESULT grammar


def test_the_documented_test_vector_checks_out():
    text = section_14()
    vector = text[text.index("### 14.6 Test vector") :]
    public_key = re.search(r"public key\s+`([0-9a-f]{130})`", vector).group(1)
    jcs = re.search(r"```\n(\{.*\})\n```", vector).group(1).encode()
    record = loads_strict(jcs)
    assert rfc8785.dumps(record) == jcs  # the documented bytes are canonical
    digest = re.search(r"digest = `([0-9a-f]{64})`", vector).group(1)
    assert sm3(jcs) == digest
    statement = re.search(r"statement = `([^`]+)`", vector).group(1)
    assert statement == f"tongban-document/1|{record['issuer']['node']}|{record['id']}|{digest}"
    qr = re.search(r"```\n(TBD1:[^\n]+)\n```", vector).group(1)
    signature = qr.rsplit(":", 1)[1]
    check_as_documented(qr, record, signature, public_key)
    # and our own parser reads the same five parts
    ref = formats.qr_parse(qr)
    assert (ref.node, ref.id, ref.digest, ref.kid) == ("sh", record["id"], digest, "sh-example-1")


def test_the_documents_of_a_real_case_follow_the_documented_scheme(region, api, official):
    received(region, api)
    api.login(official)
    api.post(f"/cases/{NUMBER}/accept", {"note": "材料齐全"})
    assert api.post(f"/cases/{NUMBER}/approve", {}).status_code == 200
    documents = IssuedDocument.objects.filter(case_number=NUMBER, is_local=True)
    assert {"acceptance_receipt", "conclusion_notice"} <= {d.kind for d in documents}
    for document in documents:
        text = document_qr_text(document)
        _, node, doc_id, digest, kid, _sig = text.split(":")
        # §14.5: the issuer's public answer, only with the digest
        assert api.get(f"/documents/{doc_id}", digest="0" * 64).status_code == 404
        response = api.get(f"/documents/{doc_id}", digest=digest)
        assert response.status_code == 200
        answer = loads_strict(response.content)
        record, signature, status = answer["record"], answer["signature"], answer["status"]
        key = peer_public_key(node, kid)
        check_as_documented(text, record, signature["value"], key)
        assert signature == {"alg": "SM2-SM3", "kid": kid, "value": text.rsplit(":", 1)[1]}
        assert status["format"] == "tongban-document-status/1"
        assert (status["id"], status["digest"], status["status"]) == (doc_id, digest, "valid")
        status_signature = answer["status_signature"]
        assert sm2.verify_b64(
            peer_public_key(node, status_signature["kid"]),
            rfc8785.dumps(status),
            status_signature["value"],
        )
        # the symbol as drawn on the page: byte mode, level M, decodes to the text
        symbol = segno.make(text, error="m", mode="byte")
        assert symbol.mode == "byte" and symbol.error == "M"
        png = io.BytesIO()
        symbol.save(png, kind="png", scale=3)
        (decoded,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.getvalue())).convert("L"))
        assert decoded.text == text
    # the verification API says genuine for each, with the signed title
    for document in documents:
        verdict = api.post("/documents/verify", {"qr_text": document_qr_text(document)}).json()
        assert verdict["verdict"] == "genuine" and verdict["content"]["title"] == document.title
