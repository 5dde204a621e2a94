"""The hub's trust anchor as this deployment publishes it, and its fingerprint.

The fingerprint of an SM2 public key is the SM3 digest (GB/T 32905) of the key's
65 bytes in uncompressed form, ``04 || x || y`` (x and y as 32-byte big-endian
integers) — the bytes whose hex is the ``public_key`` everywhere in Tongban —
written as 64 upper-case hexadecimal digits in 16 groups of 4, separated by
single spaces. It is what operators compare out of band before pinning a hub
key (docs/operations.md §6a).
"""

from __future__ import annotations

import json

from django.conf import settings
from django.utils.translation import gettext as _

from tongban.directory.models import CachedConfiguration, LocalSigningKey, TrustAnchor
from tongban.errors import NotFound
from tongban.gm import sm2
from tongban.gm.sm3 import sm3_hex

FINGERPRINT_DEFINITION = "SM3(04||x||y), 65 bytes, hex upper-case, groups of 4"


def key_fingerprint(public_key: str) -> str:
    """``"1A2B 3C4D … 9F0E"`` for an SM2 public key in hex (uncompressed point)."""
    try:
        raw = bytes.fromhex(public_key)
    except ValueError as exc:
        raise sm2.KeyFormatError("the public key is not hexadecimal") from exc
    if len(raw) != 65 or raw[0] != 0x04:
        raise sm2.KeyFormatError("not an uncompressed SM2 point (04 || x || y, 65 bytes)")
    sm2.load_public_key(raw.hex())  # on the curve
    digest = sm3_hex(raw).upper()
    return " ".join(digest[i : i + 4] for i in range(0, len(digest), 4))


def _entry(kid: str, public_key: str) -> dict:
    return {
        "kid": kid,
        "public_key": public_key.lower(),
        "fingerprint": key_fingerprint(public_key),
    }


def trust_anchor_published() -> dict:
    """The hub key this deployment vouches for: on the hub its active signing key
    (which signs the global configuration), on a node the hub key(s) it has pinned,
    the one that signed its current configuration first. NotFound if there is none."""
    if settings.TONGBAN_ROLE == "hub":
        key = LocalSigningKey.objects.filter(active=True).first()
        if key is None:
            raise NotFound(_("枢纽尚无签名密钥"))
        keys = [_entry(key.kid, key.public_key)]
        source = "hub_signing_key"
    else:
        anchors = list(TrustAnchor.objects.order_by("-installed_at", "-pk"))
        if not anchors:
            raise NotFound(_("本节点尚未安装枢纽信任锚"))
        current = CachedConfiguration.objects.order_by("-serial").only("document").first()
        signer = _signing_kid(current.document) if current else None
        anchors.sort(key=lambda a: a.kid != signer)  # stable: newest first otherwise
        keys = [_entry(a.kid, a.public_key) for a in anchors]
        source = "pinned"
    return {
        "node": settings.TONGBAN_NODE,
        "role": settings.TONGBAN_ROLE,
        "source": source,
        "algorithm": sm2.ALGORITHM,
        "fingerprint_definition": FINGERPRINT_DEFINITION,
        **keys[0],
        "keys": keys,
    }


def _signing_kid(document: str) -> str | None:
    try:
        return json.loads(document)["signature"]["kid"]
    except (ValueError, KeyError, TypeError):
        return None
