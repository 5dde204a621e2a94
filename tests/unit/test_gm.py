"""国密 primitives against published vectors and an independent implementation."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from gmssl import sm2 as gmssl_sm2

from tongban.gm import sm2
from tongban.gm.canonical import canonical_json
from tongban.gm.sm3 import hmac_sm3, sm3_hex
from tongban.gm.sm4 import DecryptionError, sm4_decrypt, sm4_encrypt

# GB/T 32918 (GM/T 0003) signature example on the recommended curve, default user id.
VECTOR_PRIVATE = 0x3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8
VECTOR_PUBLIC = (
    "04"
    "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
    "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
).lower()
VECTOR_MESSAGE = b"message digest"
VECTOR_R = 0xF5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3
VECTOR_S = 0xB1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA


def test_sm2_public_key_from_vector_private_key():
    assert sm2.SigningKey.from_private_value(VECTOR_PRIVATE).public_key_hex == VECTOR_PUBLIC


def test_sm2_verifies_the_standard_signature_and_nothing_else():
    signature = encode_dss_signature(VECTOR_R, VECTOR_S)
    assert sm2.verify(VECTOR_PUBLIC, VECTOR_MESSAGE, signature)
    assert not sm2.verify(VECTOR_PUBLIC, b"message digesT", signature)
    assert not sm2.verify(
        VECTOR_PUBLIC, VECTOR_MESSAGE, encode_dss_signature(VECTOR_R, VECTOR_S + 1)
    )


@pytest.mark.parametrize("garbage", [b"", b"\x30", b"not der at all", b"\x30\x02\x02\x00"])
def test_sm2_verify_rejects_garbage_without_raising(garbage):
    assert not sm2.verify(VECTOR_PUBLIC, VECTOR_MESSAGE, garbage)
    assert not sm2.verify("04zz", VECTOR_MESSAGE, garbage)


def _gmssl(key: sm2.SigningKey) -> gmssl_sm2.CryptSM2:
    private_hex = format(key._key.private_numbers().private_value, "064x")
    peer = gmssl_sm2.CryptSM2(private_key=private_hex, public_key="")
    # exactly the 04 prefix byte: gmssl's own public_key.lstrip("04") would also
    # eat an X coordinate that begins with byte 0x04 (1 key in 256)
    peer.public_key = key.public_key_hex[2:]
    return peer


def test_sm2_interoperates_with_gmssl_both_ways():
    key = sm2.SigningKey.generate()
    peer = _gmssl(key)
    message = canonical_json({"中文": "通办", "n": 1})
    # ours → gmssl (DER → raw r||s hex)
    r, s = decode_dss_signature(key.sign(message))
    assert peer.verify_with_sm3(f"{r:064x}{s:064x}", message)
    # gmssl → ours (raw → DER)
    raw = peer.sign_with_sm3(message, "1" * 64)
    ours = encode_dss_signature(int(raw[:64], 16), int(raw[64:], 16))
    assert sm2.verify(key.public_key_hex, message, ours)
    assert not sm2.verify(key.public_key_hex, message + b" ", ours)


def test_sm2_private_key_pem_round_trip():
    key = sm2.SigningKey.generate()
    again = sm2.SigningKey.from_pem(key.to_pem())
    assert again.public_key_hex == key.public_key_hex
    assert sm2.verify(key.public_key_hex, b"x", again.sign(b"x"))


def test_sm3_standard_vectors():
    # GB/T 32905-2016 appendix A
    assert sm3_hex(b"abc") == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert (
        sm3_hex(b"abcd" * 16) == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
    )
    assert len(hmac_sm3(b"k", b"m")) == 32 and hmac_sm3(b"k", b"m") != hmac_sm3(b"k2", b"m")


def test_sm4_standard_vector_and_gcm():
    # GB/T 32907-2016 example 1
    key = bytes.fromhex("0123456789abcdeffedcba9876543210")
    enc = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()  # noqa: S305 — the standard vector
    assert (enc.update(key) + enc.finalize()).hex() == "681edf34d206965e86b3e94f536e4246"
    token = sm4_encrypt(key, "k1", b"310101199001011234")
    assert token.startswith("sm4gcm:k1:") and "1234" not in token
    assert sm4_decrypt(key, token) == b"310101199001011234"
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(DecryptionError):
        sm4_decrypt(key, tampered)
    with pytest.raises(DecryptionError):
        sm4_decrypt(bytes(16), token)


def test_canonical_json_rfc8785_example():
    source = json.loads(
        '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
        ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
        ' "literals": [null, true, false]}'
    )
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canonical_json(source).decode() == expected


def test_canonical_json_sorts_by_utf16_code_units():
    # RFC 8785 §3.2.3: property names sorted by UTF-16 code units
    value = {"\u20ac": 1, "\r": 2, "\ufb33": 3, "1": 4, "\U0001f600": 5, "\u0080": 6, "ö": 7}
    keys = list(json.loads(canonical_json(value)).keys())
    assert keys == ["\r", "1", "\u0080", "ö", "\u20ac", "\U0001f600", "\ufb33"]
