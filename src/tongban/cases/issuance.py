"""What a case's documents say, and issuing them as signed ``tongban-document/1`` records.

* 收件凭证 (intake_receipt) — by the receiving window's organization, the moment a window
  takes an application;
* 受理回执, 补正告知书, 不予受理通知书, 不予许可决定书 — by the deciding organization at
  each decision, with the reason and, for refusals and denials, how to appeal;
* the result — a 证明 / 决定书 / 备案回执 (and, where a licence type is declared, the
  e-licence itself) — written from the item's result declaration (catalog/results.py):
  the form, the applicant, the enterprise, and what the deciding official entered;
* 办结通知书 (conclusion_notice) at the conclusion.

Signed documents are Chinese official documents: their text is the signed content, in
Chinese, never translated. Dates and times are Beijing time in Chinese form.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from tongban.cases.application_form import answer_shown
from tongban.cases.models import Case
from tongban.cases.stages import input_value, limit_days_for, member_inputs
from tongban.cases.stored_pii import form_masked
from tongban.catalog.results import PLACEHOLDER
from tongban.directory.models import Node, Organization, Window
from tongban.documents.dates import date_cn, datetime_cn
from tongban.documents.formats import KINDS
from tongban.documents.models import IssuedDocument
from tongban.documents.services import document_issue
from tongban.errors import DomainError

RESULT_DOCUMENT_KINDS = {
    "certificate": "certificate",
    "decision": "approval_decision",
    "filing": "filing_receipt",
    "licence": "approval_decision",
}
# the kinds a case's "result" is (the old /documents/result.pdf)
RESULT_KINDS = ("certificate", "approval_decision", "filing_receipt")
# the short names of the first download URLs, kept
ALIASES = {
    "acceptance": ("acceptance_receipt",),
    "conclusion": ("conclusion_notice",),
    "result": RESULT_KINDS,
    "intake": ("intake_receipt",),
    "supplement": ("supplement_notice",),
    "refusal": ("refusal_notice",),
    "denial": ("denial_decision",),
}
SHORT_NAMES = {kinds[0]: alias for alias, kinds in ALIASES.items() if len(kinds) == 1}

MAX_INPUT = {"text": 200, "textarea": 2000}


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


def _subject_person(case: Case) -> dict:
    return {
        "name": case.applicant_name,
        "id_masked": case.applicant_id_masked,
        "label": "申请人",
        "id_label": "公民身份号码",
    }


def enterprise_of(case: Case) -> tuple[str, str]:
    form = case.form_data or {}
    name = case.enterprise_name or str(form.get("company_name") or "")
    code = case.enterprise_code or str(form.get("uscc") or "")
    return name, code


def _common_facts(case: Case) -> list[tuple[str, str]]:
    facts = [("事项名称", case.item_name)]
    name, code = enterprise_of(case)
    if name and case.item.audience == "enterprise":
        facts.append(("申请企业", f"{name}（{code}）" if code else name))
    return facts


def _channel_facts(case: Case) -> list[tuple[str, str]]:
    if case.channel == "window":
        return [("收件窗口", case.receiving_window_name or "—")]
    app = Node.objects.filter(node_id=case.receiving_node).values_list("app_name", flat=True)
    return [("申请渠道", f"网上申请（{app.first() or case.receiving_node}）")]


def _deadline_text(day: dt.date | None, provisional: bool) -> str:
    if day is None:
        return ""
    text = date_cn(day)
    if provisional:
        text += "（按周末推算，节假日安排公布后校准）"
    return text


# --- appeal (行政复议 / 行政诉讼) ---------------------------------------------------------

_PLACE = re.compile(
    r"^(?:国家税务总局)?(?P<province>[^省市区县]{2,3}省)?(?P<city>[^省市区县]{2,3}市)?"
    r"(?P<county>[^省市区县]{2,3}[区县])?"
)


def _place_of_name(name: str) -> str:
    match = _PLACE.match(name or "")
    return "".join(p for p in match.groups() if p) if match else ""


def _place(org: Organization) -> str:
    """The administrative area an organization belongs to, in words (上海市青浦区)."""
    place = _place_of_name(org.name)
    if place:
        return place
    for other in Organization.objects.filter(region=org.region).exclude(pk=org.pk):
        if place := _place_of_name(other.name):
            return place
    return ""


def appeal_text(org: Organization) -> str:
    """How to appeal a refusal or denial: 行政复议 within 60 days, 行政诉讼 within 6 months."""
    place = _place(org)
    if org.kind == "tax":
        review = "上一级税务机关"
    elif place:
        review = f"{place}人民政府"
    else:
        review = "本机关的本级人民政府"
    return (
        f"如不服本决定，可以自收到本文书之日起六十日内向{review}申请行政复议，"
        f"也可以自收到本文书之日起六个月内依法向有管辖权的人民法院提起行政诉讼。"
    )


def _doc_number(org: Organization, case: Case, word: str) -> str:
    """文号: the organization's short name, the year, a word for the kind, the case's
    daily sequence (unique per case)."""
    short = org.short_name or org.name
    year = timezone.localdate().year
    return f"{short}〔{year}〕{word}{case.number[-7:]}号"


def _issue(
    case: Case,
    *,
    kind: str,
    organization: Organization,
    facts: list[tuple[str, str]],
    body: str = "",
    subject: dict | None = None,
    title: str = "",
    doc_number: str = "",
    valid_until: dt.date | None = None,
    licence: dict | None = None,
    at: dt.datetime | None = None,
) -> IssuedDocument:
    return document_issue(
        kind=kind,
        title=title or KINDS[kind],
        organization=organization,
        facts=[(label, value) for label, value in facts if value not in ("", None)],
        subject=subject if subject is not None else _subject_person(case),
        case_number=case.number,
        doc_number=doc_number,
        body=body,
        valid_until=valid_until,
        licence=licence,
        issued_at=at,
    )


# --- procedural documents --------------------------------------------------------------


def intake_receipt_issue(case: Case, *, window: Window, officer: str) -> IssuedDocument:
    """收件凭证: what the window took, when, and how to follow the case."""
    materials = []
    for m in case.materials.all():
        if m.is_licence:
            materials.append(f"{m.name}：电子证照《{m.licence_type_name}》（免交纸质材料）")
        else:
            materials.append(f"{m.name}：{m.filename}（{_size(m.size)}）")
    node = Node.objects.filter(node_id=settings.TONGBAN_NODE).first()
    app = (node.app_name or node.name) if node else settings.TONGBAN_NODE
    facts = [
        *_common_facts(case),
        ("收件窗口", window.name),
        ("窗口地址", window.address),
        ("收件人员", officer),
        ("收件时间", f"{datetime_cn(case.submitted_at)}（北京时间）"),
        ("办理机构", case.handling_organization.name),
        ("已收材料", "\n".join(f"{i}. {text}" for i, text in enumerate(materials, 1)) or "—"),
        # a relay stage's own limit; the item's promise covers the whole relay
        ("承诺时限", f"{limit_days_for(case)[0]}个工作日（自受理之日起算）"),
        (
            "进度查询",
            f"凭办件编号在{app}“我的办件”、本窗口或{case.handling_organization.name}查询办理进度",
        ),
    ]
    body = (
        f"你（单位）申请办理的“{case.item_name}”，本窗口已收到上列材料，"
        f"并已转送{case.handling_organization.name}审查。"
        "收件不等于受理：办理机构将依法审查，作出受理、一次性告知补正或不予受理的决定，"
        "并出具相应文书。办理结果将送达本窗口并通知申请人。"
    )
    if case.perspective == "local":
        body = body.replace(f"并已转送{case.handling_organization.name}审查", "并交办理机构审查")
    return _issue(
        case,
        kind="intake_receipt",
        organization=window.organization,
        facts=facts,
        body=body,
        at=case.submitted_at,
    )


def acceptance_receipt_issue(case: Case, *, note: str, at: dt.datetime) -> IssuedDocument:
    org = case.handling_organization
    facts = [
        *_common_facts(case),
        *_channel_facts(case),
        ("受理机构", org.name),
        ("受理时间", f"{datetime_cn(at)}（北京时间）"),
        ("承诺办结期限", _deadline_text(case.deadline, case.deadline_provisional)),
        ("法定办结期限", _deadline_text(case.legal_deadline, case.deadline_provisional)),
        ("受理意见", note),
    ]
    body = (
        f"你（单位）申请的“{case.item_name}”，申请材料齐全、符合法定形式，本机关决定予以受理。"
        "本机关将在承诺期限内作出决定，结果将通过收件渠道送达。"
    )
    return _issue(
        case,
        kind="acceptance_receipt",
        organization=org,
        facts=facts,
        body=body,
        doc_number=_doc_number(org, case, "受字"),
        at=at,
    )


def supplement_notice_issue(
    case: Case, *, missing: list[dict], note: str, at: dt.datetime
) -> IssuedDocument:
    org = case.handling_organization
    lines = []
    for i, entry in enumerate(missing, 1):
        name, why = entry.get("name") or "", entry.get("note") or ""
        lines.append(f"{i}. {name}{'：' if name and why else ''}{why}")
    facts = [
        *_common_facts(case),
        *_channel_facts(case),
        ("需补正的材料", "\n".join(lines)),
        ("补正说明", note),
        ("告知时间", f"{datetime_cn(at)}（北京时间）"),
    ]
    body = (
        f"你（单位）申请的“{case.item_name}”，申请材料不齐全或者不符合法定形式。"
        "根据《中华人民共和国行政许可法》第三十二条，现一次性告知需要补正的全部内容（见上）。"
        "请通过原收件渠道提交补正材料；补正材料收到后，本机关重新审查，办理时限自收到之日起重新计算。"
    )
    return _issue(
        case,
        kind="supplement_notice",
        organization=org,
        facts=facts,
        body=body,
        doc_number=_doc_number(org, case, "补字"),
        at=at,
    )


def _negative_decision_issue(
    case: Case,
    *,
    kind: str,
    reason_label: str,
    reason: str,
    finding: str,
    doc_word: str,
    at: dt.datetime,
    facts_before: tuple = (),
) -> IssuedDocument:
    """不予受理通知书 / 不予许可决定书: the reason, the finding, and how to appeal."""
    org = case.handling_organization
    facts = [
        *_common_facts(case),
        *_channel_facts(case),
        *facts_before,
        (reason_label, reason),
        ("决定时间", f"{datetime_cn(at)}（北京时间）"),
    ]
    body = f"你（单位）申请的“{case.item_name}”，经审查，{finding}，理由见上。\n" + appeal_text(org)
    return _issue(
        case,
        kind=kind,
        organization=org,
        facts=facts,
        body=body,
        doc_number=_doc_number(org, case, doc_word),
        at=at,
    )


def refusal_notice_issue(case: Case, *, reason: str, at: dt.datetime) -> IssuedDocument:
    return _negative_decision_issue(
        case,
        kind="refusal_notice",
        reason_label="不予受理理由",
        reason=reason,
        finding="本机关决定不予受理",
        doc_word="不受字",
        at=at,
    )


def denial_decision_issue(case: Case, *, reason: str, at: dt.datetime) -> IssuedDocument:
    accepted = datetime_cn(case.accepted_at) if case.accepted_at else ""
    return _negative_decision_issue(
        case,
        kind="denial_decision",
        reason_label="不予许可理由",
        reason=reason,
        finding="不符合法定条件、标准，根据《中华人民共和国行政许可法》第三十八条第二款，"
        "本机关决定不予许可",
        doc_word="不许字",
        at=at,
        facts_before=(("受理时间", accepted),),
    )


CONCLUSIONS = {"approved": "准予", "denied": "不予许可", "refused": "不予受理"}


def conclusion_notice_issue(
    case: Case, *, at: dt.datetime, outcome: str, documents: list[IssuedDocument], licence=None
) -> IssuedDocument:
    org = case.handling_organization
    titles = "、".join(f"《{d.title}》" for d in documents)
    facts = [
        *_common_facts(case),
        *_channel_facts(case),
        ("办理机构", org.name),
        ("办理结论", CONCLUSIONS.get(outcome, outcome)),
        ("办结时间", f"{datetime_cn(at)}（北京时间）"),
        ("出具文书", titles),
    ]
    if licence is not None:
        facts.append(
            (
                "电子证照",
                f"《{licence.licence_type.name}》已签发并发送至持证人的证照夹（证照标识 {licence.identifier}）",
            )
        )
    body = f"你（单位）申请的“{case.item_name}”已办结。文书可在收件窗口领取，或在网上办件页面下载并扫码核验。"
    return _issue(
        case,
        kind="conclusion_notice",
        organization=org,
        facts=facts,
        body=body,
        at=at,
    )


# --- the result, from the item's declaration ---------------------------------------------


@dataclass
class ResultContext:
    """Everything a declaration's sources may draw on, for one case at its deciding node."""

    case: Case
    organization: Organization
    decided_at: dt.datetime
    official: dict = field(default_factory=dict)
    licence_face: dict = field(default_factory=dict)
    new_uscc: str = ""
    licence_number: str = ""

    def __post_init__(self):
        self.form = form_masked(self.case.item.form_schema, self.case.form_data)
        self.inputs = member_inputs(self.case)  # a 联办件 member: what came before

    def fill(self, template: str) -> str:
        """A paragraph: each placeholder replaced by its value (empty when unknown)."""
        return PLACEHOLDER.sub(lambda m: self.value(m.group(1)), template)

    def value(self, source: str) -> str:
        """One value; a template is empty unless every placeholder in it has a value."""
        if "{" in source:
            parts = PLACEHOLDER.findall(source)
            return self.fill(source) if all(self.value(p) for p in parts) else ""
        prefix, _, rest = source.partition(":")
        case = self.case
        if prefix == "form":  # a select's label, as the applicant chose it
            field = next((f for f in self.case.item.form_schema if f.get("name") == rest), None)
            return answer_shown(field, self.form.get(rest, ""))
        if prefix == "applicant":
            return {
                "name": case.applicant_name,
                "id_masked": case.applicant_id_masked,
                "id_number": case.applicant_id_number,
            }.get(rest, "")
        if prefix == "enterprise":
            name, code = enterprise_of(case)
            return {"name": name, "uscc": code}.get(rest, "")
        if prefix == "official":
            return str(self.official.get(rest, ""))
        if prefix == "licence":
            return str(self.licence_face.get(rest, ""))
        if prefix == "organization":
            return self.organization.name if rest == "name" else ""
        if prefix == "case":
            return {
                "number": case.number,
                "item": case.item_name,
                "decided_on": date_cn(self.decided_at),
                "decided_iso": timezone.localtime(self.decided_at).date().isoformat(),
            }.get(rest, "")
        if prefix == "new":
            return self.new_uscc if rest == "uscc" else ""
        if prefix == "auto":
            return self.licence_number
        if prefix == "text":
            return rest
        if prefix in ("stage", "part"):
            return input_value(self.inputs, source)
        return ""


