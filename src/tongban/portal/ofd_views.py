"""OFD downloads (GB/T 33190, the format GB/T 36905 prescribes for e-licence files), next to
the PDF ones: the same signed document, the same official layout, the same QR.

The licence views reuse the licence pages' own access rules (the holder's 证照夹; the
issuing authority's officials), so whoever may download the PDF may download the OFD and
nobody else. Case documents are served by the case pages (cases/documents.py ``file_for``),
which call ``document_ofd`` the same way; ``ofd_response`` is shared.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.utils.http import content_disposition_header

from tongban.documents.models import IssuedDocument
from tongban.documents.ofd import document_ofd
from tongban.documents.rendering import document_filename
from tongban.licences import services
from tongban.licences.documents import licence_file_document
from tongban.portal import licence_views

OFD_CONTENT_TYPE = "application/ofd"


def ofd_response(document: IssuedDocument) -> HttpResponse:
    """The OFD file of ``document`` as a download with its Chinese file name."""
    response = HttpResponse(document_ofd(document), content_type=OFD_CONTENT_TYPE)
    response["Content-Disposition"] = content_disposition_header(
        True, document_filename(document, "ofd")
    )
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
def wallet_ofd(request, identifier: str):
    """The holder's licence file as OFD (证照夹)."""
    entry = licence_views._wallet_entry(request, identifier)
    return ofd_response(licence_file_document(entry, services.licence_values(entry)))


@login_required
def issued_ofd(request, identifier: str):
    """A licence file as OFD for the issuing authority."""
    licence = licence_views._issued(request, identifier)
    return ofd_response(licence_file_document(licence, services.licence_values(licence)))
