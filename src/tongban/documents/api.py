"""/api/v1/documents — the issuer's answer about one of its documents, and verification of
a document QR code (docs/exchange-protocol.md §14)."""

from __future__ import annotations

from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema

from tongban.api_errors import errors
from tongban.documents.selectors import issued_document
from tongban.documents.verification import document_verify, issuer_answer
from tongban.errors import DomainError

router = Router(tags=["documents"])
# /documents/verify is declared before /documents/{document_id}: the first matching path wins


class DigestQuery(Schema):
    digest: str = Field(
        pattern=r"^[0-9a-f]{64}$",
        description="the SM3 digest printed in the document's QR code (64 lowercase hex)",
    )


class DocumentVerifyIn(Schema):
    qr_text: str = Field(max_length=2000, description="the text of the document's QR code")
    online: bool = Field(
        True,
        description="联网查询: ask the issuing node for the record and its current status",
    )


@router.post(
    "/documents/verify",
    response={200: dict},
    summary="核验文书二维码（签名、状态、签发内容）",
    auth=None,
)
def document_verify_api(request, payload: DocumentVerifyIn):
    return document_verify(payload.qr_text, online=payload.online).as_dict()


@router.get(
    "/documents/{document_id}",
    response={200: dict, **errors(404)},
    summary="签发节点：文书记录、签名与当前状态（须提供二维码中的摘要）",
    auth=None,
)
def document_answer(request, document_id: str, query: Query[DigestQuery]):
    document = issued_document(document_id, query.digest)
    if document is None:
        raise DomainError("not_found", _("本节点没有签发这份文书"), status=404)
    return issuer_answer(document)
