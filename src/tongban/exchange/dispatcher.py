"""Outbox dispatcher: delivers due envelopes with exponential backoff.

Delivery is at-least-once: a message is leased (``leased_until``) in a short
transaction, sent outside any transaction, and its outcome recorded in a
second one. A worker killed mid-delivery leaves a lease that expires; the
message is sent again and the receiver's inbox deduplicates it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from tongban.directory.models import Node
from tongban.exchange.envelopes import parse_time, receipt_parse, receipt_verify
from tongban.exchange.handlers import run_delivery_hooks
from tongban.exchange.message_log import message_log_append
from tongban.exchange.models import OutboxMessage
from tongban.gm.canonical import canonical_json
from tongban.identity.pii import decrypt_at_rest

log = logging.getLogger(__name__)
# Answers that can change once the peer has a newer global configuration (a key or
# node added moments ago): retried with backoff instead of failing for good.
RETRYABLE_REJECTIONS = {"configuration_expired", "unknown_key", "unknown_sender"}


def backoff_delay(attempts: int) -> dt.timedelta:
    base = settings.TONGBAN_BACKOFF_BASE_SECONDS * (2 ** max(attempts - 1, 0))
    capped = min(base, settings.TONGBAN_BACKOFF_MAX_SECONDS)
    return dt.timedelta(seconds=capped * random.uniform(0.8, 1.2))


def outbox_lease_due(*, limit: int = 20) -> list[OutboxMessage]:
    now = timezone.now()
    with transaction.atomic():
        due = list(
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(status="pending", next_attempt_at__lte=now)
            .filter(Q(leased_until__isnull=True) | Q(leased_until__lt=now))
            .order_by("next_attempt_at", "id")[:limit]
        )
        lease = now + dt.timedelta(seconds=settings.TONGBAN_DELIVERY_LEASE_SECONDS)
        OutboxMessage.objects.filter(pk__in=[m.pk for m in due]).update(leased_until=lease)
    return due


def _record_failure(message: OutboxMessage, error: str) -> None:
    with transaction.atomic():
        m = OutboxMessage.objects.select_for_update().get(pk=message.pk)
        if m.status != "pending":
            return
        m.attempts += 1
        m.last_error = error[:500]
        m.next_attempt_at = timezone.now() + backoff_delay(m.attempts)
        m.leased_until = None
        m.save(update_fields=["attempts", "last_error", "next_attempt_at", "leased_until"])
    log.info(
        "delivery of %s to %s failed (attempt %s): %s", m.message_id, m.recipient, m.attempts, error
    )


def outbox_deliver(message: OutboxMessage, *, session: requests.Session | None = None) -> str:
    """Send one leased message; returns the resulting status."""
    http = session or requests
    node = Node.objects.filter(node_id=message.recipient, active=True).first()
    if node is None:
        _record_failure(message, f"recipient {message.recipient} not in the directory")
        return "pending"
    request_out_at = timezone.now()
    try:
        response = http.post(
            f"{node.base_url}/api/v1/exchange/inbox",
            data=decrypt_at_rest(message.envelope).encode(),
            headers={"Content-Type": "application/json"},
            timeout=settings.TONGBAN_EXCHANGE_TIMEOUT_SECONDS,
        )
    except requests.RequestException as exc:
        _record_failure(message, f"transport: {exc.__class__.__name__}: {exc}")
        return "pending"
    response_in_at = timezone.now()
    if response.status_code >= 500 and response.status_code != 503:
        _record_failure(message, f"HTTP {response.status_code}")
        return "pending"
    try:
        receipt = receipt_parse(response.content)
        signed = receipt_verify(
            receipt,
            expected_sender=message.recipient,
            message_id=message.message_id,
            request_sm3=message.request_sm3,
        )
    except ValueError as exc:
        _record_failure(message, f"HTTP {response.status_code}, unusable receipt: {exc}")
        return "pending"
    if signed["status"] == "rejected" and signed.get("code") in RETRYABLE_REJECTIONS:
        _record_failure(message, f"rejected for now: {signed.get('code')}")
        return "pending"

    with transaction.atomic():
        m = OutboxMessage.objects.select_for_update().get(pk=message.pk)
        if m.status != "pending":
            return m.status
        m.status = "rejected" if signed["status"] in ("rejected", "refused") else "delivered"
        m.attempts += 1
        m.last_error = (
            f"{signed['status']}: {signed.get('code')} {signed.get('message', '')}".strip()
            if m.status == "rejected"
            else ""
        )
        m.receipt = json.dumps(receipt, ensure_ascii=False)
        m.leased_until = None
        m.request_out_at = request_out_at
        m.request_in_at = parse_time(signed["received_at"])
        m.response_out_at = parse_time(signed["responded_at"])
        m.response_in_at = response_in_at
        m.save()
        message_log_append(
            direction="in",
            kind="receipt",
            message_id=m.message_id,
            peer=m.recipient,
            type="receipt",
            code=signed.get("code", ""),
            content=canonical_json(signed),
        )
        run_delivery_hooks(m, signed)
    if m.status == "rejected":
        log.warning("%s %s was rejected by %s: %s", m.type, m.message_id, m.recipient, m.last_error)
    return m.status


def dispatch_once(*, limit: int = 20, session: requests.Session | None = None) -> int:
    """Deliver what is due now; returns how many messages were attempted."""
    due = outbox_lease_due(limit=limit)
    for message in due:
        outbox_deliver(message, session=session)
    return len(due)
