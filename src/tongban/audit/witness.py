"""Witnesses of the audit logs: C2SP tlog-witness ``add-checkpoint`` and tlog-cosignature
``cosignature/v1`` lines signed with the witnessing node's SM2 key
(docs/exchange-protocol.md §16.5, ADR 0012).

A cosignature line is a signed-note signature line

    — tongban/<witness node>/witness base64(key ID || u64 timestamp || DER SM2 signature)\\n

over the bytes ``"cosignature/v1\\ntime <timestamp>\\n" || <checkpoint note text>``. The key
ID is the first 4 bytes of SM3(key name || 0x0A || 0xFF || "tongban-sm2-cosignature/v1" ||
65-byte uncompressed public key): 0xFF is signed-note's byte for signature types it does not
assign, and the identifier differs from the checkpoint signature's ("tongban-sm2-sm3"), so the
same SM2 key never yields a cosignature that reads as a checkpoint signature or back.

Three parts:

* the witness side (:func:`witness_add_checkpoint`): verify a log's checkpoint and the
  consistency proof from the last checkpoint this node cosigned for that log, store it
  (WitnessedLog, row lock) and answer the cosignature — or refuse loudly;
* the log side (:func:`audit_checkpoint_witness`): push this node's latest checkpoint to its
  witnesses and keep their cosignatures on the AuditCheckpoint;
* the reader (:func:`checkpoint_witnesses`): which witnesses cosigned a note.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import time

from django.conf import settings
from django.utils import timezone

from tongban.audit.checkpoint import (
    EM_DASH,
)
from tongban.directory.models import LocalSigningKey, NodeKey
from tongban.directory.signing import active_signing_key
from tongban.gm import sm2
from tongban.gm.sm3 import sm3_digest

log = logging.getLogger("tongban.audit.witness")

COSIGNATURE_TYPE = b"\xfftongban-sm2-cosignature/v1"
COSIGNATURE_HEADER = "cosignature/v1"
MAX_REQUEST_BYTES = 16 * 1024  # an old line, ≤ 63 proof lines, a checkpoint with a few signatures
MAX_PROOF_LINES = 63
MAX_FUTURE_SECONDS = 600  # a cosignature dated further ahead than this is not believed
SIZE_CONTENT_TYPE = "text/x.tlog.size"
INCONSISTENT_EVENT = "audit_log_inconsistent"

_ORIGIN_RE = re.compile(r"tongban/([a-z][a-z0-9-]{0,15})/audit")
_WITNESS_RE = re.compile(r"tongban/([a-z][a-z0-9-]{0,15})/witness")
_SIZE_RE = re.compile(r"0|[1-9][0-9]{0,18}")


# --- the cosignature format ----------------------------------------------------------------


def witness_name(node_id: str | None = None) -> str:
    """The key name of a node's witness cosignatures."""
    return f"tongban/{node_id or settings.TONGBAN_NODE}/witness"


def cosignature_key_id(name: str, public_key_hex: str) -> bytes:
    return sm3_digest(name.encode() + b"\n" + COSIGNATURE_TYPE + bytes.fromhex(public_key_hex))[:4]


def cosigned_message(text: str, timestamp: int) -> bytes:
    """The signed bytes of a cosignature/v1 over a checkpoint's note text."""
    return f"{COSIGNATURE_HEADER}\ntime {timestamp}\n{text}".encode()


def cosignature_line(*, text: str, timestamp: int | None = None) -> str:
    """This node's cosignature line over the checkpoint note ``text`` (with its final newline)."""
    ts = int(time.time()) if timestamp is None else timestamp
    name = witness_name()
    _kid, key = active_signing_key()
    raw = (
        cosignature_key_id(name, key.public_key_hex)
        + ts.to_bytes(8, "big")
        + key.sign(cosigned_message(text, ts))
    )
    return f"{EM_DASH} {name} {base64.b64encode(raw).decode()}\n"


def node_public_keys(node_id: str, *, current: bool = False) -> list[str]:
    """The SM2 public keys of ``node_id`` in this node's directory (this node's own keys when
    it is ``node_id``). ``current``: only keys valid now; otherwise every key not revoked."""
    rows = NodeKey.objects.filter(node__node_id=node_id, node__active=True, revoked=False)
    if current:
        now = timezone.now()
        rows = rows.filter(not_before__lte=now).exclude(not_after__lt=now)
    keys = list(rows.values_list("public_key", flat=True))
    if node_id == settings.TONGBAN_NODE:
        local = LocalSigningKey.objects.all()
        if current:
            local = local.filter(active=True)
        keys += list(local.values_list("public_key", flat=True))
    return list(dict.fromkeys(keys))


def _split_note(note: str) -> tuple[str, list[str]] | None:
    text, sep, sigs = note.partition("\n\n")
    if not sep or not text:
        return None
    return text + "\n", [line for line in sigs.split("\n") if line]


def cosignature_verify(line: str, *, text: str, public_keys: list[str]) -> tuple[str, int] | None:
    """(witness node, timestamp) if ``line`` is a cosignature of ``text`` by one of
    ``public_keys``; None otherwise."""
    parts = line.split(" ")
    if len(parts) != 3 or parts[0] != EM_DASH:
        return None
    m = _WITNESS_RE.fullmatch(parts[1])
    if not m:
        return None
    try:
        raw = base64.b64decode(parts[2], validate=True)
    except binascii.Error:
        return None
    if len(raw) < 13:
        return None
    ts = int.from_bytes(raw[4:12], "big")
    if ts >= 1 << 63 or ts > time.time() + MAX_FUTURE_SECONDS:
        return None
    for key in public_keys:
        if raw[:4] == cosignature_key_id(parts[1], key) and sm2.verify(
            key, cosigned_message(text, ts), raw[12:]
        ):
            return m.group(1), ts
    return None


def checkpoint_witnesses(note: str) -> list[str]:
    """The witnesses (node IDs, sorted) whose cosignature lines in ``note`` verify with their
    keys in this node's directory. Lines of unknown witnesses or keys are ignored; a note that
    is not a signed note has none."""
    parsed = _split_note(note)
    if parsed is None:
        return []
    text, lines = parsed
    found: set[str] = set()
    keys: dict[str, list[str]] = {}
    for line in lines:
        parts = line.split(" ")
        m = _WITNESS_RE.fullmatch(parts[1]) if len(parts) == 3 else None
        if not m or m.group(1) in found:
            continue
        node_id = m.group(1)
        if node_id not in keys:
            keys[node_id] = node_public_keys(node_id)
        verified = cosignature_verify(line, text=text, public_keys=keys[node_id])
        if verified is not None:
            found.add(verified[0])
    return sorted(found)
