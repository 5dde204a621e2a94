"""我的数据使用记录 (the person's data-use log, with filters, CSV/PDF export and 提出异议)
and the 数据专员's page of flags — thin views over tongban.sharing.data_use."""

from __future__ import annotations

import csv
import io

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tongban.errors import DomainError
from tongban.identity.selectors import access_for
from tongban.portal.context import node_display
from tongban.portal.forms import PortalForm
from tongban.sharing import data_use
from tongban.sharing import data_use_selectors as sel
from tongban.sharing.models import DataUseFlag, DataUseRecord

PAGE_SIZE = 30
EXPORT_MAX = 5000


class UseFilterForm(forms.Form):
    """The filters of the log, kept in the query string (they survive paging and export)."""

    date_from = forms.DateField(
        label=gettext_lazy("起始日期"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": gettext_lazy("日期格式应为 年-月-日，例如 2026-12-01")},
    )
    date_to = forms.DateField(
        label=gettext_lazy("截止日期"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": gettext_lazy("日期格式应为 年-月-日，例如 2026-12-01")},
    )
    kind = forms.ChoiceField(
        label=gettext_lazy("使用方式"),
        required=False,
        choices=[("", gettext_lazy("全部"))] + list(DataUseRecord.Kind.choices),
        error_messages={"invalid_choice": gettext_lazy("未知的使用方式")},
    )
    organization = forms.CharField(label=gettext_lazy("使用部门"), required=False, max_length=128)
    error_css_class = "has-error"

    def __init__(self, data):
        super().__init__(
            {
                "date_from": data.get("from", ""),
                "date_to": data.get("to", ""),
                "kind": data.get("kind", ""),
                "organization": data.get("organization", ""),
            }
        )

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("截止日期不能早于起始日期"))
        return data

    def filters(self) -> sel.UseFilters:
        if not self.is_valid():
            return sel.UseFilters()
        d = self.cleaned_data
        return sel.UseFilters(
            date_from=d["date_from"],
            date_to=d["date_to"],
            kind=d["kind"],
            organization=d["organization"].strip(),
        )


class FlagForm(PortalForm):
    reason = forms.CharField(
        label=gettext_lazy("异议理由"),
        max_length=data_use.REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={
            "required": gettext_lazy("请填写异议理由"),
            "max_length": gettext_lazy("异议理由不超过 500 个字"),
        },
    )


class AnswerForm(PortalForm):
    answer = forms.CharField(
        label=gettext_lazy("答复"),
        max_length=data_use.ANSWER_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={
            "required": gettext_lazy("请填写答复"),
            "max_length": gettext_lazy("答复不超过 2000 个字"),
        },
    )


def _person(request):
    access = access_for(request.user)
    if not access.is_person:
        raise PermissionDenied(_("您没有访问此页面的权限"))
    return access


def _page_number(request) -> int:
    try:
        return min(max(1, int(request.GET.get("page", "1"))), 10_000)
    except ValueError:
        return 1


def proof_text(record) -> str:
    state = sel.proof_state(record)
    if state["state"] != "included":
        return _("待收录")
    witnesses = "、".join(node_display(w) for w in state["witnesses"]) or _("暂无")
    return _("已收录于 %(node)s 审计日志 第 %(index)s 条，检查点 %(size)s，见证：%(witnesses)s") % {
        "node": node_display(state["node"]),
        "index": state["index"],
        "size": state["checkpoint_size"],
        "witnesses": witnesses,
    }


def _basis(record) -> str:
    if record.legal_basis:
        return record.legal_basis
    if record.consent_id:
        return _("本人同意（%(id)s）") % {"id": record.consent_id}
    return ""


def _flag_text(record) -> str:
    if record.flag == DataUseRecord.Flag.OPEN:
        return _("异议待答复（答复期限 %(date)s）") % {"date": record.flag_deadline}
    if record.flag == DataUseRecord.Flag.ANSWERED:
        return _("异议已答复：%(answer)s") % {"answer": record.flag_answer}
    return ""


def _log_page(request, *, bound: dict | None = None, status: int = 200):
    access = _person(request)
    form = UseFilterForm(request.GET)
    filters = form.filters()
    rows = sel.data_uses_for(access, filters)
    total = rows.count()
    page = _page_number(request)
    pages = max(1, -(-total // PAGE_SIZE))
    bound = bound or {}
    records = list(rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE])
    items = [
        {
            "r": r,
            "organization": r.user_organization_name,
            "node": node_display(r.user_node),
            "basis": _basis(r),
            "proof": proof_text(r),
            "included": bool(r.proof),
            "flag_form": bound.get(r.use_id) or FlagForm(prefix=f"u{r.pk}"),
        }
        for r in records
    ]
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "portal/data_use/log.html",
        {
            "form": form,
            "items": items,
            "total": total,
            "identity_unproven": not access.identity_proven,
            "export_query": query.urlencode(),
            "page": page,
            "pages": pages,
            "has_previous": page > 1,
            "has_next": page < pages,
        },
        status=status if form.is_valid() else 400,
    )


@login_required
def data_use_log(request):
    return _log_page(request)


@login_required
def data_use_flag(request, use_id: str):
    access = _person(request)
    if request.method != "POST":
        return redirect("portal:data_use")
    record = sel.data_uses_visible_to(access).filter(use_id=use_id[:40]).first()
    if record is None:
        raise Http404(_("数据使用记录不存在"))
    form = FlagForm(request.POST, prefix=f"u{record.pk}")
    if form.is_valid():
        try:
            data_use.data_use_flag_raise(
                user=request.user, use_id=use_id, reason=form.cleaned_data["reason"]
            )
        except DomainError as error:
            form.apply_domain_error(error)
            return _log_page(request, bound={record.use_id: form}, status=error.status)
        messages.success(
            request,
            _("异议已提交，%(org)s 的数据专员须在 15 个工作日内答复")
            % {"org": record.user_organization_name},
        )
        return redirect(f"{reverse('portal:data_use')}#use-{record.pk}")
    return _log_page(request, bound={record.use_id: form}, status=400)


def _export_rows(request):
    access = _person(request)
    form = UseFilterForm(request.GET)
    if not form.is_valid():
        raise DomainError("invalid_filter", _("筛选条件有误"))
    return list(sel.data_uses_for(access, form.filters())[:EXPORT_MAX])


EXPORT_COLUMNS = (
    gettext_lazy("使用时间"),
    gettext_lazy("使用方式"),
    gettext_lazy("使用部门"),
    gettext_lazy("使用节点"),
    gettext_lazy("数据"),
    gettext_lazy("字段"),
    gettext_lazy("办件编号"),
    gettext_lazy("事项"),
    gettext_lazy("使用目的"),
    gettext_lazy("法律依据或本人同意"),
    gettext_lazy("审计收录"),
    gettext_lazy("异议"),
)


def _export_values(r) -> list[str]:
    return [
        timezone.localtime(r.used_at).strftime("%Y-%m-%d %H:%M"),
        str(r.get_kind_display()),
        r.user_organization_name,
        node_display(r.user_node),
        r.dataset_name,
        "、".join(r.fields),
        r.case_number,
        r.item_name,
        r.purpose,
        _basis(r),
        proof_text(r),
        _flag_text(r),
    ]


def _filename(ext: str) -> str:
    return f"data-uses-{timezone.localdate():%Y%m%d}.{ext}"


@login_required
def data_use_csv(request):
    try:
        rows = _export_rows(request)
    except DomainError:
        return _log_page(request)
    out = io.StringIO()
    out.write("\ufeff")  # so that spreadsheet programs read the UTF-8 text as such
    writer = csv.writer(out)
    writer.writerow([str(c) for c in EXPORT_COLUMNS])
    for r in rows:
        writer.writerow([_csv_safe(v) for v in _export_values(r)])
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_filename("csv")}"'
    return response


