"""SM3 (GB/T 32905-2016) digests and HMAC-SM3."""

import hmac as std_hmac

from cryptography.hazmat.primitives import hashes, hmac


def sm3_digest(data: bytes) -> bytes:
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


def sm3_hex(data: bytes) -> str:
    return sm3_digest(data).hex()


class SM3Stream:
    """Incremental SM3 over chunks (for uploaded files)."""

    def __init__(self) -> None:
        self._h = hashes.Hash(hashes.SM3())

    def update(self, chunk: bytes) -> None:
        self._h.update(chunk)

    def hexdigest(self) -> str:
        return self._h.finalize().hex()


def hmac_sm3(key: bytes, data: bytes) -> bytes:
    h = hmac.HMAC(key, hashes.SM3())
    h.update(data)
    return h.finalize()


def digests_equal(a: str, b: str) -> bool:
    return std_hmac.compare_digest(a.lower(), b.lower())
