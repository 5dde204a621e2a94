"""SM2 signatures (GB/T 32918.2-2016) with SM3 and the default user id.

tongsuopy's ``ECDSA(SM3)`` on the SM2 curve computes the Z value with the
default identity ``1234567812345678`` and returns DER ``SEQUENCE{r, s}``.
Public keys travel as the uncompressed point in hex (``04 || x || y``).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from tongsuopy.crypto import hashes, serialization
from tongsuopy.crypto.asymciphers import ec
from tongsuopy.crypto.exceptions import InternalError, InvalidSignature

ALGORITHM = "SM2-SM3"
DEFAULT_USER_ID = b"1234567812345678"


class KeyFormatError(ValueError):
    pass


@dataclass(frozen=True)
class SigningKey:
    _key: ec.EllipticCurvePrivateKey

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(ec.generate_private_key(ec.SM2()))

    @classmethod
    def from_private_value(cls, value: int) -> SigningKey:
        return cls(ec.derive_private_key(value, ec.SM2()))

    @classmethod
    def from_pem(cls, pem: bytes) -> SigningKey:
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "SM2":
            raise KeyFormatError("not an SM2 private key")
        return cls(key)

    def to_pem(self) -> bytes:
        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def public_key_hex(self) -> str:
        return public_key_hex(self._key.public_key())

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data, ec.ECDSA(hashes.SM3()))

    def sign_b64(self, data: bytes) -> str:
        return base64.b64encode(self.sign(data)).decode()


def public_key_hex(key: ec.EllipticCurvePublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    ).hex()


_public_cache: dict[str, ec.EllipticCurvePublicKey] = {}


def load_public_key(point_hex: str) -> ec.EllipticCurvePublicKey:
    key = _public_cache.get(point_hex)
    if key is None:
        try:
            raw = bytes.fromhex(point_hex)
            key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SM2(), raw)
        except (ValueError, TypeError) as exc:
            raise KeyFormatError("not an SM2 public key point") from exc
        if len(_public_cache) > 1024:
            _public_cache.clear()
        _public_cache[point_hex] = key
    return key


def verify(point_hex: str, data: bytes, signature: bytes) -> bool:
    """True when ``signature`` (DER) is a valid SM2 signature of ``data``."""
    try:
        decode_dss_signature(signature)  # reject non-DER before it reaches the C library
        key = load_public_key(point_hex)
        key.verify(signature, data, ec.ECDSA(hashes.SM3()))
    except (InvalidSignature, InternalError, KeyFormatError, ValueError, TypeError):
        return False
    return True


def verify_b64(point_hex: str, data: bytes, signature_b64: str) -> bool:
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except ValueError:
        return False
    return verify(point_hex, data, signature)
