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
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tongban.audit import merkle
from tongban.audit.checkpoint import EM_DASH, Checkpoint, CheckpointError, checkpoint_open
from tongban.audit.models import AuditCheckpoint, WitnessedLog
from tongban.directory.models import LocalSigningKey, Node, NodeKey
from tongban.directory.signing import active_signing_key
from tongban.errors import DomainError
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


# --- the witness side ----------------------------------------------------------------------


class WitnessConflict(DomainError):
    """409: the request's old size is not the size this witness last cosigned (or the
    checkpoint has that size and another root). The API answers ``<size>\\n`` as
    text/x.tlog.size, as tlog-witness says."""

    def __init__(self, size: int, message: str, code: str = "witness_conflict"):
        super().__init__(code, message, status=409, details={"size": size})
        self.size = size


@dataclass(frozen=True)
class AddCheckpoint:
    old: int
    proof: list[bytes]
    note: str


def _bad(message: str) -> DomainError:
    return DomainError("invalid_add_checkpoint", message, status=400)


def add_checkpoint_parse(body: bytes) -> AddCheckpoint:
    """The tlog-witness add-checkpoint request body; 400 DomainError when malformed."""
    if len(body) > MAX_REQUEST_BYTES:
        raise DomainError(
            "request_too_large", _("请求过大"), status=413, details={"max": MAX_REQUEST_BYTES}
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _bad(_("请求须为 UTF-8 文本")) from None
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise _bad(_("请求含有控制字符"))
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise _bad(_("请求须为 old 行、一致性证明行、空行和检查点"))
    lines = head.split("\n")
    first = lines[0]
    if not first.startswith("old ") or not _SIZE_RE.fullmatch(first[4:]):
        raise _bad(_("第一行须为 old <树大小>"))
    proof_lines = lines[1:]
    if len(proof_lines) > MAX_PROOF_LINES:
        raise _bad(_("一致性证明行过多"))
    proof = []
    for line in proof_lines:
        try:
            h = base64.b64decode(line, validate=True)
        except binascii.Error:
            h = b""
        if len(h) != 32:
            raise _bad(_("一致性证明行须为一个 base64 编码的 32 字节哈希"))
        proof.append(h)
    if not note.endswith("\n"):
        raise _bad(_("检查点须以换行结束"))
    return AddCheckpoint(old=int(first[4:]), proof=proof, note=note)


def _log_node(note: str) -> tuple[str, str]:
    """(origin, node ID) of the log a checkpoint names; 400 malformed, 404 unknown log."""
    origin = note.split("\n", 1)[0]
    m = _ORIGIN_RE.fullmatch(origin)
    if not m:
        raise DomainError("unknown_log", _("不认识的审计日志"), status=404)
    node_id = m.group(1)
    known = (
        node_id == settings.TONGBAN_NODE
        or Node.objects.filter(node_id=node_id, active=True).exists()
    )
    if not known:
        raise DomainError("unknown_log", _("不认识的审计日志"), status=404)
    return origin, node_id


_SIGNATURE_PROBLEMS = {"signature does not verify", "no signature by the log's key"}


def _checkpoint_open(note: str, *, origin: str, node_id: str) -> Checkpoint:
    keys = node_public_keys(node_id, current=True)
    problem = "no signature by the log's key"
    for key in keys:
        try:
            return checkpoint_open(note, public_key_hex=key, origin=origin)
        except CheckpointError as exc:
            problem = str(exc)
            if problem not in _SIGNATURE_PROBLEMS:
                break
    if problem in _SIGNATURE_PROBLEMS:
        raise DomainError(
            "checkpoint_signature_invalid", _("检查点没有该审计日志的有效签名"), status=403
        )
    raise _bad(_("检查点格式错误：%(problem)s") % {"problem": problem})


class _Refused(Exception):
    def __init__(self, reason: str, status: int, witnessed: WitnessedLog):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.size = witnessed.size
        self.root = bytes(witnessed.root_hash)


def _refuse_loudly(refused: _Refused, *, origin: str, node_id: str, request, cp, req) -> None:
    """A log that signed a checkpoint inconsistent with one this witness cosigned: a
    security event with the refused note as evidence, and an ERROR line."""
    from tongban.identity.security_log import security_event  # models: not at import time

    b64 = base64.b64encode
    details = {
        "origin": origin,
        "log_node": node_id,
        "reason": refused.reason,
        "witnessed_size": refused.size,
        "witnessed_root": b64(refused.root).decode(),
        "checkpoint_size": cp.size,
        "checkpoint_root": b64(cp.root).decode(),
        "old": req.old,
        "proof_hashes": len(req.proof),
        "refused_note_b64": b64(req.note.encode()).decode(),
    }
    log.error(
        "WITNESS REFUSED checkpoint of %s: %s (cosigned size %s, checkpoint size %s, old %s)",
        origin,
        refused.reason,
        refused.size,
        cp.size,
        req.old,
    )
    security_event(INCONSISTENT_EVENT, request=request, **details)


def witness_add_checkpoint(*, body: bytes, request=None) -> bytes:
    """tlog-witness add-checkpoint: cosign a log's checkpoint after verifying its signature
    and the consistency proof from the checkpoint this witness last cosigned for that log;
    returns the cosignature line. Raises DomainError (400 malformed, 403 signature, 404 unknown
    log, 409 WitnessConflict, 422 inconsistent). The first checkpoint of a log is taken on
    trust (``old 0``); refusals of a signed, inconsistent checkpoint are loud."""
    req = add_checkpoint_parse(body)
    origin, node_id = _log_node(req.note)
    cp = _checkpoint_open(req.note, origin=origin, node_id=node_id)
    try:
        with transaction.atomic():
            wl, _created = WitnessedLog.objects.select_for_update().get_or_create(
                origin=origin,
                defaults={
                    "node_id": node_id,
                    "size": 0,
                    "root_hash": merkle.empty_root(),
                    "note": "",
                },
            )
            if cp.size < wl.size:
                # a signed tree smaller than one already cosigned: the log went back
                status = 400 if req.old > cp.size else 409
                raise _Refused("smaller than the checkpoint already cosigned", status, wl)
            if req.old > cp.size:
                raise _bad(_("old 不能大于检查点的树大小"))
            if req.old != wl.size:
                raise WitnessConflict(wl.size, _("old 与见证方最近副署的树大小不符"))
            if cp.size == wl.size:
                if cp.root != bytes(wl.root_hash):
                    raise _Refused("same size, another root hash", 409, wl)
                if req.proof:
                    raise _bad(_("树大小相同时一致性证明须为空"))
            elif req.old == 0:
                if req.proof:
                    raise _bad(_("old 为 0 时一致性证明须为空"))
            elif not merkle.verify_consistency(
                req.old, cp.size, bytes(wl.root_hash), cp.root, req.proof
            ):
                raise _Refused("the consistency proof does not verify", 422, wl)
            line = cosignature_line(text=cp.text)
            wl.node_id = node_id
            wl.size = cp.size
            wl.root_hash = cp.root
            wl.note = req.note
            wl.save(update_fields=["node_id", "size", "root_hash", "note", "updated_at"])
    except _Refused as refused:
        _refuse_loudly(refused, origin=origin, node_id=node_id, request=request, cp=cp, req=req)
        message = _("检查点与见证方已副署的检查点不一致，拒绝副署（%(reason)s）") % {
            "reason": refused.reason
        }
        if refused.status == 409:
            raise WitnessConflict(refused.size, message, INCONSISTENT_EVENT) from None
        raise DomainError(
            INCONSISTENT_EVENT,
            message,
            status=refused.status,
            details={"size": refused.size},
        ) from None
    log.info("witness cosigned %s at size %s", origin, cp.size)
    return line.encode()


# --- the log side --------------------------------------------------------------------------


def audit_witnesses() -> list[str]:
    """The nodes that witness this node's log (setting TONGBAN_AUDIT_WITNESSES)."""
    return [w for w in settings.TONGBAN_AUDIT_WITNESSES if w != settings.TONGBAN_NODE]


def _witness_url(node_id: str) -> str | None:
    url = Node.objects.filter(node_id=node_id, active=True).values_list("base_url", flat=True)
    base = url.first()
    if base is None and node_id == "hub":
        base = settings.TONGBAN_HUB_URL
    return base.rstrip("/") if base else None


def _last_cosigned_size(witness: str) -> int:
    """The size of this node's latest checkpoint that ``witness`` cosigned (0 if none)."""
    rows = AuditCheckpoint.objects.exclude(cosigned_note="").order_by("-id")
    for size, witnesses in rows.values_list("size", "witnesses")[:500]:
        if witness in (witnesses or []):
            return size
    return 0


def add_checkpoint_body(*, old: int, checkpoint: AuditCheckpoint) -> bytes:
    from tongban.audit.selectors import consistency_proof

    proof = consistency_proof(old, checkpoint.size) if 0 < old <= checkpoint.size else []
    lines = [f"old {old}"] + [base64.b64encode(h).decode() for h in proof]
    return ("\n".join(lines) + "\n\n" + checkpoint.note).encode()


def _push(witness: str, checkpoint: AuditCheckpoint, session) -> str:
    """Ask ``witness`` to cosign; returns its verified cosignature line. Raises on failure."""
    url = _witness_url(witness)
    if url is None:
        raise RuntimeError(f"witness {witness} not in the directory")
    old = _last_cosigned_size(witness)
    for attempt in range(2):
        response = session.post(
            f"{url}/api/v1/audit/witness/add-checkpoint",
            data=add_checkpoint_body(old=old, checkpoint=checkpoint),
            headers={"Content-Type": "text/plain; charset=utf-8"},
            timeout=settings.TONGBAN_EXCHANGE_TIMEOUT_SECONDS,
        )
        if response.status_code == 409 and attempt == 0:
            text = response.text.strip()
            if _SIZE_RE.fullmatch(text) and int(text) != old:
                old = int(text)  # the witness's own record of what it cosigned last
                continue
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}: {response.text[:300]}")
        break
    text = checkpoint.note.partition("\n\n")[0] + "\n"
    keys = node_public_keys(witness)
    for line in response.text.split("\n"):
        if line and cosignature_verify(line, text=text, public_keys=keys) is not None:
            return line
    raise RuntimeError("no cosignature that verifies with the witness's keys")


