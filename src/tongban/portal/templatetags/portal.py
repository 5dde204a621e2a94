"""Small display helpers for the portal templates."""

from django import template
from django.utils import timezone
from django.utils.translation import gettext as _

from tongban.cases.presenters import STATUS_LABELS
from tongban.identity.masking import mask_name
from tongban.portal.context import node_name

register = template.Library()


@register.filter
def node_label(node_id: str) -> str:
    """ "zj" → "浙江"."""
    return node_name(node_id)


@register.filter
def node_paren(node_id: str) -> str:
    """ "zj" → "浙江（zj）"."""
    return _("%(name)s（%(id)s）") % {"name": node_name(node_id), "id": node_id}


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
