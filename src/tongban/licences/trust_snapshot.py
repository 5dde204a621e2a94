"""What a verifier trusts, held in memory: the nodes, their keys, the issuing
organizations and the licence types of the current global configuration.

Verifying a 亮证 code needs these on every scan; reading them from the database
each time cost six queries and most of a verification's time
(docs/performance.md §3.8). They change only when a configuration is applied
(or, on the hub and in tests, when rows are saved): the snapshot is dropped
when such a row is saved in this process, and rebuilt when the configuration
serial differs from the one it was built from — checked at most every
``RECHECK_SECONDS``, because the worker process applies new configurations.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass

from django.db.models.signals import post_delete, post_save

from tongban.directory.models import Node, NodeKey, Organization
from tongban.licences.models import LicenceType


@dataclass(frozen=True)
class _Key:
    public_key: str
    not_before: dt.datetime
    not_after: dt.datetime | None


RECHECK_SECONDS = 2.0


@dataclass(frozen=True)
class TrustSnapshot:
    serial: int  # of the global configuration it was built from
    nodes: frozenset[str]  # active province nodes
    keys: dict[tuple[str, str], _Key]  # (node, kid) → key, revoked keys left out
    organization_nodes: dict[str, str]  # organization code → node
    licence_types: dict[str, LicenceType]  # active types by code

    def public_key(self, node_id: str, kid: str, *, at: dt.datetime) -> str | None:
        """Same rule as directory.signing.peer_public_key."""
        key = self.keys.get((node_id, kid))
        if key is None or key.not_before > at or (key.not_after and key.not_after < at):
            return None
        return key.public_key


_lock = threading.Lock()
_current: TrustSnapshot | None = None
_checked_at = 0.0


def _configuration_serial() -> int:
    from django.conf import settings

    from tongban.directory.models import CachedConfiguration, ConfigurationPublication

    model = ConfigurationPublication if settings.TONGBAN_ROLE == "hub" else CachedConfiguration
    return model.objects.order_by("-serial").values_list("serial", flat=True).first() or 0


def trust_snapshot() -> TrustSnapshot:
    global _current, _checked_at
    snapshot = _current
    if snapshot is not None and time.monotonic() - _checked_at < RECHECK_SECONDS:
        return snapshot
    with _lock:
        serial = _configuration_serial()
        _checked_at = time.monotonic()
        if _current is None or _current.serial != serial:
            nodes = frozenset(
                Node.objects.filter(role="node", active=True).values_list("node_id", flat=True)
            )
            keys = {
                (node_id, kid): _Key(public_key, not_before, not_after)
                for node_id, kid, public_key, not_before, not_after in NodeKey.objects.filter(
                    node__active=True, revoked=False
                ).values_list("node__node_id", "kid", "public_key", "not_before", "not_after")
            }
            organizations = dict(Organization.objects.values_list("code", "node__node_id"))
            types = {t.code: t for t in LicenceType.objects.filter(active=True)}
            _current = TrustSnapshot(serial, nodes, keys, organizations, types)
        return _current


def trust_snapshot_clear(**_kwargs) -> None:
    global _current
    with _lock:
        _current = None


for _model in (Node, NodeKey, Organization, LicenceType):
    post_save.connect(trust_snapshot_clear, sender=_model, dispatch_uid=f"trust-{_model.__name__}")
    post_delete.connect(
        trust_snapshot_clear, sender=_model, dispatch_uid=f"trust-del-{_model.__name__}"
    )
