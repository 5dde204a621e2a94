"""`tongban audit verify`: recompute the whole log and compare it with the latest checkpoint."""

from __future__ import annotations

from dataclasses import dataclass

from tongban.audit import merkle
from tongban.audit.checkpoint import CheckpointError, checkpoint_open, log_origin
from tongban.audit.models import AuditCheckpoint, AuditLeaf, AuditNode
from tongban.audit.selectors import tree_size
from tongban.directory.models import LocalSigningKey

BATCH = 2000


@dataclass
class Result:
    ok: bool
    size: int
    checkpoint_size: int | None = None
    bad_index: int | None = None
    problem: str = ""


def own_checkpoint_open(note: str):
    """Verify a checkpoint note of this node's log with any of this node's keys."""
    last: CheckpointError | None = None
    for public_key in LocalSigningKey.objects.values_list("public_key", flat=True):
        try:
            return checkpoint_open(note, public_key_hex=public_key, origin=log_origin())
        except CheckpointError as exc:
            last = exc
    raise last or CheckpointError("this node has no signing key")


def _check_nodes(pending: list[tuple[int, int, bytes]]) -> tuple[int, int] | None:
    """The first stored complete subtree that differs from the recomputed one."""
    if not pending:
        return None
    levels: dict[int, list[int]] = {}
    for level, index, _ in pending:
        levels.setdefault(level, []).append(index)
    stored: dict[tuple[int, int], bytes] = {}
    for level, indexes in levels.items():
        rows = AuditNode.objects.filter(level=level, index__in=indexes)
        for i, h in rows.values_list("index", "hash"):
            stored[(level, i)] = bytes(h)
    for level, index, h in pending:
        if stored.get((level, index)) != h:
            return level, index
    return None


def audit_log_verify() -> Result:
    checkpoint = AuditCheckpoint.objects.order_by("-id").first()
    cp = None
    if checkpoint is not None:
        try:
            cp = own_checkpoint_open(checkpoint.note)
        except CheckpointError as exc:
            return Result(False, 0, problem=f"latest checkpoint #{checkpoint.pk}: {exc}")
    stream = merkle.StreamingRoot()
    pending: list[tuple[int, int, bytes]] = []
    expected = 0

    def bad(index: int, problem: str) -> Result:
        return Result(False, expected, cp.size if cp else None, index, problem)

    def bad_subtree(level: int, i: int) -> Result:
        first, last = i << level, ((i + 1) << level) - 1
        return bad(first, f"leaves {first}–{last} differ from the tree stored when appended")

    rows = AuditLeaf.objects.order_by("index").values_list("index", "entry", "leaf_hash")
    for index, entry, stored_leaf in rows.iterator(chunk_size=BATCH):
        if index != expected:
            return bad(expected, f"leaf {expected} is missing")
        leaf = merkle.leaf_hash(bytes(entry))
        if leaf != bytes(stored_leaf):
            return bad(index, f"leaf {index}: its entry does not match its leaf hash")
        for level, h in stream.add(leaf):  # the complete subtrees it closes, as stored
            pending.append((level, index >> level, h))
        expected += 1
        at_checkpoint = cp is not None and expected == cp.size
        if len(pending) >= BATCH or at_checkpoint:
            if mismatch := _check_nodes(pending):
                return bad_subtree(*mismatch)
            pending.clear()
        if at_checkpoint and stream.root() != cp.root:
            return bad(0, f"the log's first {cp.size} leaves do not match the checkpoint's root")
    if mismatch := _check_nodes(pending):
        return bad_subtree(*mismatch)
    head = tree_size()
    if head != expected:
        return bad(expected, f"the log holds {expected} leaves, its head says {head}")
    if cp is not None:
        if cp.size > expected:
            return bad(
                expected, f"the checkpoint covers {cp.size} leaves, the log holds {expected}"
            )
        if cp.size == 0 and cp.root != merkle.empty_root():
            return bad(0, "the empty checkpoint's root is wrong")
    return Result(True, expected, cp.size if cp else None)
