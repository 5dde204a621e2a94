"""SM4-GCM (GB/T 32907-2016) authenticated encryption.

Ciphertext format (text, storable in a CharField):
``sm4gcm:<key id>:<base64(nonce 12 || ciphertext || tag 16)>``.
"""

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

PREFIX = "sm4gcm"


class DecryptionError(ValueError):
    pass


def sm4_encrypt(key: bytes, key_id: str, plaintext: bytes, associated_data: bytes = b"") -> str:
    if len(key) != 16:
        raise ValueError("SM4 keys are 16 bytes")
    nonce = os.urandom(12)
    enc = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    if associated_data:
        enc.authenticate_additional_data(associated_data)
    body = enc.update(plaintext) + enc.finalize()
    blob = base64.b64encode(nonce + body + enc.tag).decode()
    return f"{PREFIX}:{key_id}:{blob}"


def sm4_key_id(token: str) -> str:
    parts = token.split(":", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        raise DecryptionError("not an SM4-GCM token")
    return parts[1]


def sm4_decrypt(key: bytes, token: str, associated_data: bytes = b"") -> bytes:
    parts = token.split(":", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        raise DecryptionError("not an SM4-GCM token")
    try:
        raw = base64.b64decode(parts[2], validate=True)
    except ValueError as exc:
        raise DecryptionError("bad base64") from exc
    if len(raw) < 12 + 16:
        raise DecryptionError("too short")
    nonce, body, tag = raw[:12], raw[12:-16], raw[-16:]
    dec = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
    if associated_data:
        dec.authenticate_additional_data(associated_data)
    try:
        return dec.update(body) + dec.finalize()
    except InvalidTag as exc:
        raise DecryptionError("authentication failed") from exc
