"""Exchange writes: the outbox (sender) and the idempotent, ordered inbox (receiver)."""

from __future__ import annotations

import datetime as dt
import json
import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from tongban.exchange.envelopes import (
    Blob,
    Rejection,
    VerifiedEnvelope,
    envelope_build,
    envelope_verify,
    receipt_build,
    request_hash,
    stored_envelope,
)
from tongban.exchange.handlers import HandlerRefusal, handler_for
from tongban.exchange.message_log import message_log_append
from tongban.exchange.models import (
    CorrelationCursor,
    InboxMessage,
    OutboxMessage,
    SequenceCounter,
)
from tongban.gm.canonical import canonical_json
from tongban.gm.strict_json import StrictJSONError, loads_strict
from tongban.identity.pii import decrypt_at_rest, encrypt_at_rest
from tongban.identity.security_log import security_event

log = logging.getLogger(__name__)
SECURITY_REFUSALS = {"forged_assertion", "consent_invalid"}


def outbox_enqueue(
    *,
    type: str,
    recipient: str,
    correlation: str,
    body: dict,
    subject: dict | None = None,
    purpose: dict | None = None,
    blobs: list[Blob] | None = None,
) -> OutboxMessage:
    """Sign an envelope and store it for delivery.

    Must run inside the caller's transaction: the state change and the
    envelope that announces it commit together or not at all.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("outbox_enqueue must run inside the state change's transaction")
    counter, _ = SequenceCounter.objects.select_for_update().get_or_create(
        recipient=recipient, correlation=correlation
    )
    counter.last_seq += 1
    counter.save(update_fields=["last_seq"])
    envelope = envelope_build(
        type=type,
        recipient=recipient,
        correlation=correlation,
        seq=counter.last_seq,
        body=body,
        subject=subject,
        purpose=purpose,
        blobs=blobs,
    )
    signed = envelope["signed"]
    message = OutboxMessage.objects.create(
        message_id=signed["id"],
        type=type,
        recipient=recipient,
        correlation=correlation,
        seq=counter.last_seq,
        envelope=encrypt_at_rest(json.dumps(envelope, ensure_ascii=False)),
        request_sm3=request_hash(signed),
        next_attempt_at=timezone.now(),
    )
    message_log_append(
        direction="out",
        kind="envelope",
        message_id=message.message_id,
        peer=recipient,
        type=type,
        content=canonical_json(signed),
    )
    return message


# --- receiving ----------------------------------------------------------------


class InboxResult:
    def __init__(self, http_status: int, body: dict):
        self.http_status = http_status
        self.body = body


def _reject(envelope: object, rejection: Rejection, received_at: dt.datetime) -> InboxResult:
    signed = envelope.get("signed") if isinstance(envelope, dict) else None
    signed = signed if isinstance(signed, dict) else {}
    message_id = str(signed.get("id", "")).replace("\x00", "")[:36]
    sender = str(signed.get("sender", "")).replace("\x00", "")[:16]
    try:
        req_sm3 = request_hash(signed) if signed else ""
    except ValueError:
        req_sm3 = ""
    message_log_append(
        direction="in",
        kind="rejection",
        message_id=message_id,
        peer=sender,
        type=str(signed.get("type", "")).replace("\x00", "")[:32],
        code=rejection.code,
        content=json.dumps(envelope, ensure_ascii=False, default=str).encode()[:1_000_000],
    )
    log.warning(
        "rejected envelope %s from %s: %s (%s)",
        message_id,
        sender,
        rejection.code,
        rejection.message,
    )
    receipt = receipt_build(
        in_reply_to=message_id,
        request_sm3=req_sm3,
        recipient=sender,
        status="rejected",
        received_at=received_at,
        code=rejection.code,
        message=rejection.message,
    )
    return InboxResult(rejection.http_status, receipt)


def _apply(message: InboxMessage, verified: VerifiedEnvelope) -> None:
    """Run the handler in a savepoint; a refusal rolls back its effects only."""
    handler = handler_for(message.type)
    try:
        with transaction.atomic():
            if handler is None:
                raise HandlerRefusal(f"no handler for {message.type}")
            handler(verified)
    except HandlerRefusal as refusal:
        message.status = "refused"
        message.refusal_code = refusal.code
        message.refusal_message = refusal.message[:300]
        log.warning("refused %s %s: %s", message.type, message.message_id, refusal.message)
        if refusal.code in SECURITY_REFUSALS:
            security_event(
                refusal.code,
                username=f"node:{message.sender}",
                message=message.message_id,
                reason=refusal.message,
            )
    else:
        message.status = "applied"
        message.applied_at = timezone.now()


def inbox_receive_body(body: bytes, *, max_bytes: int) -> InboxResult:
    """The inbox's HTTP body: one I-JSON text (RFC 7493), else rejected ``malformed``.

    Two parsers that read one signed text differently (duplicate member names,
    lone surrogates, integers beyond 2^53 - 1) would let a signature cover a
    meaning the sender's software never saw, so such bodies are not envelopes.
    """
    try:
        envelope = loads_strict(body, max_bytes=max_bytes)
    except StrictJSONError as exc:
        rejection = Rejection("malformed", f"body is not I-JSON ({exc.reason})")
        return _reject(None, rejection, timezone.now())
    return inbox_receive(envelope=envelope)


def inbox_receive(*, envelope: object) -> InboxResult:
    """Verify, deduplicate, order and apply one envelope; answer with a signed receipt."""
    received_at = timezone.now()
    try:
        verified = envelope_verify(envelope, now=received_at)
    except Rejection as rejection:
        return _reject(envelope, rejection, received_at)
    signed = verified.signed

    try:
        with transaction.atomic():
            existing = InboxMessage.objects.filter(message_id=verified.message_id).first()
            if existing is not None:
                if existing.request_sm3 != verified.request_sm3:
                    raise Rejection("replayed", "message id reused for different content")
                return _duplicate(existing)

            cursor, _ = CorrelationCursor.objects.select_for_update().get_or_create(
                sender=signed["sender"], correlation=signed["correlation"]
            )
            if (
                signed["seq"] <= cursor.last_applied_seq
                or InboxMessage.objects.filter(
                    sender=signed["sender"], correlation=signed["correlation"], seq=signed["seq"]
                ).exists()
            ):
                raise Rejection("replayed", f"sequence {signed['seq']} was already received")

            message = InboxMessage(
                message_id=verified.message_id,
                type=signed["type"],
                sender=signed["sender"],
                correlation=signed["correlation"],
                seq=signed["seq"],
                envelope=encrypt_at_rest(json.dumps(envelope, ensure_ascii=False)),
                request_sm3=verified.request_sm3,
                status="pending",
                request_in_at=received_at,
            )
            message_log_append(
                direction="in",
                kind="envelope",
                message_id=message.message_id,
                peer=message.sender,
                type=message.type,
                content=canonical_json(signed),
            )
            if signed["seq"] == cursor.last_applied_seq + 1:
                _apply(message, verified)
                cursor.last_applied_seq = message.seq
                _apply_waiting_successors(cursor)
                cursor.save(update_fields=["last_applied_seq"])
            status = {"applied": "accepted", "pending": "queued", "refused": "refused"}[
                message.status
            ]
            receipt = receipt_build(
                in_reply_to=message.message_id,
                request_sm3=message.request_sm3,
                recipient=message.sender,
                status=status,
                received_at=received_at,
                code=message.refusal_code,
                message=getattr(message, "refusal_message", ""),
            )
            message.receipt = json.dumps(receipt, ensure_ascii=False)
            message.response_out_at = timezone.now()
            message.save()
            message_log_append(
                direction="out",
                kind="receipt",
                message_id=message.message_id,
                peer=message.sender,
                type="receipt",
                content=canonical_json(receipt["signed"]),
            )
    except Rejection as rejection:
        return _reject(envelope, rejection, received_at)
    except IntegrityError:
        # A concurrent delivery of the same message won the race: answer as a duplicate.
        existing = InboxMessage.objects.filter(message_id=verified.message_id).first()
        if existing is None:
            raise
        return _duplicate(existing)
    return InboxResult(409 if message.status == "refused" else 200, receipt)


def _duplicate(existing: InboxMessage) -> InboxResult:
    """A message seen before gets the very same receipt, and no second effect.

    The HTTP status is the first answer's, read from the stored receipt: a
    message first ``queued`` and refused later, when its gap was filled, is
    still answered 200 with its ``queued`` receipt (docs/exchange-protocol.md §7).
    """
    receipt = json.loads(existing.receipt)
    first_status = receipt.get("signed", {}).get("status")
    return InboxResult(409 if first_status == "refused" else 200, receipt)


def _apply_waiting_successors(cursor: CorrelationCursor) -> None:
    """Apply messages that arrived early, now that their predecessor is applied."""
    while True:
        successor = InboxMessage.objects.filter(
            sender=cursor.sender,
            correlation=cursor.correlation,
            seq=cursor.last_applied_seq + 1,
            status="pending",
        ).first()
        if successor is None:
            return
        # verified when it arrived; its signature is not checked again (a key may
        # have been rotated since), only its blobs are decoded again
        _apply(successor, stored_envelope(decrypt_at_rest(successor.envelope)))
        successor.save(update_fields=["status", "refusal_code", "applied_at"])
        cursor.last_applied_seq = successor.seq
