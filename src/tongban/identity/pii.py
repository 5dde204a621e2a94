"""Personal identifiers at rest: SM4-GCM ciphertext plus a keyed SM3 blind index.

Keys come from settings (``TONGBAN_PII_KEYS`` = ``"kid:hex,kid:hex"``, the
first one encrypts; all of them decrypt, so keys rotate without data loss —
see ``tongban pii-rotate``) and ``TONGBAN_BLIND_INDEX_KEY``.
"""

from functools import cache

from django.conf import settings

from tongban.gm.sm3 import hmac_sm3
from tongban.gm.sm4 import DecryptionError, sm4_decrypt, sm4_encrypt, sm4_key_id


@cache
def _key_ring() -> tuple[str, dict[str, bytes]]:
    ring: dict[str, bytes] = {}
    current = ""
    for part in settings.TONGBAN_PII_KEYS.split(","):
        kid, _, hexkey = part.strip().partition(":")
        key = bytes.fromhex(hexkey)
        if len(key) != 16:
            raise ValueError(f"PII key {kid} must be 16 bytes (32 hex chars)")
        ring[kid] = key
        current = current or kid
    return current, ring


def reset_key_cache() -> None:
    _key_ring.cache_clear()
    _index_key.cache_clear()


def current_key_id() -> str:
    return _key_ring()[0]


def encrypt_identifier(value: str) -> str:
    if not value:
        return ""
    kid, ring = _key_ring()
    return sm4_encrypt(ring[kid], kid, value.encode())


def encrypt_at_rest(text: str) -> str:
    """SM4-GCM for any stored text that carries personal data (e.g. whole envelopes)."""
    return encrypt_identifier(text)


def decrypt_at_rest(token: str) -> str:
    return decrypt_identifier(token)


def decrypt_identifier(token: str) -> str:
    if not token:
        return ""
    _, ring = _key_ring()
    kid = sm4_key_id(token)
    if kid not in ring:
        raise DecryptionError(f"unknown PII key {kid}")
    return sm4_decrypt(ring[kid], token).decode()


@cache
def _index_key() -> bytes:
    return bytes.fromhex(settings.TONGBAN_BLIND_INDEX_KEY)


def blind_index(value: str) -> str:
    """Deterministic keyed SM3 of a normalized identifier, for exact lookups."""
    if not value:
        return ""
    return hmac_sm3(_index_key(), value.strip().upper().encode()).hex()
