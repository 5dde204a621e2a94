"""``{% case_licence_status case as rows %}``: the status of each licence a case
used (免证办), for the case page at the handling node (licences.sharing)."""

from __future__ import annotations

from django import template
from django.utils import timezone
from django.utils.translation import gettext as _

from tongban.licences.models import LicenceStatus
from tongban.licences.sharing import case_licence_statuses

register = template.Library()


@register.simple_tag
def case_licence_status(case) -> dict:
    """{"rows": [...], "attention": any licence revoked, suspended or of unknown status}"""
    today = timezone.localdate()
    rows = []
    for row in case_licence_statuses(case):
        known = row.status in LicenceStatus.values
        checked = timezone.localtime(row.status_time)
        rows.append(
            {
                "type_name": row.type_name,
                "material_code": row.material_code,
                "status": row.status or "unknown",
                "label": LicenceStatus(row.status).label if known else _("状态未知"),
                "checked_at": checked,
                "checked_today": checked.date() == today,
                "changed": known and row.status_at_use and row.status != row.status_at_use,
                "at_use": LicenceStatus(row.status_at_use).label
                if row.status_at_use in LicenceStatus.values
                else "",
                "blocks": row.blocks_approval,
                "error": row.error,
            }
        )
    attention = any(r["blocks"] or r["status"] == "unknown" or r["changed"] for r in rows)
    return {"rows": rows, "attention": attention}
