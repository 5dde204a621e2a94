"""Hash-chained message log: entry_hash = SM3(prev_hash || canonical(entry))."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from tongban.audit.services import audit_append, audit_lock
from tongban.exchange.models import MessageLogEntry, MessageLogHead
from tongban.gm.canonical import canonical_json
from tongban.gm.sm3 import sm3_hex

GENESIS = "0" * 64


def _entry_hash(prev_hash: str, fields: dict) -> str:
    return sm3_hex(prev_hash.encode() + canonical_json(fields))


def _fields(entry: MessageLogEntry) -> dict:
    return {
        "position": entry.position,
        "direction": entry.direction,
        "kind": entry.kind,
        "message_id": entry.message_id,
        "peer": entry.peer,
        "type": entry.type,
        "code": entry.code,
        "content_sm3": entry.content_sm3,
        "at": entry.at.isoformat(),
    }


def message_log_append(
    *,
    direction: str,
    kind: str,
    message_id: str,
    peer: str,
    type: str,
    content: bytes,
    code: str = "",
) -> MessageLogEntry:
    with transaction.atomic():
        audit_lock()  # the audit head before the message log's (one lock order)
        head, _ = MessageLogHead.objects.select_for_update().get_or_create(pk=1)
        entry = MessageLogEntry(
            position=head.position + 1,
            direction=direction,
            kind=kind,
            message_id=message_id,
            peer=peer,
            type=type,
            code=code,
            content_sm3=sm3_hex(content),
            prev_hash=head.entry_hash,
            at=timezone.now(),
        )
        entry.entry_hash = _entry_hash(head.entry_hash, _fields(entry))
        entry.save()
        head.position, head.entry_hash = entry.position, entry.entry_hash
        head.save()
        # the chain hash covers the entry's fields (ids, peer, type, the content's SM3)
        audit_append(
            kind="message_log",
            entry={"position": entry.position, "entry_hash": entry.entry_hash},
        )
    return entry


def message_log_verify() -> tuple[bool, int, str]:
    """Walk the chain; returns (ok, entries checked, problem)."""
    prev = GENESIS
    count = 0
    for entry in MessageLogEntry.objects.order_by("position").iterator(chunk_size=2000):
        count += 1
        if entry.position != count:
            return False, count, f"gap before position {entry.position}"
        if entry.prev_hash != prev:
            return False, count, f"broken link at position {entry.position}"
        if _entry_hash(prev, _fields(entry)) != entry.entry_hash:
            return False, count, f"entry {entry.position} was altered"
        prev = entry.entry_hash
    head = MessageLogHead.objects.filter(pk=1).first()
    if head is not None and (head.position != count or head.entry_hash != prev):
        return False, count, "head does not match the last entry (truncated?)"
    return True, count, ""