def audit_checkpoint_witness(
    *, checkpoint: AuditCheckpoint | None = None, session=None
) -> list[str]:
    """Push ``checkpoint`` (this node's latest by default) to each witness that has not
    cosigned it yet, with a consistency proof from the size it cosigned last; keep the
    cosignatures on the checkpoint (cosigned_note, witnesses). Returns the witnesses that
    have cosigned it. A witness that fails or refuses is logged and tried again next time."""
    import requests

    checkpoint = checkpoint or AuditCheckpoint.objects.order_by("-id").first()
    if checkpoint is None:
        return []
    http = session or requests.Session()
    done = set(checkpoint.witnesses or [])
    new_lines: dict[str, str] = {}
    for witness in audit_witnesses():
        if witness in done:
            continue
        try:
            new_lines[witness] = _push(witness, checkpoint, http)
        except Exception as exc:  # noqa: BLE001 — a witness down or refusing: next round
            log.warning(
                "witness %s did not cosign checkpoint %s: %s", witness, checkpoint.size, exc
            )
    if not new_lines:
        return sorted(done)
    with transaction.atomic():
        cp = AuditCheckpoint.objects.select_for_update().get(pk=checkpoint.pk)
        base = cp.cosigned_note or cp.note
        lines = [line for w, line in new_lines.items() if w not in (cp.witnesses or [])]
        cp.cosigned_note = base + "".join(line + "\n" for line in lines)
        cp.witnesses = sorted(set(cp.witnesses or []) | set(new_lines))
        cp.save(update_fields=["cosigned_note", "witnesses"])
    checkpoint.cosigned_note, checkpoint.witnesses = cp.cosigned_note, cp.witnesses
    return list(cp.witnesses)
