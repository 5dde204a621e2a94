"""C2SP tlog-checkpoint notes signed with the node's SM2 key (docs/exchange-protocol.md §16).

    <origin>\n<tree size>\n<base64 root hash>\n          ← the note text (signed bytes)
    \n
    — <key name> <base64(key ID || DER SM2 signature)>\n

The key name is the origin; the key ID is the first 4 bytes of
SM3(key name || 0x0A || 0xFF || "tongban-sm2-sm3" || 65-byte uncompressed public key):
0xFF is signed-note's byte for signature types it does not assign, followed by a longer
identifier as the specification recommends."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from django.conf import settings

from tongban.directory.signing import active_signing_key
from tongban.gm import sm2
from tongban.gm.sm3 import sm3_digest

SIGNATURE_TYPE = b"\xfftongban-sm2-sm3"
EM_DASH = "\u2014"


def log_origin(node_id: str | None = None) -> str:
    return f"tongban/{node_id or settings.TONGBAN_NODE}/audit"


def key_id(key_name: str, public_key_hex: str) -> bytes:
    return sm3_digest(key_name.encode() + b"\n" + SIGNATURE_TYPE + bytes.fromhex(public_key_hex))[
        :4
    ]


def checkpoint_text(*, origin: str, size: int, root: bytes) -> str:
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


def checkpoint_note(*, size: int, root: bytes) -> str:
    """The note text for this node's log, signed with its active SM2 key."""
    origin = log_origin()
    text = checkpoint_text(origin=origin, size=size, root=root)
    _kid, key = active_signing_key()
    signature = key_id(origin, key.public_key_hex) + key.sign(text.encode())
    return f"{text}\n{EM_DASH} {origin} {base64.b64encode(signature).decode()}\n"


class CheckpointError(ValueError):
    pass


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    text: str


def checkpoint_open(note: str, *, public_key_hex: str, origin: str | None = None) -> Checkpoint:
    """Parse a signed checkpoint note and verify its signature by ``public_key_hex`` under
    the key name ``origin`` (the note's own origin when None). Raises CheckpointError."""
    text, sep, sigs = note.partition("\n\n")
    if not sep or not text or any(ord(c) < 0x20 and c != "\n" for c in note):
        raise CheckpointError("not a signed note")
    text += "\n"
    lines = text.split("\n")[:-1]
    if len(lines) < 3:
        raise CheckpointError("checkpoint text needs origin, size and root hash")
    note_origin, size_s, root_b64 = lines[0], lines[1], lines[2]
    if origin is not None and note_origin != origin:
        raise CheckpointError("checkpoint of another log")
    if not size_s.isascii() or not size_s.isdigit() or (size_s != "0" and size_s[0] == "0"):
        raise CheckpointError("bad tree size")
    try:
        root = base64.b64decode(root_b64, validate=True)
    except binascii.Error as exc:
        raise CheckpointError("bad root hash") from exc
    if len(root) != 32:
        raise CheckpointError("bad root hash")
    wanted = key_id(note_origin, public_key_hex)
    verified = False
    for line in sigs.split("\n"):
        if not line:
            continue
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != EM_DASH:
            raise CheckpointError("bad signature line")
        try:
            raw = base64.b64decode(parts[2], validate=True)
        except binascii.Error as exc:
            raise CheckpointError("bad signature line") from exc
        if parts[1] != note_origin or raw[:4] != wanted:
            continue  # another key's signature (e.g. a witness cosignature)
        if not sm2.verify(public_key_hex, text.encode(), raw[4:]):
            raise CheckpointError("signature does not verify")
        verified = True
    if not verified:
        raise CheckpointError("no signature by the log's key")
    return Checkpoint(origin=note_origin, size=int(size_s), root=root, text=text)
