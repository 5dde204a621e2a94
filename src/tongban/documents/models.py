from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class DocumentStatus(models.TextChoices):
    VALID = "valid", _("有效")
    REVOKED = "revoked", _("已撤销")
    SUPERSEDED = "superseded", _("已被新文书取代")


class IssuedDocument(models.Model):
    """A signed document record (formats.py). ``is_local``: issued by this node; otherwise a
    copy held here (e.g. the receiving node's copy of the deciding node's 决定书), whose
    authoritative status is at the issuer."""

    document_id = models.CharField(_("文书标识"), max_length=40, unique=True)
    kind = models.CharField(_("文书类别"), max_length=32)
    title = models.CharField(_("标题"), max_length=128)
    doc_number = models.CharField(_("文号"), max_length=96, blank=True)
    case_number = models.CharField(_("办件编号"), max_length=64, blank=True, db_index=True)
    licence_identifier = models.CharField(_("电子证照标识"), max_length=96, blank=True)
    issuer_node = models.CharField(_("签发节点"), max_length=16)
    issuer_code = models.CharField(_("签发机构代码"), max_length=18)
    issuer_name = models.CharField(_("签发机构"), max_length=128)
    record = models.JSONField()
    digest = models.CharField(max_length=64)
    signature = models.JSONField()  # {"alg", "kid", "value"} over formats.statement(...)
    issued_at = models.DateTimeField()
    is_local = models.BooleanField(default=True)
    status = models.CharField(
        _("状态"), max_length=16, choices=DocumentStatus.choices, default=DocumentStatus.VALID
    )
    status_reason = models.CharField(_("状态说明"), max_length=200, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    superseded_by = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["issued_at", "id"]
        verbose_name = _("文书")
        verbose_name_plural = _("文书")

    def __str__(self) -> str:
        return f"{self.title} {self.document_id}"
