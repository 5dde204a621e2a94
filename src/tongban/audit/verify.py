"""`tongban audit verify`: recompute the whole log and compare it with the signed checkpoints."""

from __future__ import annotations

import json
from dataclasses import dataclass

from tongban.audit import merkle
from tongban.audit.checkpoint import Checkpoint, CheckpointError, checkpoint_open, log_origin
from tongban.audit.models import AuditCheckpoint, AuditLeaf, AuditNode
from tongban.audit.selectors import tree_size
from tongban.directory.models import LocalSigningKey
from tongban.gm.canonical import canonical_json

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


def _signed_checkpoints(note: str | None) -> tuple[list[Checkpoint], str]:
    """The checkpoints to compare the log with, by size: the one given, or every stored one
    (each must carry this node's signature); a problem instead when one does not."""
    if note is not None:
        try:
            return [own_checkpoint_open(note)], ""
        except CheckpointError as exc:
            return [], f"the checkpoint given: {exc}"
    by_size: dict[int, Checkpoint] = {}
    for pk, stored in AuditCheckpoint.objects.order_by("-id").values_list("pk", "note"):
        try:
            cp = own_checkpoint_open(stored)
        except CheckpointError as exc:
            return [], f"checkpoint #{pk}: {exc}"
        other = by_size.setdefault(cp.size, cp)
        if other.root != cp.root:
            return [], f"two signed checkpoints of size {cp.size} with different roots"
    return [by_size[size] for size in sorted(by_size)], ""


def _source_problems(
    pending: list[tuple[int, str, bytes]], gaps: list[tuple[int, int, int]]
) -> tuple[int, str] | None:
    """The first leaf that disagrees with the row it was appended for: a security event
    (its id, kind and SM3) or a message log entry (its position and chain hash); or a
    message log leaf (index, position) that follows the leaf of entry ``previous`` while
    the message log holds entry previous + 1 (``gaps``: (index, previous, position)). A
    leaf whose row is gone is not judged here (the tree and the checkpoints still are)."""
    from tongban.exchange.models import MessageLogEntry
    from tongban.identity.models import SecurityEvent
    from tongban.identity.security_log import security_event_audit_entry

    events: dict[int, tuple[int, bytes]] = {}
    messages: dict[int, tuple[int, bytes]] = {}
    for index, kind, entry in pending:
        try:
            data = json.loads(entry)
        except ValueError:
            continue
        if not isinstance(data, dict):
            continue
        key = data.get("id") if kind == "security_event" else data.get("position")
        if not isinstance(key, int):
            continue
        if kind == "security_event":
            events[key] = (index, entry)
        elif kind == "message_log":
            messages[key] = (index, entry)
    problems: list[tuple[int, str]] = []
    for row in SecurityEvent.objects.filter(pk__in=list(events)):
        index, entry = events[row.pk]
        if canonical_json(security_event_audit_entry(row)) != entry:
            problems.append(
                (index, f"leaf {index}: it does not match security event {row.pk} as stored")
            )
    rows = MessageLogEntry.objects.filter(position__in=list(messages))
    for position, entry_hash in rows.values_list("position", "entry_hash"):
        index, entry = messages[position]
        if canonical_json({"position": position, "entry_hash": entry_hash}) != entry:
            problems.append(
                (index, f"leaf {index}: it does not match message log entry {position} as stored")
            )
    if gaps:
        wanted = {previous + 1 for _, previous, _ in gaps}
        present = set(
            MessageLogEntry.objects.filter(position__in=wanted).values_list("position", flat=True)
        )
        for index, previous, position in gaps:
            if previous + 1 in present:
                problems.append(
                    (
                        index,
                        f"leaf {index}: message log entry {position} follows entry {previous}, "
                        f"but entry {previous + 1} is in the message log (leaves were dropped, "
                        "reordered or rewritten)",
                    )
                )
    return min(problems) if problems else None


