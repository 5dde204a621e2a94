"""Identity writes: accounts, staff assignments, API tokens."""

from __future__ import annotations

import datetime as dt
import secrets

from django.db import transaction
from django.utils import timezone

from tongban.gm.sm3 import sm3_hex
from tongban.identity.models import ApiToken, StaffAssignment, User


@transaction.atomic
def staff_create(
    *, username: str, password: str, display_name: str, assignments: list[dict]
) -> User:
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


# (model label, encrypted field, blind-index field or None)
PII_FIELDS = [
    ("identity.Person", "id_number_encrypted", "id_number_index"),
    ("identity.Person", "phone_encrypted", None),
    ("cases.Case", "applicant_id_encrypted", "applicant_id_index"),
    ("cases.Case", "applicant_phone_encrypted", None),
]


def pii_reencrypt_all(*, batch_size: int = 500) -> dict[str, int]:
    """Re-encrypt every personal identifier with the current SM4 key and recompute
    blind indexes with the current index key. Old SM4 keys must still be in
    TONGBAN_PII_KEYS while this runs; afterwards they can be removed."""
    from django.apps import apps

    from tongban.gm.sm4 import sm4_key_id
    from tongban.identity.pii import (
        blind_index,
        current_key_id,
        decrypt_identifier,
        encrypt_identifier,
    )

    current = current_key_id()
    counts: dict[str, int] = {}
    for label, field, index_field in PII_FIELDS:
        model = apps.get_model(label)
        changed = 0
        last_pk = 0
        while True:
            with transaction.atomic():
                rows = list(
                    model.objects.select_for_update()
                    .filter(pk__gt=last_pk)
                    .exclude(**{field: ""})
                    .order_by("pk")[:batch_size]
                )
                if not rows:
                    break
                for row in rows:
                    token = getattr(row, field)
                    plaintext = decrypt_identifier(token)
                    updates = []
                    if sm4_key_id(token) != current:
                        setattr(row, field, encrypt_identifier(plaintext))
                        updates.append(field)
                    if index_field and getattr(row, index_field) != blind_index(plaintext):
                        setattr(row, index_field, blind_index(plaintext))
                        updates.append(index_field)
                    if updates:
                        row.save(update_fields=updates)
                        changed += 1
                last_pk = rows[-1].pk
        counts[f"{label}.{field}"] = changed
    return counts
