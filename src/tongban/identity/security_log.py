"""The security log: a SecurityEvent row, one JSON object per line on the
``tongban.security`` logger's own handler, and a WARNING line in the web log.

The JSON stream is what operators alert on (docs/operations.md §12)::

    {"ts": "2026-12-01T03:00:00.123Z", "node": "sh", "kind": "login_failed",
     "user": "lina", "ip": "203.0.113.7", "details": {}}

It is written with ``ensure_ascii`` (every non-ASCII or control character is a
``\\uXXXX`` escape), so a value is always data inside a string and one event is
always one line. Identifiers in ``user`` and ``details`` are masked. The row
keeps the same values with control characters escaped and lengths bounded (so
a NUL byte or a megabyte user name cannot break the insert on PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import logging

from django.conf import settings
from django.db import transaction

from tongban.gm.canonical import canonical_json
from tongban.gm.sm3 import sm3_hex
from tongban.identity.masking import mask_text
from tongban.log_safety import escape_controls

log = logging.getLogger("tongban.security")

USERNAME_MAX = 150  # SecurityEvent.username
KIND_MAX = 48  # SecurityEvent.kind
DETAIL_KEY_MAX = 64
DETAIL_VALUE_MAX = 1000
DETAILS_MAX = 20  # entries kept per event
LOG_VALUE_MAX = 1000  # characters of a user-supplied value in the JSON stream


def _client_ip(request) -> str | None:
    if request is None:
        return None
    value = request.META.get("REMOTE_ADDR") or ""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def stored_text(value, limit: int) -> str:
    """A value as the SecurityEvent row keeps it: control characters escaped, bounded."""
    return _cap(escape_controls(str(value)), limit)


def security_event_audit_entry(row) -> dict:
    """The audit log's leaf for a stored event: its id, kind and the SM3 of what is stored
    (the username and address stay out of the public log)."""
    stored = {
        "id": row.pk,
        "kind": row.kind,
        "user_id": row.user_id,
        "username": row.username,
        "ip": row.ip,
        "details": row.details,
        "at": row.at.isoformat(),
    }
    return {"id": row.pk, "kind": row.kind, "sm3": sm3_hex(canonical_json(stored))}


def security_event(kind: str, *, request=None, user=None, username: str = "", **details) -> None:
    from tongban.audit.services import audit_append  # models: not at logging setup
    from tongban.identity.models import SecurityEvent

    name = str(username or getattr(user, "username", "") or "")
    ip = _client_ip(request)
    masked = {
        str(k)[:DETAIL_KEY_MAX]: _cap(mask_text(str(v)), LOG_VALUE_MAX)
        for k, v in list(details.items())[:DETAILS_MAX]
    }
    with transaction.atomic():
        row = SecurityEvent.objects.create(
            kind=stored_text(kind, KIND_MAX),
            user=user if getattr(user, "pk", None) else None,
            username=stored_text(name, USERNAME_MAX),
            ip=ip,
            details={
                stored_text(k, DETAIL_KEY_MAX): stored_text(v, DETAIL_VALUE_MAX)
                for k, v in masked.items()
            },
        )
        audit_append(kind="security_event", entry=security_event_audit_entry(row))
    event = {
        "ts": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "node": settings.TONGBAN_NODE,
        "kind": kind,
        "user": mask_text(_cap(name, LOG_VALUE_MAX)),
        "ip": ip,
        "details": masked,
    }
    # the web log line quotes every value as a JSON string, so "user=" can hold
    # nothing that looks like the next field; the handler filter escapes the rest
    log.warning(
        "%s user=%s ip=%s details=%s",
        kind,
        json.dumps(event["user"], ensure_ascii=False),
        ip or "-",
        json.dumps(masked, ensure_ascii=False, sort_keys=True),
        extra={"security_event": event},
    )


class SecurityEventsOnly(logging.Filter):
    """Passes only records written by :func:`security_event`."""

    def filter(self, record: logging.LogRecord) -> bool:
        return isinstance(getattr(record, "security_event", None), dict)


class SecurityJsonFormatter(logging.Formatter):
    """One JSON object per line, ASCII only: ``{"ts", "node", "kind", "user", "ip", "details"}``."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(record.security_event, ensure_ascii=True, separators=(",", ":"))
