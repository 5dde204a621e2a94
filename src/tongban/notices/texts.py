"""What the applicant is told when their case changes, in Chinese.

The words are stored and sent by SMS as they are, in Chinese whatever language
the person who acted had chosen: they are written with plain strings, not gettext.
"""

from __future__ import annotations

MAX_REASON = 300


def _clip(text: str, limit: int = MAX_REASON) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _missing(entries: object) -> str:
    parts = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        name = _clip(entry.get("name") or entry.get("material_code") or "", 60)
        note = _clip(entry.get("note") or "", 120)
        if name and note:
            parts.append(f"{name}（{note}）")
        elif name or note:
            parts.append(name or note)
    return "；".join(parts)


def case_status_text(
    *,
    number: str,
    item_name: str,
    to_status: str,
    from_status: str = "",
    reason: str = "",
    details: dict | None = None,
) -> tuple[str, str] | None:
    """(title, text) for a case that reached ``to_status``; None when the applicant is
    not told (a status this module does not know)."""
    details = details if isinstance(details, dict) else {}
    case = f"您申请的“{item_name}”（办件编号 {number}）"
    reason = _clip(reason)
    if to_status == "submitted" and from_status == "supplement_requested":
        return "补正材料已提交", f"{case}已提交补正材料，等待办理机构审查。"
    if to_status == "submitted":
        return "办件已提交", f"{case}已提交，等待办理机构受理。"
    if to_status == "accepted":
        return "办件已受理", f"{case}已受理，请等待审批结果。"
    if to_status == "supplement_requested":
        missing = _missing(details.get("missing"))
        text = f"{case}需要补正材料"
        text += f"：{missing}。" if missing else "。"
        if reason:
            text += f"说明：{reason}。"
        return "办件待补正", text + "请一次性补齐后提交。"
    if to_status == "refused":
        text = f"{case}不予受理。"
        return "办件不予受理", text + (f"理由：{reason}" if reason else "")
    if to_status == "approved":
        return "办件准予许可", f"{case}已准予许可，已办结。办理结果可在办件页面查看。"
    if to_status == "denied":
        text = f"{case}不予许可，已办结。"
        return "办件不予许可", text + (f"理由：{reason}" if reason else "")
    return None
