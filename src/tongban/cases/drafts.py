"""Application drafts (草稿): accepted files kept across a failed submit, and saved answers.

A form that comes back with errors keeps every file that passed its checks:
the file is stored under its SM3 (as case materials are) and listed on the
draft, whose token travels in a hidden field of the form. The next submit
only sends what is still missing or to be replaced; on success the draft's
files become the case's materials and the draft is deleted.

Window drafts (and online drafts kept only by a failed submit) live 24 hours;
an online draft the applicant saved (保存草稿) lives 30 days and is listed on the
item's page. Expired drafts are purged whenever a draft is opened, and by
``draft_purge_expired`` (a file is removed only when no case and no other draft
refers to it).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from tongban.cases.materials import CheckedFile, IncomingFile, material_read, material_store
from tongban.cases.models import ApplicationDraft, CaseMaterial, DraftFile
from tongban.identity.pii import decrypt_at_rest, encrypt_at_rest

WINDOW_DRAFT_LIFETIME = dt.timedelta(hours=24)
ONLINE_DRAFT_LIFETIME = dt.timedelta(days=30)
TOKEN_BYTES = 24


@dataclass
class DraftFileView:
    material_code: str
    filename: str
    size: int
    sm3: str

    @property
    def size_label(self) -> str:
        return size_label(self.size)


def size_label(size: int) -> str:
    """10.6 KB, 2.3 MB, 512 B."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    if size >= 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size} B"


def _lifetime(channel: str, saved: bool) -> dt.timedelta:
    return ONLINE_DRAFT_LIFETIME if channel == "online" and saved else WINDOW_DRAFT_LIFETIME


def draft_find(*, user, item, channel: str, token: str) -> ApplicationDraft | None:
    """The caller's live draft for this item with this token, or None."""
    token = (token or "").strip()
    if not token or len(token) > 64 or not getattr(user, "pk", None):
        return None
    return (
        ApplicationDraft.objects.filter(
            token=token, user=user, item=item, channel=channel, expires_at__gt=timezone.now()
        )
        .prefetch_related("files")
        .first()
    )


def draft_open(*, user, item, channel: str, token: str = "") -> ApplicationDraft:
    """The draft named by ``token`` if it is the caller's and still live; else a new one."""
    draft = draft_find(user=user, item=item, channel=channel, token=token)
    if draft is not None:
        return draft
    draft_purge_expired()
    now = timezone.now()
    return ApplicationDraft.objects.create(
        token=secrets.token_urlsafe(TOKEN_BYTES),
        user=user,
        item=item,
        channel=channel,
        created_at=now,
        updated_at=now,
        expires_at=now + _lifetime(channel, False),
    )


def draft_file_put(*, draft: ApplicationDraft, checked: CheckedFile) -> DraftFile:
    """Keep an accepted file on the draft (replacing an earlier file for that material)."""
    now = timezone.now()
    path = material_store(checked.content, checked.sm3)
    with transaction.atomic():
        row, _created = DraftFile.objects.update_or_create(
            draft=draft,
            material_code=checked.material_code,
            defaults={
                "filename": checked.filename[:128],
                "media_type": checked.media_type,
                "size": len(checked.content),
                "sm3": checked.sm3,
                "storage_path": path,
                "uploaded_at": now,
            },
        )
        ApplicationDraft.objects.filter(pk=draft.pk).update(updated_at=now)
    return row


def draft_file_remove(*, draft: ApplicationDraft, material_code: str) -> None:
    DraftFile.objects.filter(draft=draft, material_code=material_code).delete()


def draft_files_drop(*, draft: ApplicationDraft, data, files, materials) -> None:
    """移除: the applicant unticked a kept optional file (and chose no new one)."""
    for material in materials:
        if (
            not material.required
            and data.get(f"drop_{material.code}")
            and not files.get(f"m_{material.code}")
        ):
            draft_file_remove(draft=draft, material_code=material.code)


def draft_file_views(draft: ApplicationDraft | None) -> dict[str, DraftFileView]:
    if draft is None or draft.pk is None:
        return {}
    return {
        f.material_code: DraftFileView(f.material_code, f.filename, f.size, f.sm3)
        for f in DraftFile.objects.filter(draft=draft)
    }


def draft_incoming(draft: ApplicationDraft) -> list[IncomingFile]:
    """The draft's files as uploads for the submitting service (read back from the store)."""
    return [
        IncomingFile(
            material_code=f.material_code,
            filename=f.filename,
            content=material_read(f.storage_path),
        )
        for f in DraftFile.objects.filter(draft=draft).order_by("material_code")
    ]


def draft_save(*, draft: ApplicationDraft, data: dict) -> ApplicationDraft:
    """保存草稿: keep the answers (encrypted) and list the draft; it now lives 30 days."""
    now = timezone.now()
    draft.data_encrypted = encrypt_at_rest(json.dumps(data, ensure_ascii=False))
    draft.saved = True
    draft.updated_at = now
    draft.expires_at = now + _lifetime(draft.channel, True)
    draft.save(update_fields=["data_encrypted", "saved", "updated_at", "expires_at"])
    return draft


def draft_data(draft: ApplicationDraft | None) -> dict:
    if draft is None or not draft.data_encrypted:
        return {}
    try:
        data = json.loads(decrypt_at_rest(draft.data_encrypted))
    except (ValueError, KeyError):
        return {}
    return data if isinstance(data, dict) else {}


def drafts_saved(*, user, item=None) -> list[ApplicationDraft]:
    """我的草稿: the caller's saved online drafts, newest first."""
    if not getattr(user, "pk", None):
        return []
    rows = (
        ApplicationDraft.objects.filter(
            user=user, channel="online", saved=True, expires_at__gt=timezone.now()
        )
        .select_related("item")
        .annotate(file_count=Count("files"))
    )
    if item is not None:
        rows = rows.filter(item=item)
    return list(rows.order_by("-updated_at")[:20])


def _unlink_unreferenced(paths: set[str]) -> None:
    if not paths:
        return
    used = set(
        CaseMaterial.objects.filter(storage_path__in=paths).values_list("storage_path", flat=True)
    ) | set(DraftFile.objects.filter(storage_path__in=paths).values_list("storage_path", flat=True))
    for relative in paths - used:
        with contextlib.suppress(OSError):
            (settings.TONGBAN_MEDIA_DIR / relative).unlink()


def draft_discard(*, draft: ApplicationDraft, keep_files: bool = False) -> None:
    """Delete a draft. ``keep_files``: its files became a case's materials."""
    paths = set(DraftFile.objects.filter(draft=draft).values_list("storage_path", flat=True))
    draft.delete()
    if not keep_files:
        _unlink_unreferenced(paths)


def draft_purge_expired(now: dt.datetime | None = None) -> int:
    """Delete expired drafts and the stored files nobody else refers to."""
    expired = ApplicationDraft.objects.filter(expires_at__lte=now or timezone.now())
    paths = set(DraftFile.objects.filter(draft__in=expired).values_list("storage_path", flat=True))
    count = expired.count()
    expired.delete()
    _unlink_unreferenced(paths)
    return count
