"""核验 (/verify/): one page for every QR code people bring — a printed document's ``TBD1:``
code (a PDF, a picture of it, or its text) is verified here; a 亮证 code, once read, goes on
to the licence verdict (licence_views.licence_code_result). What was brought is read once."""

from __future__ import annotations

from django import forms
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache

from tongban.documents import formats
from tongban.documents.pdf_reading import (
    MAX_PDF_BYTES,
    PdfUnreadable,
    content_mismatches,
    pdf_qr_text,
)
from tongban.documents.verification import document_verify
from tongban.errors import DomainError
from tongban.licences.qr_images import MAX_IMAGE_BYTES, qr_text_from_image
from tongban.portal import licence_views
from tongban.portal.licence_forms import VerifyForm

# verdict → the colour of the licence verdicts (portal.css: green only when genuine)
VERDICT_STYLE = {
    "genuine": "valid",
    "signature_only": "status_unknown",
    "revoked": "revoked",
    "licence_revoked": "revoked",
    "superseded": "superseded",
    "licence_superseded": "superseded",
    "licence_suspended": "suspended",
    "unknown_issuer": "unknown_issuer",
}
CONTENT_SOURCES = {
    "issuer": gettext_lazy("签发节点（联网查询）"),
    "register": gettext_lazy("本节点（签发节点）登记"),
    "copy": gettext_lazy("本节点保存的副本"),
}


class DocumentVerifyForm(VerifyForm):
    """The licence verification form, also taking a document's PDF and its QR text."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["qr_text"].label = _("二维码文本")
        self.fields["qr_text"].help_text = _(
            "文书二维码（以 TBD1: 开头）或亮证码（以 TB1: 开头）的内容；扫码枪扫出的内容也可粘贴在这里"
        )
        image = self.fields["image"]
        image.label = _("二维码图片或 PDF 文件")
        image.help_text = _(
            "PNG、JPEG 图片（不超过 10 MB）或文书的 PDF 文件（不超过 20 MB，还将核对打印内容）"
        )
        image.widget.attrs["accept"] = "image/png,image/jpeg,application/pdf"
        self.fields["online"].help_text = _(
            "向签发节点查询文书（或证照）的当前状态；不勾选时只验证签名（离线核验）"
        )

    def clean_image(self):
        upload = self.cleaned_data.get("image")
        if upload is None:
            return upload
        is_pdf = upload.read(5).startswith(b"%PDF")
        upload.seek(0)
        if is_pdf and upload.size > MAX_PDF_BYTES:
            raise forms.ValidationError(_("PDF 文件过大（不超过 20 MB）"), code="too_large")
        if not is_pdf and upload.size > MAX_IMAGE_BYTES:
            raise forms.ValidationError(_("图片过大（不超过 10 MB）"), code="too_large")
        return upload


@never_cache
def verify(request):
    posted = request.method == "POST"
    form = DocumentVerifyForm(request.POST if posted else None, request.FILES if posted else None)
    if not posted:
        return render(request, "portal/documents/verify.html", {"form": form})
    if not form.is_valid():
        return render(request, "portal/documents/verify.html", {"form": form}, status=400)
    upload = form.cleaned_data.get("image")
    pdf = None
    try:
        if upload:
            content = upload.read()
            upload.seek(0)
            if content.startswith(b"%PDF"):
                pdf = content
                text = pdf_qr_text(content)
                if text is None:
                    raise DomainError("no_qr_code", _("PDF 中未找到可识别的二维码"))
            else:
                text = qr_text_from_image(content)
        else:
            text = form.cleaned_data["qr_text"].strip()
    except PdfUnreadable:
        form.add_error("image", _("无法读取此 PDF 文件"))
        return render(request, "portal/documents/verify.html", {"form": form}, status=400)
    except DomainError as error:
        form.add_error("image" if upload else None, error.message)
        status = 413 if error.code == "image_too_large" else 400
        return render(request, "portal/documents/verify.html", {"form": form}, status=status)
    if not text.startswith(formats.QR_PREFIX):
        if pdf is not None:
            form.add_error("image", _("此 PDF 上没有通办文书二维码"))
            return render(request, "portal/documents/verify.html", {"form": form}, status=400)
        page, problem = licence_views.licence_code_result(
            request, text, online=form.cleaned_data["online"]
        )
        if page is not None:
            return page
        message, link = problem
        form.add_error("image" if upload else None, message)
        return render(
            request, "portal/documents/verify.html", {"form": form, "link": link}, status=400
        )
    online = form.cleaned_data["online"]
    verdict = document_verify(text, online=online)
    if pdf is not None and verdict.record is not None and verdict.verdict != "forged":
        try:
            problems = content_mismatches(pdf, verdict.record, text)
        except PdfUnreadable:
            problems = [_("无法读取此 PDF 的文字")]
        if problems:
            verdict.verdict, verdict.mismatches = "content_mismatch", problems
            verdict.reason = "the printed text is not the signed content"
    data = verdict.as_dict()
    return render(
        request,
        "portal/documents/verify_result.html",
        {
            "v": verdict,
            "d": data,
            "style": VERDICT_STYLE.get(verdict.verdict, "tampered"),
            "content_source": CONTENT_SOURCES.get(verdict.content_source, ""),
            "pdf_checked": pdf is not None,
            "online": online,
        },
    )