def official_inputs_clean(declaration: dict, given: object, ctx: ResultContext) -> dict:
    """What the deciding official entered or confirmed, with the declared defaults; every
    problem in one answer (DomainError with details.fields)."""
    given = given if isinstance(given, dict) else {}
    values, problems = {}, {}
    for spec in declaration.get("official_inputs") or []:
        key, label, kind = spec["key"], spec["label"], spec.get("type", "text")
        raw = given.get(key)
        text = "" if raw is None else str(raw).strip()
        if not text and spec.get("default") and key not in given:
            text = ctx.value(spec["default"]).strip()
        if not text:
            if spec.get("required", True):
                problems[key] = _("请填写“%(label)s”") % {"label": label}
            values[key] = ""
            continue
        try:
            values[key] = _input_value(kind, text, spec)
        except ValueError as exc:
            problems[key] = f"“{label}”：{exc}"
    if problems:
        raise DomainError(
            "invalid_result_inputs",
            _("请检查出具结果所需的信息：%(problems)s")
            % {"problems": "；".join(problems.values())},
            details={"fields": {f"result-{k}": v for k, v in problems.items()}},
        )
    return values


def _input_value(kind: str, text: str, spec: dict) -> str:
    if kind in ("text", "textarea"):
        if len(text) > MAX_INPUT[kind]:
            raise ValueError(_("不能超过%(n)s字") % {"n": MAX_INPUT[kind]})
        if kind == "text" and ("\n" in text or "\r" in text):
            raise ValueError(_("不能换行"))
        return text
    if kind == "select":
        if text not in spec.get("choices", []):
            raise ValueError(_("请从选项中选择"))
        return text
    if kind == "date":
        try:
            return dt.date.fromisoformat(text).isoformat()
        except ValueError:
            raise ValueError(_("须为日期（YYYY-MM-DD）")) from None
    if kind == "integer":
        if not (text.isascii() and text.isdigit()) or len(text) > 9:
            raise ValueError(_("须为不超过9位的非负整数"))
        return str(int(text))
    if kind == "decimal":
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValueError(_("须为数字")) from None
        if not number.is_finite() or number < 0 or number >= Decimal("1e12"):
            raise ValueError(_("须为非负数"))
        return format((number + 0).quantize(Decimal("0.01")), "f")  # + 0: no "-0"
    raise ValueError(_("无法识别的类型"))


