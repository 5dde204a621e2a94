"""Outbox dispatch against an unreachable peer: recorded, retried later, never lost."""

from __future__ import annotations

import datetime as dt
import socket

import pytest
from django.db import transaction
from django.utils import timezone

from tongban.directory.models import Node
from tongban.exchange.dispatcher import backoff_delay, dispatch_once, outbox_lease_due
from tongban.exchange.models import OutboxMessage
from tongban.exchange.services import outbox_enqueue


def test_backoff_grows_exponentially_and_is_capped(settings):
    settings.TONGBAN_BACKOFF_BASE_SECONDS = 1
    settings.TONGBAN_BACKOFF_MAX_SECONDS = 60
    delays = [backoff_delay(n).total_seconds() for n in (1, 2, 3, 4, 10, 30)]
    assert 0.8 <= delays[0] <= 1.2 and 1.6 <= delays[1] <= 2.4 and 3.2 <= delays[2] <= 4.8
    assert 48 <= delays[4] <= 72 and delays[5] <= 72


@pytest.mark.django_db(transaction=True)
def test_outbox_write_requires_the_callers_transaction():
    with pytest.raises(RuntimeError):
        outbox_enqueue(type="case.event", recipient="zj", correlation="N1", body={})


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends


def test_unreachable_peer_keeps_message_pending_with_backoff(region):
    Node.objects.filter(node_id="zj").update(base_url=f"http://127.0.0.1:{closed_port()}")
    with transaction.atomic():
        outbox_enqueue(type="case.event", recipient="zj", correlation="N1", body={"n": 1})
        outbox_enqueue(type="case.event", recipient="zj", correlation="N1", body={"n": 2})
    assert dispatch_once() == 2
    rows = list(OutboxMessage.objects.order_by("seq"))
    assert [r.seq for r in rows] == [1, 2]
    assert all(
        r.status == "pending" and r.attempts == 1 and "transport" in r.last_error for r in rows
    )
    assert all(r.next_attempt_at > timezone.now() for r in rows)
    assert dispatch_once() == 0  # not due yet
    OutboxMessage.objects.update(next_attempt_at=timezone.now() - dt.timedelta(seconds=1))
    assert dispatch_once() == 2
    assert set(OutboxMessage.objects.values_list("attempts", flat=True)) == {2}


def test_leased_messages_are_not_taken_twice(region):
    with transaction.atomic():
        outbox_enqueue(type="case.event", recipient="zj", correlation="N2", body={})
    assert len(outbox_lease_due()) == 1
    assert outbox_lease_due() == []  # leased by the first worker
    OutboxMessage.objects.update(leased_until=timezone.now() - dt.timedelta(seconds=1))
    assert len(outbox_lease_due()) == 1  # lease expired (worker died): taken again
