"""Writes: issue a signed document, keep a verified copy of a peer's, change a status."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tongban.directory.models import Organization
from tongban.directory.signing import peer_public_key, sign_detached
from tongban.documents import formats
from tongban.documents.models import DocumentStatus, IssuedDocument
from tongban.gm import sm2


class DocumentRejected(ValueError):
    """A peer's document whose signature or digest does not check out."""


def beijing_iso(moment: dt.datetime) -> str:
    return timezone.localtime(moment).isoformat(timespec="seconds")


def record_build(
    *,
    node: str,
    document_id: str,
    kind: str,
    title: str,
    organization_code: str,
    organization_name: str,
    facts: list[tuple[str, str]] | list[dict],
    subject: dict | None = None,
    case_number: str = "",
    doc_number: str = "",
    body: str = "",
    valid_until: dt.date | None = None,
    licence: dict | None = None,
    issued_at: dt.datetime,
) -> dict:
    """The ``tongban-document/1`` record (formats.py) these values make."""
    return {
        "format": formats.DOCUMENT_FORMAT,
        "id": document_id,
        "kind": kind,
        "title": title,
        "doc_number": doc_number,
        "case_number": case_number,
        "issuer": {"node": node, "code": organization_code, "name": organization_name},
        "issued_at": beijing_iso(issued_at),
        "subject": dict(subject or {}),
        "facts": [
            {"label": str(f["label"]), "value": str(f["value"])}
            if isinstance(f, dict)
            else {"label": str(f[0]), "value": str(f[1])}
            for f in facts
        ],
        "body": body,
        "valid_until": valid_until.isoformat() if valid_until else None,
        "licence": licence or None,
    }


@transaction.atomic
def document_issue(
    *, organization: Organization, issued_at: dt.datetime | None = None, **content
) -> IssuedDocument:
    """Sign and store a document issued by this node on behalf of ``organization``.
    ``content``: what the document says — ``record_build``'s keywords ``kind``,
    ``title``, ``facts`` and optionally ``subject``, ``case_number``, ``doc_number``,
    ``body``, ``valid_until``, ``licence``."""
    if content.get("kind") not in formats.KINDS:
        raise ValueError(f"unknown document kind {content.get('kind')!r}")
    node = settings.TONGBAN_NODE
    now = issued_at or timezone.now()
    document_id = formats.document_id_new(node)
    record = record_build(
        node=node,
        document_id=document_id,
        organization_code=organization.code,
        organization_name=organization.name,
        issued_at=now,
        **content,
    )
    digest = formats.record_digest(record)
    signature = sign_detached(formats.statement(node, document_id, digest))
    return IssuedDocument.objects.create(
        document_id=document_id,
        kind=record["kind"],
        title=record["title"],
        doc_number=record["doc_number"],
        case_number=record["case_number"],
        licence_identifier=(record["licence"] or {}).get("identifier", ""),
        issuer_node=node,
        issuer_code=organization.code,
        issuer_name=organization.name,
        record=record,
        digest=digest,
        signature=signature,
        issued_at=now,
        is_local=True,
    )


def signature_check(record: dict, signature: dict) -> str:
    """The record's digest when ``signature`` is its issuer's valid signature; else raises."""
    try:
        node = record["issuer"]["node"]
        document_id = record["id"]
        kid, value = signature["kid"], signature["value"]
    except (KeyError, TypeError) as exc:
        raise DocumentRejected("incomplete document") from exc
    if record.get("format") != formats.DOCUMENT_FORMAT or not str(document_id).startswith(
        f"{node}-"
    ):
        raise DocumentRejected("not a tongban-document/1 record of its issuer")
    digest = formats.record_digest(record)
    key = peer_public_key(node, kid)
    if key is None or not sm2.verify_b64(key, formats.statement(node, document_id, digest), value):
        raise DocumentRejected("signature does not verify")
    return digest


@transaction.atomic
def document_copy_store(*, record: dict, signature: dict) -> IssuedDocument:
    """Keep a verified copy of a document another node issued (idempotent)."""
    digest = signature_check(record, signature)
    existing = IssuedDocument.objects.filter(document_id=record["id"]).first()
    if existing is not None:
        if existing.digest != digest:
            raise DocumentRejected("a different document with this id is already held")
        return existing
    issuer = record["issuer"]
    return IssuedDocument.objects.create(
        document_id=record["id"],
        kind=str(record.get("kind", ""))[:32],
        title=str(record.get("title", ""))[:128],
        doc_number=str(record.get("doc_number", ""))[:96],
        case_number=str(record.get("case_number", ""))[:64],
        licence_identifier=str((record.get("licence") or {}).get("identifier", ""))[:96],
        issuer_node=issuer["node"],
        issuer_code=str(issuer.get("code", ""))[:18],
        issuer_name=str(issuer.get("name", ""))[:128],
        record=record,
        digest=digest,
        signature=signature,
        issued_at=dt.datetime.fromisoformat(record["issued_at"]),
        is_local=False,
    )


@transaction.atomic
def document_status_set(
    *, document_id: str, status: str, reason: str = "", superseded_by: str = ""
) -> IssuedDocument:
    """Revoke or supersede a document this node issued."""
    document = IssuedDocument.objects.select_for_update().get(
        document_id=document_id, is_local=True
    )
    document.status = DocumentStatus(status)
    document.status_reason = reason[:200]
    document.superseded_by = superseded_by
    document.status_changed_at = timezone.now()
    document.save(update_fields=["status", "status_reason", "superseded_by", "status_changed_at"])
    return document


def document_qr_text(document: IssuedDocument) -> str:
    return formats.qr_text(
        node=document.issuer_node,
        document_id=document.document_id,
        digest=document.digest,
        kid=document.signature["kid"],
        signature=document.signature["value"],
    )
