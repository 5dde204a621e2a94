"""Writes to the audit log: append a leaf, make a signed checkpoint."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from tongban.audit import merkle
from tongban.audit.checkpoint import checkpoint_note
from tongban.audit.models import AuditCheckpoint, AuditHead, AuditLeaf, AuditNode
from tongban.audit.selectors import tree_root
from tongban.gm.canonical import canonical_json


def audit_lock() -> None:
    """Take the audit log's head lock now (callers that lock another head before
    appending take this one first, so locks are always taken in the same order)."""
    AuditHead.objects.select_for_update().get_or_create(pk=1)


def audit_append(*, kind: str, entry: dict) -> int:
    """Append ``entry`` (a JSON object, stored as its RFC 8785 canonical bytes) and return
    its index. Runs inside the caller's transaction; appends are serialized by a row lock
    on the head, and the complete subtrees the new leaf closes are stored."""
    if kind not in AuditLeaf.Kind.values:
        raise ValueError(f"unknown audit kind {kind!r}")
    data = canonical_json(entry)
    with transaction.atomic():
        head, _ = AuditHead.objects.select_for_update().get_or_create(pk=1)
        index = head.size
        leaf = merkle.leaf_hash(data)
        AuditLeaf.objects.create(index=index, kind=kind, entry=data, leaf_hash=leaf)
        level, pos, acc = 0, index, leaf
        while pos & 1:
            if level == 0:
                left = bytes(
                    AuditLeaf.objects.values_list("leaf_hash", flat=True).get(index=pos - 1)
                )
            else:
                left = bytes(
                    AuditNode.objects.values_list("hash", flat=True).get(level=level, index=pos - 1)
                )
            acc = merkle.node_hash(left, acc)
            level, pos = level + 1, pos >> 1
            AuditNode.objects.create(level=level, index=pos, hash=acc)
        head.size = index + 1
        head.save(update_fields=["size"])
    return index


def audit_checkpoint_create() -> AuditCheckpoint:
    """Sign the current tree head as a checkpoint note (docs/exchange-protocol.md §16)."""
    with transaction.atomic():
        head, _ = AuditHead.objects.select_for_update().get_or_create(pk=1)
        size = head.size
        root = tree_root(size)
        return AuditCheckpoint.objects.create(
            size=size, root_hash=root, note=checkpoint_note(size=size, root=root)
        )


def audit_checkpoint_if_due(*, max_age_seconds: int) -> AuditCheckpoint | None:
    """A new checkpoint when there is none, the log grew since the latest, or the latest
    is older than ``max_age_seconds`` (the worker calls this every so often)."""
    latest = AuditCheckpoint.objects.order_by("-id").only("size", "created_at").first()
    size = AuditHead.objects.filter(pk=1).values_list("size", flat=True).first() or 0
    if (
        latest is not None
        and latest.size == size
        and latest.created_at > timezone.now() - dt.timedelta(seconds=max_age_seconds)
    ):
        return None
    return audit_checkpoint_create()
