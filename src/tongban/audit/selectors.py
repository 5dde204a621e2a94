"""Reads of the audit log: tree roots and proofs from the stored subtree hashes."""

from __future__ import annotations

from django.db.models import Q

from tongban.audit import merkle
from tongban.audit.models import AuditCheckpoint, AuditHead, AuditLeaf, AuditNode


def tree_size() -> int:
    head = AuditHead.objects.filter(pk=1).only("size").first()
    return head.size if head else 0


def _fetch(nodes: set[merkle.Node]) -> dict[merkle.Node, bytes]:
    out: dict[merkle.Node, bytes] = {}
    leaves = [i for level, i in nodes if level == 0]
    if leaves:
        for i, h in AuditLeaf.objects.filter(index__in=leaves).values_list("index", "leaf_hash"):
            out[(0, i)] = bytes(h)
    inner = [(level, i) for level, i in nodes if level > 0]
    if inner:
        q = Q()
        for level, i in inner:
            q |= Q(level=level, index=i)
        for level, i, h in AuditNode.objects.filter(q).values_list("level", "index", "hash"):
            out[(level, i)] = bytes(h)
    missing = nodes - out.keys()
    if missing:
        raise LookupError(f"audit log nodes missing: {sorted(missing)[:3]}")
    return out


def _hashes(ranges: list[tuple[int, int]]) -> list[bytes]:
    return merkle.hashes_for(ranges, _fetch(merkle.nodes_for(ranges)))


def tree_root(size: int) -> bytes:
    """MTH of the first ``size`` leaves, from O(log size) stored hashes."""
    if size == 0:
        return merkle.empty_root()
    return _hashes([(0, size)])[0]


def inclusion_proof(index: int, size: int) -> list[bytes]:
    return _hashes(merkle.inclusion_ranges(index, size))


def consistency_proof(first: int, second: int) -> list[bytes]:
    return _hashes(merkle.consistency_ranges(first, second))


def leaf_hash_at(index: int) -> bytes | None:
    row = AuditLeaf.objects.filter(index=index).values_list("leaf_hash", flat=True).first()
    return bytes(row) if row is not None else None


def latest_checkpoint() -> AuditCheckpoint | None:
    return AuditCheckpoint.objects.order_by("-id").first()


def latest_cosigned_checkpoint() -> AuditCheckpoint | None:
    """The latest checkpoint at least one witness cosigned (docs/exchange-protocol.md §16.5)."""
    return AuditCheckpoint.objects.exclude(cosigned_note="").order_by("-id").first()
