"""A case's printable documents, by kind.

Every document a case has is a signed ``tongban-document/1`` record (cases/issuance.py)
held at this node — issued here, or a verified copy of the peer's — and printed by the
documents app (official layout, seal, verifiable QR; PDF and OFD). ``document_for`` maps
a kind (or its short name: acceptance, conclusion, result, …) to the case's latest
document of that kind.

Cases concluded before documents were issued have no records; for them the first
renderers below still print 受理回执, 办结通知 and the result (STSong-Light CID font, no QR
code: only signed records carry one).
"""

from __future__ import annotations

import io

from django.utils import timezone
from django.utils.translation import gettext as _
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from tongban.cases.issuance import ALIASES, SHORT_NAMES
from tongban.cases.models import Case, CaseStatus
from tongban.cases.presenters import STATUS_LABELS, case_result
from tongban.cases.selectors import case_document_of_kind
from tongban.documents.formats import KINDS as DOCUMENT_KINDS
from tongban.documents.models import IssuedDocument
from tongban.errors import NotFound
from tongban.gm.canonical import canonical_json
from tongban.gm.sm3 import sm3_hex

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))
KINDS = {"acceptance": "受理回执", "conclusion": "办结通知", "result": "办理结果"}


def _fmt(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else "—"


class PdfPage:
    def __init__(self, title: str):
        self.buffer = io.BytesIO()
        self.c = canvas.Canvas(self.buffer, pagesize=A4, pageCompression=1)
        self.c.setTitle(title)
        self.c.setAuthor("通办 Tongban")
        self.width, self.height = A4
        self.y = self.height - 30 * mm
        self.c.setFont(FONT, 20)
        self.c.drawCentredString(self.width / 2, self.y, title)
        self.y -= 14 * mm

    def row(self, label: str, value: str, *, size: int = 11) -> None:
        self.c.setFont(FONT, size)
        self.c.drawString(25 * mm, self.y, f"{label}：")
        lines = self._wrap(str(value or "—"), 120 * mm, size)
        for line in lines:
            self.c.drawString(60 * mm, self.y, line)
            self.y -= size * 0.55 * mm + 3 * mm
        self.y -= 1.5 * mm
        if self.y < 40 * mm:
            self.c.showPage()
            self.y = self.height - 25 * mm

    def _wrap(self, text: str, width: float, size: int) -> list[str]:
        lines, current = [], ""
        for ch in text:
            if ch == "\n" or pdfmetrics.stringWidth(current + ch, FONT, size) > width:
                lines.append(current)
                current = "" if ch == "\n" else ch
            else:
                current += ch
        return [*lines, current]

    def note(self, text: str) -> None:
        self.c.setFont(FONT, 9)
        self.c.drawString(25 * mm, 20 * mm, text)

    def bytes(self) -> bytes:
        self.c.showPage()
        self.c.save()
        return self.buffer.getvalue()


def _common(page: PdfPage, case: Case) -> None:
    page.row("办件编号", case.number, size=10)
    page.row("事项名称", case.item_name)
    page.row("申请人", f"{case.applicant_name}（{case.applicant_id_masked}）")
    page.row("收件窗口", case.receiving_window_name or case.receiving_node)
    page.row("办理机构", case.handling_organization.name)


def _acceptance(case: Case) -> bytes:
    page = PdfPage("受理回执")
    _common(page, case)
    page.row("提交时间", _fmt(case.submitted_at))
    page.row("送达办理地", _fmt(case.received_at))
    page.row("受理时间", _fmt(case.accepted_at))
    page.row("当前状态", str(STATUS_LABELS[case.status]))
    deadline = case.deadline.isoformat() if case.deadline else "—"
    if case.deadline_provisional:
        deadline += "（按周末推算，待节假日安排公布后校准）"
    page.row("承诺办结期限", deadline)
    page.row(
        "已收材料",
        "；".join(
            f"{m.name}（免交：电子证照《{m.licence_type_name}》）"
            if m.is_licence
            else f"{m.name}（SM3 {m.sm3[:12]}…）"
            for m in case.materials.all()
        ),
    )
    page.note(
        f"本回执由通办平台生成于 {_fmt(timezone.now())}。凭办件编号可在收件地或办理地查询进度。"
    )
    return page.bytes()


def _conclusion(case: Case) -> bytes:
    if case.status not in (CaseStatus.APPROVED, CaseStatus.DENIED, CaseStatus.REFUSED):
        raise NotFound(_("办件尚未办结"))
    page = PdfPage("办结通知")
    _common(page, case)
    page.row("办理结论", str(STATUS_LABELS[case.status]))
    page.row("办结时间", _fmt(case.concluded_at))
    if case.decision_reason:
        page.row("理由/说明", case.decision_reason)
    result = case_result(case)
    if result and result.kind == "business_licence":
        page.row("统一社会信用代码", result.document.get("uscc", ""))
        page.row("企业名称", result.document.get("name", ""))
    page.note(f"本通知由通办平台生成于 {_fmt(timezone.now())}。")
    return page.bytes()


def _result(case: Case) -> bytes:
    result = case_result(case)
    if result is None:
        raise NotFound(_("该办件没有办理结果"))
    doc = result.document
    if result.kind == "business_licence":
        page = PdfPage("营业执照")
        page.row("统一社会信用代码", doc.get("uscc", ""), size=13)
        page.row("名称", doc.get("name", ""), size=13)
        page.row("类型", doc.get("company_type", ""))
        page.row("法定代表人", doc.get("legal_representative", ""))
        page.row("注册资本", f"{doc.get('registered_capital', '')} 万元人民币")
        page.row("成立日期", doc.get("established_on", ""))
        page.row("住所", doc.get("address", ""))
        page.row("经营范围", doc.get("business_scope", ""))
    else:
        page = PdfPage(doc.get("type", "办理结果"))
        page.row("事项", doc.get("item", {}).get("name", ""))
        page.row("结论", doc.get("decision", ""))
    page.row("登记机关", doc.get("issuer", {}).get("name", ""))
    page.row("签发时间", doc.get("issued_at", ""))
    page.row("签名", f"{result.signature.get('alg')} / {result.signature.get('kid')}", size=9)
    digest = sm3_hex(canonical_json(doc))
    page.note(f"SM3 {digest}")
    return page.bytes()


LEGACY = {"acceptance": _acceptance, "conclusion": _conclusion, "result": _result}


def kinds_of(kind: str) -> tuple[str, ...]:
    """The document kinds a URL's kind stands for (a short name or a kind itself)."""
    if kind in ALIASES:
        return ALIASES[kind]
    if kind in DOCUMENT_KINDS and kind != "licence_file":
        return (kind,)
    raise NotFound(_("没有这种文书"))


def short_name(document: IssuedDocument) -> str:
    """The kind as the download URL names it (acceptance, result, intake, …)."""
    if document.kind in ALIASES["result"]:
        return "result"
    return SHORT_NAMES.get(document.kind, document.kind)


def document_for(case: Case, kind: str, document_id: str = "") -> IssuedDocument | None:
    """The case's latest document of ``kind`` (or the one named); None only for a case
    that has no documents at all (concluded before they were issued: LEGACY prints it)."""
    kinds = kinds_of(kind)
    try:
        return case_document_of_kind(case, kinds, document_id)
    except NotFound:
        if document_id or kind not in LEGACY:
            raise
        if IssuedDocument.objects.filter(case_number=case.number).exists():
            raise
        return None


def render(case: Case, kind: str, document_id: str = "") -> bytes:
    """The PDF of the case's document of ``kind``."""
    from tongban.documents.rendering import document_pdf

    document = document_for(case, kind, document_id)
    if document is None:
        return LEGACY[kind](case)
    return document_pdf(document)


def file_for(case: Case, kind: str, extension: str, document_id: str = "") -> tuple[bytes, str]:
    """(content, Chinese file name with the case number) of one document, as PDF or OFD."""
    from tongban.documents.rendering import document_filename, document_pdf

    document = document_for(case, kind, document_id)
    if document is None:
        if extension != "pdf":
            raise NotFound(_("该文书没有 OFD 版本"))
        title = {"acceptance": "受理回执", "conclusion": "办结通知", "result": "办理结果"}[kind]
        return LEGACY[kind](case), f"{title}_{case.number}.pdf"
    if extension == "ofd":
        from tongban.documents.ofd import document_ofd

        return document_ofd(document), document_filename(document, "ofd")
    return document_pdf(document), document_filename(document, "pdf")
