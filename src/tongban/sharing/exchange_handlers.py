"""Inbox handlers and delivery hooks for data queries (exchange protocol §10.10)."""

from __future__ import annotations

import json

from tongban.exchange.envelopes import VerifiedEnvelope
from tongban.exchange.handlers import inbox_handler, on_delivered
from tongban.identity.pii import decrypt_at_rest
from tongban.sharing import query


@inbox_handler("data.query")
def data_query_received(envelope: VerifiedEnvelope) -> None:
    """Source node: answer (data.answer in the outbox) or refuse with a code. A provider
    that cannot answer raises ProviderUnavailable out of the inbox transaction: nothing
    is recorded, no receipt is given (HTTP 500) and the sender delivers it again."""
    signed = envelope.signed
    query.data_query_answer(
        sender=signed["sender"], body=signed["body"], correlation=signed["correlation"]
    )


@inbox_handler("data.answer")
def data_answer_received(envelope: VerifiedEnvelope) -> None:
    query.data_answer_receive(body=envelope.signed["body"], sender=envelope.signed["sender"])


@on_delivered("data.query")
def data_query_delivered(message, receipt: dict) -> None:
    """Asking node: a refused (or rejected) query is settled with the source's code."""
    if receipt.get("status") in ("accepted", "queued"):
        return
    body = json.loads(decrypt_at_rest(message.envelope))["signed"]["body"]
    query.data_query_refused(
        query_id=str(body.get("query_id", "")),
        code=str(receipt.get("code") or receipt.get("status")),
        message=str(receipt.get("message", "")),
    )
