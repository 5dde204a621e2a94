"""The signed document record and its QR text (docs/exchange-protocol.md, "Printed documents").

A *record* is a JSON object (format ``tongban-document/1``)::

    {
      "format": "tongban-document/1",
      "id": "js-9f2c61d0a4b3e8c7d512",          # <issuer node>-<20 lowercase hex>, unique
      "kind": "certificate",                     # see KINDS
      "title": "户籍事项证明",
      "doc_number": "苏州市公安局〔2026〕证字第000123号",   # 文号, may be ""
      "case_number": "…",                          # may be ""
      "issuer": {"node": "js", "code": "<统一社会信用代码>", "name": "<organization name>"},
      "issued_at": "2026-12-01T11:06:27+08:00",   # Beijing time, seconds
      "subject": {"name": "张三", "id_masked": "3205**********1234"},   # may be {}
      "facts": [{"label": "证明事项", "value": "亲属关系"}, …],   # printed in this order
      "body": "经核查，…",                        # paragraph text, may be ""
      "valid_until": "2027-06-01" | null,
      "licence": {"identifier": "…", "issuer_node": "js"} | null
    }

Its *digest* is the lowercase hex SM3 of the record's JCS (RFC 8785) serialisation.
The issuer signs the *statement* ``tongban-document/1|<node>|<id>|<digest>`` (ASCII) with SM2
(signature DER, base64), so the QR alone proves that the issuer issued a document with that
digest; the content is shown from the record (fetched from the issuer, or a local copy) whose
digest must equal the one in the QR.

QR text (one QR symbol, error correction M, byte mode)::

    TBD1:<node>:<id>:<digest>:<kid>:<signature base64>
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from tongban.gm.canonical import canonical_json
from tongban.gm.sm3 import sm3_hex

DOCUMENT_FORMAT = "tongban-document/1"
QR_PREFIX = "TBD1:"
KINDS = {
    "intake_receipt": "收件凭证",
    "acceptance_receipt": "受理回执",
    "refusal_notice": "不予受理通知书",
    "supplement_notice": "补正告知书",
    "approval_decision": "准予许可决定书",
    "denial_decision": "不予许可决定书",
    "certificate": "证明",
    "filing_receipt": "备案回执",
    "conclusion_notice": "办结通知书",
    "licence_file": "电子证照文件",
}
MAX_QR_TEXT = 600

_NODE = r"[a-z]{2,16}"
_ID = r"[a-z]{2,16}-[0-9a-f]{20}"
_QR_RE = re.compile(
    rf"^TBD1:(?P<node>{_NODE}):(?P<id>{_ID}):(?P<digest>[0-9a-f]{{64}}):"
    r"(?P<kid>[A-Za-z0-9._-]{1,96}):(?P<sig>[A-Za-z0-9+/]{40,200}={0,2})$"
)


class DocumentFormatError(ValueError):
    """The text is not a document QR of this format."""


@dataclass(frozen=True)
class QrReference:
    node: str
    id: str
    digest: str
    kid: str
    signature: str


def document_id_new(node: str) -> str:
    return f"{node}-{secrets.token_hex(10)}"


def record_digest(record: dict) -> str:
    return sm3_hex(canonical_json(record))


def statement(node: str, document_id: str, digest: str) -> bytes:
    return f"{DOCUMENT_FORMAT}|{node}|{document_id}|{digest}".encode("ascii")


def qr_text(*, node: str, document_id: str, digest: str, kid: str, signature: str) -> str:
    return f"{QR_PREFIX}{node}:{document_id}:{digest}:{kid}:{signature}"


def qr_parse(text: object) -> QrReference:
    if not isinstance(text, str) or len(text) > MAX_QR_TEXT:
        raise DocumentFormatError("not a document QR")
    match = _QR_RE.match(text.strip())
    if match is None:
        raise DocumentFormatError("not a document QR")
    ref = QrReference(
        node=match["node"],
        id=match["id"],
        digest=match["digest"],
        kid=match["kid"],
        signature=match["sig"],
    )
    if not ref.id.startswith(ref.node + "-"):
        raise DocumentFormatError("document id does not belong to its node")
    return ref