def audit_log_verify(*, note: str | None = None) -> Result:
    """Recompute every leaf and the tree; compare the complete subtrees with those stored,
    each leaf with the row it was appended for (security event, message log entry), and the
    tree with every signed checkpoint stored (or only with ``note``, a checkpoint of this
    node's log kept elsewhere, e.g. one cosigned by the witnesses). The first bad index is
    exact when a leaf, its stored hash or its row disagree; when only a signed checkpoint
    does, it is the first leaf after the last checkpoint that still matches."""
    checkpoints, problem = _signed_checkpoints(note)
    if problem:
        return Result(False, 0, problem=problem)
    cp = checkpoints[-1] if checkpoints else None
    due = iter(checkpoints)
    next_cp = next(due, None)
    while next_cp is not None and next_cp.size == 0:
        if next_cp.root != merkle.empty_root():
            return Result(
                False, 0, cp.size if cp else None, 0, "the empty checkpoint's root is wrong"
            )
        next_cp = next(due, None)
    last_good = 0
    stream = merkle.StreamingRoot()
    pending: list[tuple[int, int, bytes]] = []
    sources: list[tuple[int, str, bytes]] = []
    gaps: list[tuple[int, int, int]] = []
    expected = 0
    last_position: int | None = None

    def bad(index: int, problem: str) -> Result:
        return Result(False, expected, cp.size if cp else None, index, problem)

    def bad_subtree(level: int, i: int) -> Result:
        first, last = i << level, ((i + 1) << level) - 1
        return bad(first, f"leaves {first}–{last} differ from the tree stored when appended")

    def flush() -> Result | None:
        source = _source_problems(sources, gaps)
        mismatch = _check_nodes(pending)
        sources.clear()
        gaps.clear()
        pending.clear()
        if source and (not mismatch or source[0] < (mismatch[1] + 1) << mismatch[0]):
            return bad(*source)
        return bad_subtree(*mismatch) if mismatch else None

    rows = AuditLeaf.objects.order_by("index").values_list("index", "kind", "entry", "leaf_hash")
    for index, kind, entry, stored_leaf in rows.iterator(chunk_size=BATCH):
        entry = bytes(entry)
        if index != expected:
            return flush() or bad(expected, f"leaf {expected} is missing")
        leaf = merkle.leaf_hash(entry)
        if leaf != bytes(stored_leaf):
            return flush() or bad(index, f"leaf {index}: its entry does not match its leaf hash")
        if kind == "message_log" and (position := _position(entry)) is not None:
            if last_position is not None and position != last_position + 1:
                gaps.append((index, last_position, position))
            last_position = position
        sources.append((index, kind, entry))
        for level, h in stream.add(leaf):  # the complete subtrees it closes, as stored
            pending.append((level, index >> level, h))
        expected += 1
        at_checkpoint = next_cp is not None and expected == next_cp.size
        batch_full = len(pending) >= BATCH or len(sources) >= BATCH
        if (batch_full or at_checkpoint) and (found := flush()):
            return found
        if at_checkpoint:
            if stream.root() != next_cp.root:
                return bad(
                    last_good,
                    f"leaves {last_good}–{next_cp.size - 1} do not match the checkpoint signed "
                    f"at size {next_cp.size} (the last that matches is at size {last_good}): "
                    "the log was rewritten from one of them on",
                )
            last_good = next_cp.size
            next_cp = next(due, None)
    if found := flush():
        return found
    head = tree_size()
    if head != expected:
        return bad(expected, f"the log holds {expected} leaves, its head says {head}")
    if next_cp is not None:
        return bad(
            expected,
            f"a checkpoint covers {next_cp.size} leaves, the log holds {expected} "
            f"(the last checkpoint that matches is at size {last_good})",
        )
    return Result(True, expected, cp.size if cp else None)


def _position(entry: bytes) -> int | None:
    try:
        data = json.loads(entry)
    except ValueError:
        return None
    position = data.get("position") if isinstance(data, dict) else None
    return position if isinstance(position, int) else None
