"""Envelope and receipt formats (docs/exchange-protocol.md).

An envelope is ``{"signed": {...}, "signature": {...}, "blobs": {sm3: base64}}``.
The signature is SM2-SM3 over the RFC 8785 canonical bytes of ``signed``;
binary materials travel in ``blobs`` outside the signature, each bound to the
signed part by its SM3 digest listed in ``signed.blobs``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone
from uuid6 import uuid7

from tongban.directory.signing import peer_public_key, sign_detached
from tongban.gm import sm2
from tongban.gm.canonical import CanonicalizationError, canonical_json
from tongban.gm.sm3 import sm3_hex
from tongban.gm.strict_json import loads_strict

PROTOCOL_VERSION = 1
# A receipt is a few hundred bytes; anything much larger is not one.
MAX_RECEIPT_BYTES = 64 * 1024
RECEIPT_STATUSES = {"accepted", "queued", "refused", "rejected"}
CLOCK_SKEW = dt.timedelta(minutes=5)
MESSAGE_TYPES = {
    "case.submit",
    "case.event",
    "case.supplement",
    "case.delivery",
    "case.withdraw",
    "composite.progress",
    "data.query",
    "data.answer",
    "data.use",
    "data.flag",
    "data.flag_answer",
    "licence.issued",
    "licence.status",
    "licence.used",
    "licence.fetch",
    "licence.deliver",
    "notice.deliver",
}


class Rejection(Exception):
    """An envelope the receiver will not process; ``code`` is machine-readable."""

    STATUS = {
        "malformed": 400,
        "blob_mismatch": 400,
        "unknown_type": 400,
        "unknown_sender": 403,
        "unknown_key": 403,
        "bad_signature": 403,
        "wrong_recipient": 403,
        "expired": 422,
        "not_yet_valid": 422,
        "replayed": 409,
        "not_applicable": 409,
        "configuration_expired": 503,
    }

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = self.STATUS[code]


def iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(value: object) -> dt.datetime:
    if not isinstance(value, str):
        raise ValueError("time must be a string")
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("time must carry a zone")
    return parsed


def new_message_id() -> str:
    return str(uuid7())


def request_hash(signed: dict) -> str:
    return sm3_hex(canonical_json(signed))


@dataclass
class Blob:
    content: bytes
    media_type: str

    @property
    def sm3(self) -> str:
        return sm3_hex(self.content)


def envelope_build(
    *,
    type: str,
    recipient: str,
    correlation: str,
    seq: int,
    body: dict,
    subject: dict | None = None,
    purpose: dict | None = None,
    blobs: list[Blob] | None = None,
    message_id: str | None = None,
    sender: str | None = None,
    signer: Callable[[bytes], dict] | None = None,
    issued_at: dt.datetime | None = None,
) -> dict:
    """Build and sign an envelope (by default as this node with its active key)."""
    now = issued_at or timezone.now()
    blobs = blobs or []
    signed = {
        "v": PROTOCOL_VERSION,
        "id": message_id or new_message_id(),
        "type": type,
        "sender": sender or settings.TONGBAN_NODE,
        "recipient": recipient,
        "issued_at": iso(now),
        "expires_at": iso(now + dt.timedelta(seconds=settings.TONGBAN_ENVELOPE_TTL_SECONDS)),
        "correlation": correlation,
        "seq": seq,
        "subject": subject,
        "purpose": purpose,
        "body": body,
        "blobs": [
            {"sm3": b.sm3, "size": len(b.content), "media_type": b.media_type} for b in blobs
        ],
    }
    return {
        "signed": signed,
        "signature": (signer or sign_detached)(canonical_json(signed)),
        "blobs": {b.sm3: base64.b64encode(b.content).decode() for b in blobs},
    }


@dataclass
class VerifiedEnvelope:
    signed: dict
    request_sm3: str
    blobs: dict[str, bytes]

    @property
    def message_id(self) -> str:
        return self.signed["id"]


_REQUIRED = {
    "v": int,
    "id": str,
    "type": str,
    "sender": str,
    "recipient": str,
    "issued_at": str,
    "expires_at": str,
    "correlation": str,
    "seq": int,
    "body": dict,
    "blobs": list,
}


def envelope_verify(envelope: object, *, now: dt.datetime | None = None) -> VerifiedEnvelope:
    """Check form, sender, key, signature, recipient, times and blob digests."""
    now = now or timezone.now()
    if not isinstance(envelope, dict):
        raise Rejection("malformed", "envelope must be a JSON object")
    signed, signature = envelope.get("signed"), envelope.get("signature")
    if not isinstance(signed, dict) or not isinstance(signature, dict):
        raise Rejection("malformed", "envelope needs 'signed' and 'signature' objects")
    for field, kind in _REQUIRED.items():
        if not isinstance(signed.get(field), kind) or isinstance(signed.get(field), bool):
            raise Rejection("malformed", f"field '{field}' missing or of the wrong type")
    if signed["v"] != PROTOCOL_VERSION:
        raise Rejection("malformed", f"unsupported protocol version {signed['v']}")
    if signed["seq"] < 1 or len(signed["id"]) > 36 or len(signed["correlation"]) > 64:
        raise Rejection("malformed", "bad id, correlation or sequence number")
    if any("\x00" in signed[name] for name in ("id", "sender", "recipient", "correlation")):
        raise Rejection("malformed", "NUL character in id, sender, recipient or correlation")
    if signed["type"] not in MESSAGE_TYPES:
        raise Rejection("unknown_type", f"unknown message type {signed['type']}")
    try:
        issued_at, expires_at = parse_time(signed["issued_at"]), parse_time(signed["expires_at"])
        payload = canonical_json(signed)
    except (ValueError, CanonicalizationError) as exc:
        raise Rejection("malformed", str(exc)) from exc

    for optional in ("subject", "purpose"):
        if signed.get(optional) is not None and not isinstance(signed.get(optional), dict):
            raise Rejection("malformed", f"'{optional}' must be an object or null")
    if expires_at <= now:
        raise Rejection("expired", "envelope has expired")
    if issued_at > now + CLOCK_SKEW:
        raise Rejection("not_yet_valid", "envelope issued in the future")

    from tongban.directory.models import Node
    from tongban.directory.signing import configuration_valid_until

    valid_until = configuration_valid_until()
    if settings.TONGBAN_ROLE != "hub" and (valid_until is None or valid_until <= now):
        raise Rejection(
            "configuration_expired", "no current global configuration to verify against"
        )
    if not Node.objects.filter(node_id=signed["sender"], active=True, role="node").exists():
        raise Rejection("unknown_sender", f"sender {signed['sender']} is not in the directory")
    kid = signature.get("kid")
    public_key = (
        peer_public_key(signed["sender"], kid, at=issued_at)
        if isinstance(kid, str) and len(kid) <= 64 and "\x00" not in kid
        else None
    )
    if public_key is None:
        raise Rejection("unknown_key", f"key {kid!r} is not a valid key of {signed['sender']}")
    if signature.get("alg") != sm2.ALGORITHM or not isinstance(signature.get("value"), str):
        raise Rejection("bad_signature", "unsupported signature algorithm")
    if not sm2.verify_b64(public_key, payload, signature["value"]):
        raise Rejection("bad_signature", "signature does not verify")
    if signed["recipient"] != settings.TONGBAN_NODE:
        raise Rejection("wrong_recipient", f"envelope is for {signed['recipient']}")

    blobs = _decode_blobs(signed, envelope.get("blobs") or {})
    return VerifiedEnvelope(signed=signed, request_sm3=sm3_hex(payload), blobs=blobs)


def stored_envelope(text: str) -> VerifiedEnvelope:
    """An envelope verified on arrival and stored: decoded again without re-verifying."""
    envelope = json.loads(text)
    signed = envelope["signed"]
    return VerifiedEnvelope(
        signed=signed,
        request_sm3=request_hash(signed),
        blobs=_decode_blobs(signed, envelope.get("blobs") or {}),
    )


def _decode_blobs(signed: dict, raw_blobs: object) -> dict[str, bytes]:
    if not isinstance(raw_blobs, dict):
        raise Rejection("malformed", "'blobs' must be an object")
    blobs: dict[str, bytes] = {}
    for ref in signed["blobs"]:
        digest = ref.get("sm3") if isinstance(ref, dict) else None
        encoded = raw_blobs.get(digest) if isinstance(digest, str) else None
        if not isinstance(encoded, str):
            raise Rejection("blob_mismatch", f"blob {digest} is missing")
        try:
            content = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise Rejection("blob_mismatch", f"blob {digest} is not base64") from exc
        if sm3_hex(content) != digest or len(content) != ref.get("size"):
            raise Rejection("blob_mismatch", f"blob {digest} does not match its digest")
        blobs[digest] = content
    return blobs


def receipt_build(
    *,
    in_reply_to: str,
    request_sm3: str,
    recipient: str,
    status: str,
    received_at: dt.datetime,
    code: str = "",
    message: str = "",
) -> dict:
    signed = {
        "v": PROTOCOL_VERSION,
        "id": new_message_id(),
        "type": "receipt",
        "sender": settings.TONGBAN_NODE,
        "recipient": recipient,
        "in_reply_to": in_reply_to,
        "request_sm3": request_sm3,
        "status": status,
        "code": code,
        "message": message,
        "received_at": iso(received_at),
        "responded_at": iso(timezone.now()),
    }
    return {"signed": signed, "signature": sign_detached(canonical_json(signed))}


def receipt_parse(content: bytes) -> object:
    """A peer's answer as I-JSON; ``StrictJSONError`` (a ValueError) otherwise."""
    return loads_strict(content, max_bytes=MAX_RECEIPT_BYTES)