def result_subject(declaration: dict, ctx: ResultContext) -> tuple[dict, set[str]]:
    """Whom the result names on top — the person, or the enterprise (a new one for 设立) —
    and the sources those rows already print (left out of the facts)."""
    case = ctx.case
    licence = declaration.get("licence") or {}
    if licence.get("holder") == "new_enterprise":
        name_source = licence["fields"].get("company_name", "")
        return (
            {
                "name": ctx.value(name_source),
                "id_masked": ctx.new_uscc,
                "label": "名称",
                "id_label": "统一社会信用代码",
            },
            {name_source, "new:uscc"},
        )
    name, code = enterprise_of(case)
    if case.item.audience == "enterprise" and name:
        return (
            {"name": name, "id_masked": code, "label": "企业名称", "id_label": "统一社会信用代码"},
            {"enterprise:name", "enterprise:uscc"},
        )
    return (
        {
            "name": case.applicant_name,
            "id_masked": case.applicant_id_masked,
            "label": "姓名",
            "id_label": "公民身份号码",
        },
        {"applicant:name", "applicant:id_masked"},
    )


def result_document_issue(
    declaration: dict, ctx: ResultContext, *, licence=None
) -> IssuedDocument | None:
    """The result document the declaration describes (None for kind "none")."""
    kind = RESULT_DOCUMENT_KINDS.get(declaration.get("kind", "none"))
    if kind is None:
        return None
    case, org = ctx.case, ctx.organization
    subject, printed = result_subject(declaration, ctx)
    facts = [
        (fact["label"], ctx.value(fact["from"]))
        for fact in declaration.get("facts") or []
        if fact["from"] not in printed
    ]
    if licence is not None:
        facts.append(("电子证照", f"《{licence.licence_type.name}》第{licence.version}版"))
        facts.append(("证照标识", licence.identifier))
    days = declaration.get("valid_days")
    valid_until = (
        timezone.localtime(ctx.decided_at).date() + dt.timedelta(days=days) if days else None
    )
    word = {"certificate": "证字", "filing_receipt": "备字"}.get(kind, "许字")
    return _issue(
        case,
        kind=kind,
        title=declaration.get("title") or KINDS[kind],
        organization=org,
        facts=facts,
        body=ctx.fill(declaration["body"]) if declaration.get("body") else "",
        subject=subject,
        doc_number=_doc_number(org, case, word),
        valid_until=valid_until,
        licence=(
            {"identifier": licence.identifier, "issuer_node": settings.TONGBAN_NODE}
            if licence is not None
            else None
        ),
        at=ctx.decided_at,
    )


