"""This deployment's signing key and the peers' public keys."""

from __future__ import annotations

import datetime as dt
import os
from functools import lru_cache

from django.conf import settings
from django.utils import timezone

from tongban.directory.models import CachedConfiguration, LocalSigningKey, NodeKey
from tongban.gm import sm2


class NoSigningKey(RuntimeError):
    pass


def key_path(kid: str):
    return settings.TONGBAN_KEY_DIR / f"{kid}.pem"


def signing_key_create(*, node_id: str) -> LocalSigningKey:
    """Generate a new SM2 key pair; the private key goes to a 0600 file."""
    key = sm2.SigningKey.generate()
    kid = f"{node_id}-{timezone.now():%Y%m%d%H%M%S}-{key.public_key_hex[2:10]}"
    path = key_path(kid)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.to_pem())
    LocalSigningKey.objects.filter(active=True).update(active=False)
    _load_private.cache_clear()
    return LocalSigningKey.objects.create(kid=kid, public_key=key.public_key_hex, active=True)


@lru_cache(maxsize=8)
def _load_private(kid: str) -> sm2.SigningKey:
    return sm2.SigningKey.from_pem(key_path(kid).read_bytes())


def active_signing_key() -> tuple[str, sm2.SigningKey]:
    row = LocalSigningKey.objects.filter(active=True).order_by("-created_at").first()
    if row is None:
        raise NoSigningKey("this deployment has no signing key: run 'tongban keys create'")
    return row.kid, _load_private(row.kid)


def sign_detached(data: bytes) -> dict:
    kid, key = active_signing_key()
    return {"alg": sm2.ALGORITHM, "kid": kid, "value": key.sign_b64(data)}


def peer_public_key(node_id: str, kid: str, *, at: dt.datetime | None = None) -> str | None:
    """The public key ``kid`` of ``node_id`` if the directory lists it as valid at ``at``."""
    at = at or timezone.now()
    row = (
        NodeKey.objects.filter(kid=kid, node__node_id=node_id, node__active=True, revoked=False)
        .only("public_key", "not_before", "not_after")
        .first()
    )
    if row is None or row.not_before > at or (row.not_after and row.not_after < at):
        return None
    return row.public_key


def configuration_valid_until() -> dt.datetime | None:
    """Expiry of the cached global configuration (node side); None if there is none."""
    if settings.TONGBAN_ROLE == "hub":
        return None
    row = CachedConfiguration.objects.order_by("-serial").only("expires_at").first()
    return row.expires_at if row else None
