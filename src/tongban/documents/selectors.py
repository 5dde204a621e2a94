"""Reads: what the issuer answers about one of its documents, the status of a licence file's
licence, the licence file already issued for a licence version."""

from __future__ import annotations

from django.apps import apps
from django.conf import settings
from django.utils import timezone

from tongban.documents.models import DocumentStatus, IssuedDocument


def issued_document(document_id: str, digest: str) -> IssuedDocument | None:
    """A document this node issued, only if ``digest`` is its digest (an identifier alone
    reveals nothing: the caller must hold the QR)."""
    if not isinstance(document_id, str) or not isinstance(digest, str) or len(digest) != 64:
        return None
    document = IssuedDocument.objects.filter(document_id=document_id, is_local=True).first()
    if document is None or document.digest != digest:
        return None
    return document


def licence_status(licence: dict | None, *, online: bool = False) -> dict | None:
    """The current status of a licence file's licence: ``{"identifier", "status",
    "source"}`` — ``status`` one of valid / suspended / revoked / superseded / unknown;
    ``source`` ``register`` (this node issued it), ``status_list`` (the issuer's signed list,
    fetched now when ``online``) or ``wallet`` (the holder's copy, last status the issuer
    sent)."""
    if not isinstance(licence, dict) or not licence.get("identifier"):
        return None
    identifier = str(licence["identifier"])
    issuer_node = str(licence.get("issuer_node", ""))
    Licence = apps.get_model("licences", "Licence")
    WalletEntry = apps.get_model("licences", "WalletEntry")
    LicenceType = apps.get_model("licences", "LicenceType")
    answer = {"identifier": identifier, "status": "unknown", "source": ""}
    if issuer_node == settings.TONGBAN_NODE:
        status = Licence.objects.filter(identifier=identifier).values_list("status", flat=True)
        if status:
            answer.update(status=status[0], source="register")
        return answer
    entry = WalletEntry.objects.filter(identifier=identifier).first()
    if entry is None:
        return answer
    answer.update(status=entry.status, source="wallet")
    from tongban.licences.verification import status_list_fetch_online, status_of

    index = (entry.payload.get("status") or {}).get("idx")
    licence_type = LicenceType.objects.filter(code=entry.type_code).first()
    if licence_type is not None:
        if online:
            status_list_fetch_online(issuer_node)
        status, _cached = status_of(issuer_node, index, licence_type, now=timezone.now())
        if status:
            answer.update(status=status, source="status_list")
    return answer


def licence_file_current(identifier: str) -> IssuedDocument | None:
    """The valid licence file this node already issued for this licence version."""
    return (
        IssuedDocument.objects.filter(
            kind="licence_file",
            licence_identifier=identifier,
            is_local=True,
            issuer_node=settings.TONGBAN_NODE,
            status=DocumentStatus.VALID,
        )
        .order_by("-issued_at", "-id")
        .first()
    )
