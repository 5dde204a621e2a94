"""Uploaded materials: type sniffing, size limits, SM3 digests, content-addressed storage."""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import filetype
from django.conf import settings
from django.utils.translation import gettext as _

from tongban.errors import DomainError
from tongban.gm.sm3 import sm3_hex

MEDIA_TYPES = {"pdf": "application/pdf", "jpg": "image/jpeg", "png": "image/png"}
EXTENSIONS = {v: k for k, v in MEDIA_TYPES.items()}
FILENAME_MAX_CHARS = 100
FILENAME_MAX_EXTENSION_CHARS = 10


def filename_normalize(name: str | None) -> str:
    """The one form in which an uploaded file's name is stored and shown (API base64
    uploads and page multipart uploads both pass through material_check): NFC; no control,
    format (bidi overrides, zero-width) or separator characters other than the plain
    space; only the last path component (``/`` and ``\\``); no leading dots; at most
    100 characters, keeping the extension. May be empty (the caller names it then)."""
    text = unicodedata.normalize("NFC", str(name or ""))
    kept = []
    for ch in text:
        category = unicodedata.category(ch)
        if category[0] == "C" or (category[0] == "Z" and ch != " "):
            continue  # Cc control, Cf format (U+202E, U+200B…), Cs, Co, Cn; Zl/Zp/odd spaces
        kept.append(ch)
    text = "".join(kept).replace("\\", "/").rsplit("/", 1)[-1]
    text = " ".join(text.split()).lstrip(". ")
    if len(text) > FILENAME_MAX_CHARS:
        stem, dot, ext = text.rpartition(".")
        if dot and stem and 0 < len(ext) <= FILENAME_MAX_EXTENSION_CHARS:
            text = stem[: FILENAME_MAX_CHARS - len(ext) - 1].rstrip() + "." + ext
        else:
            text = text[:FILENAME_MAX_CHARS].rstrip()
    return text


@dataclass
class IncomingFile:
    material_code: str
    filename: str
    content: bytes


@dataclass
class CheckedFile:
    material_code: str
    name: str
    filename: str
    media_type: str
    content: bytes
    sm3: str


def sniff_media_type(content: bytes) -> str | None:
    kind = filetype.guess(content)
    if kind is None:
        return None
    return kind.mime if kind.mime in EXTENSIONS else None


def material_check(*, material, upload: IncomingFile) -> CheckedFile:
    """Check one upload against the catalog's material rules."""
    limit = min(material.max_size_mb * 1024 * 1024, settings.TONGBAN_MATERIAL_MAX_BYTES)
    if not upload.content:
        raise DomainError("empty_file", _("材料“%(name)s”的文件为空") % {"name": material.name})
    if len(upload.content) > limit:
        raise DomainError(
            "file_too_large",
            _("材料“%(name)s”超过大小上限 %(mb)s MB")
            % {"name": material.name, "mb": limit // (1024 * 1024)},
            status=413,
        )
    media_type = sniff_media_type(upload.content)
    allowed = {MEDIA_TYPES[t] for t in material.file_types if t in MEDIA_TYPES}
    if media_type not in allowed:
        raise DomainError(
            "file_type_not_accepted",
            _("材料“%(name)s”只接受 %(types)s 文件")
            % {
                "name": material.name,
                "types": "/".join(t.upper() for t in material.file_types),
            },
            status=415,
        )
    filename = filename_normalize(upload.filename) or f"{material.code}.{EXTENSIONS[media_type]}"
    return CheckedFile(
        material_code=material.code,
        name=material.name,
        filename=filename,
        media_type=media_type,
        content=upload.content,
        sm3=sm3_hex(upload.content),
    )


def material_store(content: bytes, digest: str) -> str:
    """Write content under its SM3 digest (idempotent); returns the relative path."""
    relative = Path("materials") / digest[:2] / digest
    path = settings.TONGBAN_MEDIA_DIR / relative
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(content)
        os.replace(tmp, path)
    return str(relative)


def material_read(relative: str) -> bytes:
    return (settings.TONGBAN_MEDIA_DIR / relative).read_bytes()
