"""The printable files of a document: ``document_pdf(document)`` (and the OFD twin in ofd.py)."""

from __future__ import annotations

from tongban.documents.models import IssuedDocument
from tongban.documents.official import official_layout
from tongban.documents.pdf import pdf_write


def document_pdf(document: IssuedDocument) -> bytes:
    """The PDF of an issued (or copied) document: official layout, seal, verifiable QR."""
    return pdf_write(official_layout(document))


def document_filename(document: IssuedDocument, extension: str = "pdf") -> str:
    """A Chinese file name with the case number: ``准予许可决定书_31011820261201000123.pdf``."""
    stem = document.title or "文书"
    reference = document.case_number or document.licence_identifier or document.document_id
    safe = "".join(ch for ch in f"{stem}_{reference}" if ch not in '\\/:*?"<>|\r\n\t')
    return f"{safe}.{extension}"
