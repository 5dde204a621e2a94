"""Wire formats of e-licences (docs/licences.md): identifier, the issuer-signed
licence with salted field digests, disclosures, presentations, status lists and
the QR text that carries a presentation.

Everything here is pure: no database, no settings. The verifier in
``verification.py`` and other provinces' software need only these rules.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import zlib
from dataclasses import dataclass

import base45
from stdnum.iso7064 import mod_37_36

from tongban.gm.canonical import CanonicalizationError, canonical_json
from tongban.gm.sm3 import sm3_digest
from tongban.gm.strict_json import StrictJSONError, loads_strict

LICENCE_FORMAT = "tongban-licence/1"
PRESENTATION_FORMAT = "tongban-presentation/1"
STATUS_LIST_FORMAT = "tongban-status-list/1"
CONSENT_FORMAT = "tongban-consent/1"
IDENTIFIER_ROOT = "1.2.156.3005.2"
QR_PREFIX = "TB1:"
SD_ALG = "sm3"
STATUS_BITS = 2

# Token Status List values (draft-ietf-oauth-status-list §7): 0 valid, 1 invalid,
# 2 suspended; 3 is application specific and means "superseded by a renewal".
STATUS_VALUES = {"valid": 0, "revoked": 1, "suspended": 2, "superseded": 3}
STATUS_NAMES = {v: k for k, v in STATUS_VALUES.items()}

# holder identifier kinds (GB/T 36903 holder type): 111 = 公民身份号码; 001 is
# used here for 统一社会信用代码
HOLDER_ID_TYPES = {"person": "111", "enterprise": "001"}


class FormatError(ValueError):
    """Input that does not follow the formats (tampered, truncated, wrong shape)."""


MAX_DISCLOSURE = 4096


def json_strict(data: bytes, *, what: str, max_bytes: int) -> object:
    """``data`` as I-JSON (RFC 7493), else FormatError naming the reason.

    Every licence, presentation, disclosure and status list read from outside
    goes through here: a document two parsers would read differently
    (duplicate member names, lone surrogates, integers beyond 2^53 - 1) is
    refused, never verified (docs/licences.md §7).
    """
    try:
        return loads_strict(data, max_bytes=max_bytes)
    except StrictJSONError as exc:
        raise FormatError(f"{what} is not I-JSON ({exc.reason})") from exc


# --- base64url ----------------------------------------------------------------


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_decode(text: str) -> bytes:
    if not isinstance(text, str):
        raise FormatError("expected base64url text")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise FormatError("bad base64url") from exc


# --- identifier (GB/T 36904) --------------------------------------------------


def identifier_build(*, type_code: str, issuer_code: str, serial: str, version: int) -> str:
    body = f"{type_code}{issuer_code}{serial}{version:03d}"
    check = mod_37_36.calc_check_digit(body)
    return f"{IDENTIFIER_ROOT}.{type_code}.{issuer_code}.{serial}.{version:03d}.{check}"


@dataclass(frozen=True)
class Identifier:
    type_code: str
    issuer_code: str
    serial: str
    version: int


def identifier_parse(identifier: object) -> Identifier:
    """Split and check an identifier; raises FormatError on any defect."""
    if not isinstance(identifier, str) or not identifier.startswith(IDENTIFIER_ROOT + "."):
        raise FormatError("not an e-licence identifier")
    parts = identifier[len(IDENTIFIER_ROOT) + 1 :].split(".")
    if len(parts) != 5:
        raise FormatError("identifier must have five segments after the root")
    type_code, issuer_code, serial, version, check = parts
    if len(type_code) != 21 or len(issuer_code) != 18 or not serial or len(version) != 3:
        raise FormatError("identifier segments have the wrong length")
    if not version.isdigit() or len(check) != 1:
        raise FormatError("identifier version or check character malformed")
    body = f"{type_code}{issuer_code}{serial}{version}"
    try:
        valid = mod_37_36.is_valid(body + check)
    except Exception:  # stdnum raises its own ValidationError subclasses
        valid = False
    if not valid:
        raise FormatError("identifier check character (ISO 7064 MOD 37,36) does not match")
    return Identifier(type_code, issuer_code, serial, int(version))


# --- selective disclosure (SD-JWT, RFC 9901, with SM3 and RFC 8785 JSON) -------


def disclosure_make(key: str, value: object, *, salt: str | None = None) -> str:
    salt = salt or b64u(secrets.token_bytes(16))
    return b64u(canonical_json([salt, key, value]))


def disclosure_digest(disclosure: str) -> str:
    return b64u(sm3_digest(disclosure.encode("ascii")))


def disclosure_open(disclosure: object) -> tuple[str, str, object]:
    """(salt, key, value) of a disclosure; FormatError if it is not one."""
    if not isinstance(disclosure, str) or len(disclosure) > MAX_DISCLOSURE:
        raise FormatError("disclosure must be a base64url string")
    decoded = json_strict(b64u_decode(disclosure), what="disclosure", max_bytes=MAX_DISCLOSURE)
    if (
        not isinstance(decoded, list)
        or len(decoded) != 3
        or not isinstance(decoded[0], str)
        or not isinstance(decoded[1], str)
    ):
        raise FormatError("disclosure must be [salt, key, value]")
    return decoded[0], decoded[1], decoded[2]


def presentation_sd_hash(licence: dict, disclosures: list[str]) -> str:
    """Binds the holder node's signature to exactly this licence and these disclosures."""
    return b64u(sm3_digest(canonical_json(licence) + b"~" + "~".join(disclosures).encode()))


