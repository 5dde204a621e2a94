"""Oversight of 联办件 across the region: the coordinating node reports where each
联办件 stands to the hub (``composite.progress``), and the hub keeps the latest report
(``CompositeTrace``) for its operators.

What travels is what oversight needs and nothing personal: numbers, the item, the
organizations and nodes, statuses and time limits. The applicant's name, 身份证号,
phone, the application form, the free-text reasons and the members' outputs stay at
the nodes. The hub stores only the fields listed here, whatever else a body carries.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.utils import timezone

from tongban.cases.models import (
    COMPOSITE_TERMINAL,
    MEMBER_ENDED,
    Composite,
    CompositeStatus,
    CompositeTrace,
    MemberStatus,
)
from tongban.directory.models import Node
from tongban.exchange.envelopes import iso, parse_time
from tongban.exchange.handlers import HandlerRefusal

log = logging.getLogger(__name__)

MESSAGE_TYPE = "composite.progress"


def hub_node_id() -> str | None:
    """The hub as the directory names it (role ``hub``)."""
    return Node.objects.filter(role="hub", active=True).values_list("node_id", flat=True).first()


def _date(value) -> str | None:
    return value.isoformat() if value else None


def composite_progress_body(composite: Composite) -> dict:
    """Where the 联办件 stands — no personal data (see the module docstring)."""
    members = composite.members.select_related("organization").order_by("sequence")
    return {
        "number": composite.number,
        "kind": composite.kind,
        "item": {"code": composite.item.basic_code, "name": composite.item_name},
        "coordinating_node": composite.receiving_node,
        "status": composite.status,
        "submitted_at": iso(composite.submitted_at),
        "concluded_at": iso(composite.concluded_at) if composite.concluded_at else None,
        "reported_at": iso(timezone.now()),
        "members": [
            {
                "key": m.key,
                "role": m.role,
                "name": m.name,
                "node": m.node,
                "organization": {"code": m.organization.code, "name": m.organization.name},
                "status": m.status,
                "started_at": iso(m.started_at) if m.started_at else None,
                "deadline": _date(m.deadline),
                "concluded_at": iso(m.concluded_at) if m.concluded_at else None,
            }
            for m in members
        ],
    }


def composite_progress_report(composite: Composite):
    """Coordinating node: send the hub the 联办件's current state (in the caller's
    transaction, or one of its own). Returns the outbox message, or None when the
    directory names no hub (a node not yet configured)."""
    from tongban.exchange.services import outbox_enqueue

    hub = hub_node_id()
    if hub is None:
        log.warning("no hub in the directory: progress of %s not reported", composite.number)
        return None
    with transaction.atomic():
        return outbox_enqueue(
            type=MESSAGE_TYPE,
            recipient=hub,
            correlation=composite.number,
            body=composite_progress_body(composite),
        )


# --- the hub ------------------------------------------------------------------------------


def _text(raw: dict, key: str, limit: int) -> str:
    value = raw.get(key, "")
    if not isinstance(value, str):
        raise HandlerRefusal(f"'{key}' must be a string")
    return value[:limit]


def _optional_time(raw: dict, key: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    try:
        return iso(parse_time(value))
    except (TypeError, ValueError) as exc:
        raise HandlerRefusal(f"bad {key}") from exc


def _member(raw: object) -> dict:
    if not isinstance(raw, dict):
        raise HandlerRefusal("a member must be an object")
    org = raw.get("organization") if isinstance(raw.get("organization"), dict) else {}
    status = raw.get("status")
    if status not in MemberStatus.values:
        raise HandlerRefusal(f"unknown member status {status}")
    deadline = raw.get("deadline")
    try:
        deadline = dt.date.fromisoformat(deadline).isoformat() if deadline else None
    except (TypeError, ValueError) as exc:
        raise HandlerRefusal("bad member deadline") from exc
    # only these fields are kept, whatever else the member carries
    return {
        "key": _text(raw, "key", 40),
        "role": _text(raw, "role", 40),
        "name": _text(raw, "name", 128),
        "node": _text(raw, "node", 16),
        "organization": {"code": _text(org, "code", 18), "name": _text(org, "name", 128)},
        "status": status,
        "started_at": _optional_time(raw, "started_at"),
        "deadline": deadline,
        "concluded_at": _optional_time(raw, "concluded_at"),
    }


def composite_trace_store(*, body: dict, sender: str, correlation: str, seq: int) -> CompositeTrace:
    """Hub: keep the latest report of one 联办件 (the inbox applies a correlation's
    reports in order, so the last applied is the newest)."""
    if not isinstance(body, dict) or body.get("number") != correlation:
        raise HandlerRefusal("the 联办件 number does not match the correlation")
    if body.get("coordinating_node") != sender:
        raise HandlerRefusal("only the coordinating node reports on its 联办件")
    if body.get("kind") not in dict(Composite.KIND_CHOICES):
        raise HandlerRefusal(f"unknown kind {body.get('kind')}")
    if body.get("status") not in CompositeStatus.values:
        raise HandlerRefusal(f"unknown status {body.get('status')}")
    item = body.get("item") if isinstance(body.get("item"), dict) else {}
    raw_members = body.get("members")
    if not isinstance(raw_members, list) or len(raw_members) > 50:
        raise HandlerRefusal("'members' must be a list of at most 50 members")
    members = [_member(m) for m in raw_members]
    try:
        submitted_at = parse_time(body.get("submitted_at"))
        reported_at = parse_time(body.get("reported_at"))
    except (TypeError, ValueError) as exc:
        raise HandlerRefusal("bad submitted_at or reported_at") from exc
    concluded = _optional_time(body, "concluded_at")
    running = [m["deadline"] for m in members if m["deadline"] and m["status"] not in MEMBER_ENDED]
    trace, _created = CompositeTrace.objects.update_or_create(
        number=correlation,
        defaults={
            "kind": body["kind"],
            "item_code": _text(item, "code", 31),
            "item_name": _text(item, "name", 128),
            "coordinating_node": sender,
            "status": body["status"],
            "submitted_at": submitted_at,
            "concluded_at": parse_time(concluded) if concluded else None,
            "members": members,
            "next_deadline": dt.date.fromisoformat(min(running)) if running else None,
            "reported_at": reported_at,
            "received_at": timezone.now(),
        },
    )
    return trace


def trace_overdue(trace: CompositeTrace, today: dt.date) -> bool:
    return bool(
        trace.status not in COMPOSITE_TERMINAL
        and trace.next_deadline is not None
        and trace.next_deadline < today
    )
