"""Identity writes: accounts, staff assignments, API tokens."""

from __future__ import annotations

import datetime as dt
import secrets

from django.db import transaction
from django.utils import timezone

from tongban.gm.sm3 import sm3_hex
from tongban.identity.models import ApiToken, StaffAssignment, User


@transaction.atomic
def staff_create(*, username: str, password: str, display_name: str,
                 assignments: list[dict]) -> User:
    """assignments: [{"role": "clerk", "window": Window} | {"role": "official", "organization": Org}]"""
    user, created = User.objects.get_or_create(
        username=username, defaults={"kind": "staff", "display_name": display_name}
    )
    if created:
        user.set_password(password)
        user.save()
    for a in assignments:
        StaffAssignment.objects.get_or_create(
            user=user, role=a["role"], organization=a.get("organization"), window=a.get("window")
        )
    return user


@transaction.atomic
def api_token_create(*, user: User, name: str, valid_days: int | None = 90) -> tuple[ApiToken, str]:
    """Returns the token row and the secret (shown once; only its SM3 is stored)."""
    secret = "tb_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name[:64],
        prefix=secret[:8],
        key_digest=sm3_hex(secret.encode()),
        expires_at=timezone.now() + dt.timedelta(days=valid_days) if valid_days else None,
    )
    return token, secret


@transaction.atomic
def api_token_revoke(*, user: User, token_id: int) -> bool:
    return bool(
        ApiToken.objects.filter(user=user, pk=token_id, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
    )


def api_token_authenticate(secret: str) -> User | None:
    if not secret or not secret.startswith("tb_"):
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_digest=sm3_hex(secret.encode()), revoked_at__isnull=True)
        .first()
    )
    now = timezone.now()
    if token is None or not token.user.is_active or (token.expires_at and token.expires_at <= now):
        return None
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=5):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
