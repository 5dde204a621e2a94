"""Inbox handlers for e-licence messages (docs/exchange-protocol.md §licences)."""

from __future__ import annotations

import json

from tongban.errors import DomainError
from tongban.exchange.envelopes import VerifiedEnvelope
from tongban.exchange.handlers import HandlerRefusal, inbox_handler, on_delivered
from tongban.identity.pii import decrypt_at_rest
from tongban.licences import services, sharing


def _refuse_domain(fn, envelope: VerifiedEnvelope) -> None:
    try:
        fn(body=envelope.signed["body"], sender=envelope.signed["sender"])
    except DomainError as exc:
        raise HandlerRefusal(str(exc.message), code="not_applicable") from exc
    except ValueError as exc:  # a malformed time or date in the body
        raise HandlerRefusal(f"malformed body: {exc}", code="not_applicable") from exc


@inbox_handler("licence.issued")
def licence_issued(envelope: VerifiedEnvelope) -> None:
    """Home node: a licence for one of our holders goes into their wallet."""
    _refuse_domain(services.wallet_receive, envelope)


@inbox_handler("licence.status")
def licence_status(envelope: VerifiedEnvelope) -> None:
    _refuse_domain(services.wallet_status_receive, envelope)


@inbox_handler("licence.used")
def licence_used(envelope: VerifiedEnvelope) -> None:
    _refuse_domain(services.wallet_use_receive, envelope)


@inbox_handler("licence.fetch")
def licence_fetch(envelope: VerifiedEnvelope) -> None:
    """Issuing node: serve a licence to a case under the holder's consent."""
    sharing.fetch_serve(requester=envelope.signed["sender"], body=envelope.signed["body"])


@inbox_handler("licence.deliver")
def licence_deliver(envelope: VerifiedEnvelope) -> None:
    sharing.deliver_receive(body=envelope.signed["body"], sender=envelope.signed["sender"])


@on_delivered("licence.fetch")
def licence_fetch_answered(message, receipt: dict) -> None:
    """Handling node: a refused fetch marks the material so the official can act."""
    if receipt.get("status") in ("accepted", "queued"):
        return
    body = json.loads(decrypt_at_rest(message.envelope))["signed"]["body"]
    sharing.fetch_refused(
        case_number=str(body.get("case")),
        material_code=str(body.get("material_code")),
        code=str(receipt.get("code") or receipt.get("status")),
    )
