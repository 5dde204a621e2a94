"""核验: what a printed document's QR code proves (docs/exchange-protocol.md §14).

``document_verify(text, online=True)`` checks, in order:

1. the text is a ``TBD1:`` QR (else ``malformed``);
2. the issuer node and its key ``kid`` are in the directory (else ``unknown_issuer``);
3. the issuer's SM2 signature over ``tongban-document/1|node|id|digest`` (else ``forged``);
4. the record: at the issuer itself from its register; elsewhere, with ``online``, from the
   issuer's ``GET /api/v1/documents/{id}?digest=…`` (the record's SM3 digest must be the one
   in the QR, its signature the issuer's; 404 means the issuer never issued it → ``forged``),
   or from a copy held here;
5. the status: the document's (``revoked``, ``superseded``) and, for a licence file, its
   licence's (``revoked``, ``suspended``, ``superseded``). When the issuer cannot be reached
   (or ``online`` is off) the verdict is ``signature_only``, saying so, with the content of
   a copy held here if there is one.

``genuine`` only when the signature holds, the content is the signed content and the issuer
says it is valid now. ``pdf_content_check`` compares a PDF's printed text with the signed
record (``content_mismatch``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import requests
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tongban.directory.models import Node
from tongban.directory.signing import peer_public_key, sign_detached
from tongban.documents import formats
from tongban.documents.dates import date_cn, datetime_cn
from tongban.documents.models import DocumentStatus, IssuedDocument
from tongban.documents.official import record_rows
from tongban.documents.selectors import issued_document, licence_status
from tongban.documents.services import DocumentRejected, signature_check
from tongban.gm import sm2
from tongban.gm.canonical import canonical_json
from tongban.gm.strict_json import StrictJSONError, loads_strict

log = logging.getLogger(__name__)

STATUS_FORMAT = "tongban-document-status/1"
MAX_ANSWER_BYTES = 256 * 1024

VERDICTS = {
    "genuine": _("真实有效：签名有效，内容与签发记录一致，签发机关确认现行有效"),
    "signature_only": _("签名有效，但未能向签发节点核实当前状态"),
    "revoked": _("文书已被签发机关撤销"),
    "superseded": _("文书已被新文书取代"),
    "licence_revoked": _("所载电子证照已吊销/注销"),
    "licence_suspended": _("所载电子证照已暂扣"),
    "licence_superseded": _("所载电子证照已换发新版本，此版本失效"),
    "content_mismatch": _("打印内容与签发内容不一致"),
    "forged": _("伪造或被篡改：签名或内容不符"),
    "unknown_issuer": _("签发节点或签名密钥不在目录中"),
    "malformed": _("不是通办文书二维码"),
}
STATUS_LABELS = {
    "valid": _("有效"),
    "revoked": _("已撤销"),
    "superseded": _("已被新文书取代"),
    "suspended": _("已暂扣"),
    "unknown": _("未知"),
}


@dataclass
class DocumentVerdict:
    verdict: str
    reason: str = ""
    document_id: str = ""
    issuer_node: str = ""
    issuer_name: str = ""
    record: dict | None = None
    status: str = ""  # the issuer's status of the document (valid / revoked / superseded)
    status_reason: str = ""
    superseded_by: str = ""
    licence: dict | None = None  # {"identifier", "status", "source"} for a licence file
    status_source: str = ""  # "issuer" (asked now), "register" (we are the issuer), ""
    checked_at: str = ""
    content_source: str = ""  # "issuer", "register", "copy", ""
    online: bool = True
    issuer_reached: bool = False
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.verdict == "genuine"

    @property
    def label(self) -> str:
        return str(VERDICTS[self.verdict])

    def content(self) -> dict | None:
        """What the document says, as signed (for people: Chinese dates, names)."""
        record = self.record
        if not record:
            return None
        return {
            "title": record.get("title", ""),
            "kind": record.get("kind", ""),
            "kind_label": formats.KINDS.get(str(record.get("kind", "")), ""),
            "doc_number": record.get("doc_number", ""),
            "case_number": record.get("case_number", ""),
            "issuer": record.get("issuer", {}),
            "issued_at": record.get("issued_at", ""),
            "issued_at_cn": datetime_cn(record.get("issued_at")),
            "subject": record.get("subject", {}),
            "rows": [{"label": label, "value": value} for label, value in record_rows(record)],
            "facts": record.get("facts", []),
            "body": record.get("body", ""),
            "valid_until": record.get("valid_until"),
            "valid_until_cn": date_cn(record.get("valid_until")),
            "licence": record.get("licence"),
        }

    def as_dict(self) -> dict:
        return {
            "verdict": self.verdict,
            "label": self.label,
            "ok": self.ok,
            "reason": self.reason,
            "document": {
                "id": self.document_id,
                "issuer_node": self.issuer_node,
                "issuer_name": (
                    (self.record or {}).get("issuer", {}).get("name") or self.issuer_name
                ),
            },
            "content": self.content(),
            "content_source": self.content_source,
            "status": {
                "value": self.status,
                "label": str(STATUS_LABELS.get(self.status, "")) if self.status else "",
                "reason": self.status_reason,
                "superseded_by": self.superseded_by,
                "licence": self.licence,
                "source": self.status_source,
                "checked_at": self.checked_at,
            },
            "online": self.online,
            "issuer_reached": self.issuer_reached,
            "mismatches": self.mismatches,
        }


class _Stop(Exception):
    def __init__(self, verdict: str, reason: str):
        super().__init__(reason)
        self.verdict, self.reason = verdict, reason


# --- the issuer's answer ------------------------------------------------------------------


def issuer_answer(document: IssuedDocument) -> dict:
    """``GET /api/v1/documents/{id}``: the record, its signature, and the current status,
    signed by this node (SM2 over JCS of ``status``)."""
    licence = licence_status(_licence_of(document.record))
    status = {
        "format": STATUS_FORMAT,
        "id": document.document_id,
        "digest": document.digest,
        "status": document.status,
        "reason": document.status_reason,
        "changed_at": (
            timezone.localtime(document.status_changed_at).isoformat(timespec="seconds")
            if document.status_changed_at
            else None
        ),
        "superseded_by": document.superseded_by,
        "licence": licence,
        "checked_at": timezone.localtime().isoformat(timespec="seconds"),
    }
    return {
        "record": document.record,
        "signature": document.signature,
        "status": status,
        "status_signature": sign_detached(canonical_json(status)),
    }


def _licence_of(record: dict) -> dict | None:
    """The e-licence whose status a document follows: only a licence file's (a decision
    that names the licence it granted stays what it was when the licence changes)."""
    if record.get("kind") != "licence_file" or not isinstance(record.get("licence"), dict):
        return None
    return record["licence"]


def _fetch(ref: formats.QrReference, session) -> dict | None:
    """The issuer's answer, checked; None when the issuer cannot be reached."""
    node = Node.objects.filter(node_id=ref.node, role="node", active=True).first()
    if node is None:
        raise _Stop("unknown_issuer", "issuer node is not in the directory")
    http = session or requests
    try:
        response = http.get(
            f"{node.base_url}/api/v1/documents/{ref.id}",
            params={"digest": ref.digest},
            timeout=settings.TONGBAN_EXCHANGE_TIMEOUT_SECONDS,
        )
    except requests.RequestException as exc:
        log.info("document issuer %s not reachable: %s", ref.node, exc)
        return None
    if response.status_code == 404:
        raise _Stop("forged", "the issuer has no document with this identifier and digest")
    if response.status_code != 200:
        log.info("document issuer %s answered %s", ref.node, response.status_code)
        return None
    try:
        answer = loads_strict(response.content, max_bytes=MAX_ANSWER_BYTES)
    except StrictJSONError as exc:
        raise _Stop("forged", f"the issuer's answer is not I-JSON ({exc.reason})") from exc
    if not isinstance(answer, dict):
        raise _Stop("forged", "the issuer's answer is not an object")
    record, signature = answer.get("record"), answer.get("signature")
    status, status_signature = answer.get("status"), answer.get("status_signature")
    if not all(isinstance(v, dict) for v in (record, signature, status, status_signature)):
        raise _Stop("forged", "the issuer's answer is incomplete")
    _record_check(ref, record, signature)
    key = peer_public_key(ref.node, str(status_signature.get("kid", "")))
    if (
        key is None
        or status.get("format") != STATUS_FORMAT
        or status.get("id") != ref.id
        or status.get("digest") != ref.digest
        or not sm2.verify_b64(key, canonical_json(status), str(status_signature.get("value")))
    ):
        raise _Stop("forged", "the issuer's status answer is not signed by the issuer")
    return answer