def receipt_verify(
    receipt: object, *, expected_sender: str, message_id: str, request_sm3: str
) -> dict:
    """Sender side: the receipt must be signed by the recipient and name our request.

    Raises ValueError for anything else, whatever its shape."""
    if not isinstance(receipt, dict) or not isinstance(receipt.get("signed"), dict):
        raise ValueError("receipt is not an object")
    signed, signature = receipt["signed"], receipt.get("signature")
    if not isinstance(signature, dict):
        raise ValueError("receipt has no signature object")
    if signed.get("sender") != expected_sender:
        raise ValueError("receipt from the wrong node")
    kid, value = signature.get("kid"), signature.get("value")
    if not isinstance(kid, str) or not isinstance(value, str) or "\x00" in kid:
        raise ValueError("receipt signature is malformed")
    public_key = peer_public_key(expected_sender, kid)
    if public_key is None or not sm2.verify_b64(public_key, canonical_json(signed), value):
        raise ValueError("receipt signature does not verify")
    if signed.get("in_reply_to") != message_id or signed.get("request_sm3") != request_sm3:
        raise ValueError("receipt does not answer this request")
    status, code = signed.get("status"), signed.get("code", "")
    if not isinstance(status, str) or status not in RECEIPT_STATUSES or not isinstance(code, str):
        raise ValueError("receipt has an unknown status")
    parse_time(signed.get("received_at"))
    parse_time(signed.get("responded_at"))
    return signed