def _csv_safe(value: str) -> str:
    """No formula injection: a cell a spreadsheet would evaluate starts with a quote."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@login_required
def data_use_pdf(request):
    try:
        rows = _export_rows(request)
    except DomainError:
        return _log_page(request)
    response = HttpResponse(_pdf(request, rows), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{_filename("pdf")}"'
    return response


def _pdf(request, rows) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas

    from tongban.documents.layout import FONT_NAME, wrap

    buffer = io.BytesIO()
    c = canvas.Canvas(buffer, pagesize=A4, pageCompression=1)
    c.setTitle(_("我的数据使用记录"))
    width, height = A4
    left, top, bottom = 18 * mm, height - 18 * mm, 18 * mm
    text_w = (width - 2 * left) / mm
    y = top

    def line(text: str, size: float = 9.5, gap: float = 5.2, indent: float = 0.0) -> None:
        nonlocal y
        for part in wrap(text, text_w - indent, size) or [""]:
            if y < bottom:
                c.showPage()
                y = top
            c.setFont(FONT_NAME, size)
            c.drawString(left + indent * mm, y, part)
            y -= gap * mm

    line(_("我的数据使用记录"), size=16, gap=9)
    line(
        _("导出时间 %(time)s · 共 %(n)s 条")
        % {"time": timezone.localtime().strftime("%Y-%m-%d %H:%M"), "n": len(rows)}
    )
    y -= 3 * mm
    for r in rows:
        values = dict(zip((str(col) for col in EXPORT_COLUMNS), _export_values(r), strict=True))
        line(f"{values[str(EXPORT_COLUMNS[0])]}  {r.user_organization_name}", size=11, gap=6)
        for col in EXPORT_COLUMNS[1:]:
            if values[str(col)]:
                line(f"{col}：{values[str(col)]}", indent=4)
        y -= 3 * mm
    c.save()
    return buffer.getvalue()


# --- the 数据专员 ----------------------------------------------------------------------


def _officer(request) -> set[str]:
    codes = sel.officer_organizations(request.user)
    if codes is None:
        raise PermissionDenied(_("您没有访问此页面的权限"))
    return codes


def _officer_page(request, *, bound: dict | None = None, status: int = 200):
    _officer(request)
    rows = list(sel.flags_visible_to(request.user).order_by("deadline", "id"))
    today = timezone.localdate()
    bound = bound or {}
    open_rows = [
        {
            "f": f,
            "overdue": f.deadline < today,
            "form": bound.get(f.flag_id) or AnswerForm(prefix=f"f{f.pk}"),
            "node": node_display(f.home_node),
            "used_at": _local_time(f.use_summary.get("used_at")),
        }
        for f in rows
        if f.status == DataUseFlag.Status.OPEN
    ]
    answered = [f for f in rows if f.status == DataUseFlag.Status.ANSWERED]
    answered.sort(key=lambda f: f.answered_at or f.raised_at, reverse=True)
    return render(
        request,
        "portal/data_use/officer.html",
        {"open_rows": open_rows, "answered": answered, "kinds": dict(DataUseRecord.Kind.choices)},
        status=status,
    )


def _local_time(value) -> str:
    from tongban.exchange.envelopes import parse_time

    try:
        return timezone.localtime(parse_time(value)).strftime("%Y-%m-%d %H:%M")
    except (TypeError, ValueError):
        return ""


@login_required
def officer_flags(request):
    return _officer_page(request)


@login_required
def officer_answer(request, flag_id: str):
    _officer(request)
    if request.method != "POST":
        return redirect("portal:data_officer")
    flag = sel.flags_visible_to(request.user).filter(flag_id=flag_id[:40]).first()
    if flag is None:
        raise Http404(_("异议不存在"))
    form = AnswerForm(request.POST, prefix=f"f{flag.pk}")
    if form.is_valid():
        try:
            data_use.data_use_flag_answer(
                user=request.user, flag_id=flag_id, answer=form.cleaned_data["answer"]
            )
        except DomainError as error:
            form.apply_domain_error(error)
            return _officer_page(request, bound={flag.flag_id: form}, status=error.status)
        messages.success(request, _("答复已发送"))
        return redirect("portal:data_officer")
    return _officer_page(request, bound={flag.flag_id: form}, status=400)