def legacy_declaration(case: Case) -> dict:
    """An item imported before results were declared: a plain decision."""
    return {
        "kind": "decision",
        "title": "准予许可决定书",
        "facts": [{"label": "事项名称", "from": "case:item"}],
        "official_inputs": [],
        "body": "经审查，你（单位）的申请符合法定条件、标准，本机关决定准予许可。",
    }


# --- the e-licence a result declares -------------------------------------------------------


def _licence_type(declaration: dict):
    from tongban.licences.services import licence_type_by_name

    spec = declaration.get("licence") or {}
    licence_type = licence_type_by_name(spec.get("type", ""))
    if licence_type is None:
        raise DomainError(
            "unknown_licence_type",
            _("该事项的结果证照类型“%(name)s”未在本节点登记") % {"name": spec.get("type", "")},
        )
    return licence_type


def result_holder(declaration: dict, ctx: ResultContext) -> tuple[str, str]:
    """(name, 身份证号 or 统一社会信用代码) of whom the result licence is issued to."""
    spec = declaration["licence"]
    if spec["holder"] == "new_enterprise":
        return ctx.value(spec["fields"].get("company_name", "")), ctx.new_uscc
    if spec["holder"] == "enterprise":
        name, code = enterprise_of(ctx.case)
        return name, code
    return ctx.case.applicant_name, ctx.case.applicant_id_number


