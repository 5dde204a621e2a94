"""The verifier's in-memory trust snapshot follows the directory: rebuilt when the
configuration serial changes (another process applied it) or a row is saved here."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from tongban.directory.models import CachedConfiguration, NodeKey
from tongban.licences import trust_snapshot as module
from tongban.licences.trust_snapshot import trust_snapshot


def test_a_new_configuration_serial_rebuilds_the_snapshot(region, monkeypatch):
    kid = region.peer_kids["zj"]
    now = timezone.now()
    assert trust_snapshot().public_key("zj", kid, at=now) is not None
    # the worker process applies a configuration that revokes zj's key: a bulk update
    # here, so no signal reaches this process; the serial tells
    NodeKey.objects.filter(kid=kid).update(revoked=True)
    monkeypatch.setattr(module, "RECHECK_SECONDS", 3600)
    assert trust_snapshot().public_key("zj", kid, at=now) is not None  # not yet rechecked
    CachedConfiguration.objects.create(
        serial=2, issued_at=now, expires_at=now + dt.timedelta(days=1), document="{}"
    )
    monkeypatch.setattr(module, "RECHECK_SECONDS", 0)
    assert trust_snapshot().public_key("zj", kid, at=now) is None
    assert trust_snapshot().serial == 2


def test_saving_a_key_here_drops_the_snapshot(region):
    now = timezone.now()
    before = trust_snapshot()
    key = NodeKey.objects.get(kid=region.peer_kids["ah"])
    key.not_after = now - dt.timedelta(seconds=1)
    key.save()
    assert trust_snapshot() is not before
    assert trust_snapshot().public_key("ah", key.kid, at=now) is None
