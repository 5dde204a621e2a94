"""The security log (SecurityEvent rows + the tongban.security logger), identifiers masked."""

from __future__ import annotations

import logging

from tongban.identity.masking import mask_text

log = logging.getLogger("tongban.security")


def _client_ip(request) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def security_event(kind: str, *, request=None, user=None, username: str = "", **details) -> None:
    from tongban.identity.models import SecurityEvent

    safe = {k: mask_text(str(v)) for k, v in details.items()}
    SecurityEvent.objects.create(
        kind=kind,
        user=user if getattr(user, "pk", None) else None,
        username=username or getattr(user, "username", "") or "",
        ip=_client_ip(request),
        details=safe,
    )
    log.warning("%s user=%s %s", kind, username or getattr(user, "username", ""), safe)
