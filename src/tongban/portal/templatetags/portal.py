"""Small display helpers for the portal templates."""

from django import template
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from tongban.cases.presenters import STATUS_LABELS
from tongban.identity.assurance import assurance_explanation as _assurance_explanation
from tongban.identity.assurance import assurance_meaning as _assurance_meaning
from tongban.identity.masking import mask_name
from tongban.portal.context import node_display as _node_display
from tongban.portal.context import node_name

register = template.Library()


@register.filter
def node_label(node_id: str) -> str:
    """ "zj" → "浙江"."""
    return node_name(node_id)


@register.filter
def node_display(node_id: str) -> str:
    """ "zj" → "浙江 浙里办": the province and its platform, never the node code."""
    return _node_display(node_id)


@register.filter
def node_paren(node_id: str) -> str:
    """ "zj" → "浙江 浙里办" (it used to append the node code, which only officials
    see now, in a case's 技术详情)."""
    return _node_display(node_id)


@register.filter
def node_code(node_id: str) -> str:
    """ "zj" → "浙江（zj）": for 技术详情, where officials see the node codes."""
    return _("%(name)s（%(id)s）") % {"name": node_name(node_id), "id": node_id}


@register.filter
def assurance_meaning(level: str) -> str:
    """ "L3" → "当面核验" (see tongban.identity.assurance)."""
    return _assurance_meaning(level)


@register.filter
def assurance_explanation(level: str) -> str:
    """ "L2" → "身份信息在线核验，手机号已验证"."""
    return _assurance_explanation(level)


@register.filter
def status_label(code: str) -> str:
    return str(STATUS_LABELS.get(code, code))


@register.filter
def overdue(case) -> bool:
    """The promised deadline has passed and the case is not concluded."""
    return bool(case.deadline and case.deadline < timezone.localdate() and not case.is_terminal)


@register.filter
def short_digest(value: str, length: int = 16) -> str:
    value = value or ""
    return value if len(value) <= length else f"{value[:length]}…"


@register.filter
def masked_name(value: str) -> str:
    """ "张伟" → "张*"."""
    return mask_name(value or "")


# Words of the catalog release and of result documents that pages show as values (主题领域,
# 收费, 结论): they are published in Chinese; the English catalogue translates these few.
CATALOG_WORDS = [
    gettext_noop("就医"),
    gettext_noop("身后"),
    gettext_noop("出行"),
    gettext_noop("生活"),
    gettext_noop("就业"),
    gettext_noop("人才"),
    gettext_noop("出生"),
    gettext_noop("准入准营"),
    gettext_noop("工程建设"),
    gettext_noop("养老"),
    gettext_noop("经营发展"),
    gettext_noop("救助"),
    gettext_noop("招聘用工"),
    gettext_noop("教育"),
    gettext_noop("纳税缴费"),
    gettext_noop("注销退出"),
    gettext_noop("置业"),
    gettext_noop("不收费"),
    # the decision a result document states
    gettext_noop("准予"),
    gettext_noop("不予"),
]

RESULT_KINDS = {
    "business_licence": gettext_lazy("营业执照"),
    "certificate": gettext_lazy("证明"),
    "approval": gettext_lazy("许可决定"),
    "record": gettext_lazy("备案回执"),
    "none": gettext_lazy("无"),
}


@register.filter
def catalog_word(value: str) -> str:
    """A catalog value (主题领域 "准入准营", 收费 "不收费") in the page's language, when the
    English catalogue knows it; otherwise as published."""
    return _(value) if value else ""


@register.filter
def result_kind_label(code: str) -> str:
    """ "business_licence" → "营业执照"."""
    return str(RESULT_KINDS.get(code or "", code or ""))