# --- the QR text --------------------------------------------------------------


def qr_encode(document: dict) -> str:
    """``TB1:`` + Base45(zlib(RFC 8785 JSON)) — QR alphanumeric mode, as EU DCC does."""
    return QR_PREFIX + base45.b45encode(zlib.compress(canonical_json(document), 9)).decode()


MAX_QR_TEXT = 8000
MAX_INFLATED = 64 * 1024


def qr_decode(text: object) -> dict:
    if not isinstance(text, str):
        raise FormatError("QR content must be text")
    text = text.strip()
    if not text.startswith(QR_PREFIX):
        raise FormatError("not a Tongban licence QR code")
    if len(text) > MAX_QR_TEXT:
        raise FormatError("QR content too long")
    try:
        packed = base45.b45decode(text[len(QR_PREFIX) :])
        inflater = zlib.decompressobj()
        raw = inflater.decompress(packed, MAX_INFLATED)
    except (ValueError, zlib.error) as exc:
        raise FormatError("QR content is damaged") from exc
    if inflater.unconsumed_tail:
        raise FormatError("QR content inflates too far")
    if not inflater.eof or inflater.unused_data:
        raise FormatError("QR content is damaged")
    document = json_strict(raw, what="QR content", max_bytes=MAX_INFLATED)
    if not isinstance(document, dict):
        raise FormatError("QR content is not an object")
    return document


# --- status lists (IETF Token Status List, 2 bits per licence) ----------------


def status_list_pack(values: dict[int, int], size: int) -> str:
    """Compress a status array: index i lives in byte i*bits//8, least significant bits first."""
    per_byte = 8 // STATUS_BITS
    data = bytearray((size + per_byte - 1) // per_byte)
    for index, value in values.items():
        data[index // per_byte] |= (value & 0b11) << ((index % per_byte) * STATUS_BITS)
    return b64u(zlib.compress(bytes(data), 9))


# 2 bits a licence: 32 MiB hold the statuses of 134 million licences of one node.
MAX_STATUS_LIST_BYTES = 32 * 1024 * 1024
# a signed status list document as fetched from a peer (compressed ``lst`` inside)
MAX_STATUS_LIST_DOCUMENT = 8 * 1024 * 1024


def status_list_unpack(lst: object) -> bytes:
    """The inflated status bytes; FormatError if damaged or beyond MAX_STATUS_LIST_BYTES."""
    try:
        inflater = zlib.decompressobj()
        data = inflater.decompress(b64u_decode(lst), MAX_STATUS_LIST_BYTES)
    except zlib.error as exc:
        raise FormatError("status list is damaged") from exc
    if inflater.unconsumed_tail:
        raise FormatError("status list inflates too far")
    if not inflater.eof or inflater.unused_data:
        raise FormatError("status list is damaged")
    return data


def status_list_value(data: bytes, index: int) -> int | None:
    per_byte = 8 // STATUS_BITS
    if index < 0 or index // per_byte >= len(data):
        return None
    return (data[index // per_byte] >> ((index % per_byte) * STATUS_BITS)) & 0b11


def signed_part(document: dict, *keys: str) -> dict:
    """The signed object under ``document[key]``; FormatError if absent or unsignable."""
    value = document
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    if not isinstance(value, dict):
        raise FormatError(f"missing {'.'.join(keys)}")
    try:
        canonical_json(value)
    except CanonicalizationError as exc:
        raise FormatError(str(exc)) from exc
    return value