def current_licence(declaration: dict, ctx: ResultContext):
    """The holder's current licence of the declared type issued at this node (for a new
    version: 变更登记, 补领), or None."""
    from tongban.identity.pii import blind_index
    from tongban.licences.models import Licence, LicenceStatus

    spec = declaration.get("licence") or {}
    if spec.get("version") != "next" or spec.get("holder") == "new_enterprise":
        return None
    _name, holder_id = result_holder(declaration, ctx)
    if not holder_id:
        return None
    return (
        Licence.objects.select_related("licence_type", "organization")
        .filter(
            licence_type=_licence_type(declaration),
            holder_id_index=blind_index(holder_id.upper()),
            status__in=(LicenceStatus.VALID, LicenceStatus.SUSPENDED),
        )
        .order_by("-version", "-issued_on", "-id")
        .first()
    )


def result_licence_issue(declaration: dict, ctx: ResultContext, current=None):
    """Issue the e-licence the result declares to the holder's wallet; a new version of
    ``current`` (which is then superseded) when there is one."""
    from tongban.licences.models import LicenceStatus
    from tongban.licences.services import _status_set, licence_issue

    spec = declaration["licence"]
    licence_type = _licence_type(declaration)
    name, holder_id = result_holder(declaration, ctx)
    if not holder_id:
        raise DomainError(
            "result_holder_unknown",
            _("无法确定持证主体：申请中没有企业的统一社会信用代码"),
        )
    fields = {}
    for key, source in spec["fields"].items():
        value = ctx.value(source)
        if value:
            fields[key] = value
    # a face field that the declaration does not set keeps the current version's value
    if current is not None:
        for key, value in ctx.licence_face.items():
            if key not in ("holder_name", "holder_id") and key not in spec["fields"]:
                fields.setdefault(key, value)
    known = {f["key"] for f in licence_type.fields}
    kwargs = {}
    if current is not None:
        kwargs = {"family": current.family, "version": current.version + 1}
        if current.organization_id == ctx.organization.code:
            kwargs["serial"] = current.serial
    licence = licence_issue(
        user=None,
        type_code=licence_type.code,
        organization_code=ctx.organization.code,
        holder={"name": name, "id_number": holder_id},
        fields={k: v for k, v in fields.items() if k in known},
        holder_home_node=ctx.case.receiving_node if spec["holder"] == "new_enterprise" else "",
        case_number=ctx.case.number,
        **kwargs,
    )
    if current is not None:
        _status_set(
            current,
            LicenceStatus.SUPERSEDED,
            f"因办件{ctx.case.number}换发为第{licence.version}版",
            ctx.decided_at,
        )
    return licence


def licence_number_for(declaration: dict, ctx: ResultContext) -> str:
    """A licence number for ``auto:<prefix>``: prefix, the organization's region, the year,
    the case's daily sequence."""
    for source in (declaration.get("licence") or {}).get("fields", {}).values():
        if source.startswith("auto:"):
            prefix = source.split(":", 1)[1]
            year = timezone.localtime(ctx.decided_at).year
            return f"{prefix}{ctx.organization.region}{year}{ctx.case.number[-7:]}"
    return ""