def _record_check(ref: formats.QrReference, record: dict, signature: dict) -> None:
    try:
        digest = signature_check(record, signature)
    except DocumentRejected as exc:
        raise _Stop("forged", str(exc)) from exc
    if digest != ref.digest or record.get("id") != ref.id:
        raise _Stop("forged", "the record is not the one the QR code names")


# --- verification ---------------------------------------------------------------------------


def document_verify(text: object, *, online: bool = True, session=None) -> DocumentVerdict:
    result = DocumentVerdict(verdict="malformed", online=online)
    try:
        _verify(text, result, online=online, session=session)
    except _Stop as stop:
        result.verdict, result.reason = stop.verdict, stop.reason
    return result


def _verify(text: object, result: DocumentVerdict, *, online: bool, session) -> None:
    try:
        ref = formats.qr_parse(text)
    except formats.DocumentFormatError as exc:
        raise _Stop("malformed", str(exc)) from exc
    result.document_id, result.issuer_node = ref.id, ref.node
    node = Node.objects.filter(node_id=ref.node, role="node").first()
    if node is None:
        raise _Stop("unknown_issuer", f"{ref.node} is not a node of the directory")
    result.issuer_name = node.name
    key = peer_public_key(ref.node, ref.kid)
    if key is None:
        raise _Stop("unknown_issuer", f"key {ref.kid} of {ref.node} is not in the directory")
    if not sm2.verify_b64(key, formats.statement(ref.node, ref.id, ref.digest), ref.signature):
        raise _Stop("forged", "the issuer's signature does not verify")

    if ref.node == settings.TONGBAN_NODE:
        document = issued_document(ref.id, ref.digest)
        if document is None:
            raise _Stop("forged", "this node has no document with this identifier and digest")
        result.record, result.content_source = document.record, "register"
        result.issuer_reached, result.status_source = True, "register"
        result.checked_at = timezone.localtime().isoformat(timespec="seconds")
        _status_apply(
            result,
            status=document.status,
            reason=document.status_reason,
            superseded_by=document.superseded_by,
            licence=licence_status(_licence_of(document.record), online=online),
        )
        return

    copy = IssuedDocument.objects.filter(document_id=ref.id, is_local=False).first()
    if copy is not None:
        _record_check(ref, copy.record, copy.signature)
        result.record, result.content_source = copy.record, "copy"
    answer = _fetch(ref, session) if online else None
    if answer is None:
        result.verdict = "signature_only"
        result.reason = (
            "the issuer could not be reached: its signature holds, its current status is unknown"
            if online
            else "not asked online: the issuer's signature holds, its current status is unknown"
        )
        return
    result.issuer_reached = True
    result.record, result.content_source = answer["record"], "issuer"
    status = answer["status"]
    result.status_source, result.checked_at = "issuer", str(status.get("checked_at", ""))
    licence = status.get("licence") if isinstance(status.get("licence"), dict) else None
    if _licence_of(answer["record"]) is None:
        licence = None  # only a licence file's status follows its licence
    elif licence is None:
        licence = {"status": "unknown"}
    _status_apply(
        result,
        status=str(status.get("status", "")),
        reason=str(status.get("reason", "")),
        superseded_by=str(status.get("superseded_by", "")),
        licence=licence,
    )


def _status_apply(
    result: DocumentVerdict, *, status: str, reason: str, superseded_by: str, licence
) -> None:
    result.status, result.status_reason, result.superseded_by = status, reason, superseded_by
    result.licence = licence
    if status == DocumentStatus.REVOKED:
        raise _Stop("revoked", reason or "revoked by its issuer")
    if status == DocumentStatus.SUPERSEDED:
        raise _Stop("superseded", f"superseded by {superseded_by}" if superseded_by else reason)
    if status != DocumentStatus.VALID:
        raise _Stop("forged", f"unknown status {status!r}")
    if licence is not None:
        licence_state = licence.get("status")
        if licence_state in ("revoked", "suspended", "superseded"):
            raise _Stop(f"licence_{licence_state}", f"the licence is {licence_state}")
        if licence_state != "valid":
            result.verdict = "signature_only"
            result.reason = "the licence's current status could not be established"
            return
    result.verdict, result.reason = "genuine", ""
