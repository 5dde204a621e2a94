"""The sharing catalog (政务数据共享清单目录) as this node holds it, and sample rows.

Dataset, DatasetField and SharingAuthorization are mirrored from the hub's signed
global configuration (its "sharing" section, docs/data-sharing.md); nobody edits
them at a node. SampleRecord holds the demo rows a node's SampleTableProvider
answers from (sample data, encrypted at rest)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

SHARING_TYPES = [
    ("无条件", _("无条件共享")),
    ("有条件", _("有条件共享")),
    ("不予共享", _("不予共享")),
]
CLASSIFICATIONS = [("一般", _("一般数据")), ("重要", _("重要数据")), ("核心", _("核心数据"))]
SUBJECTS = [("person", _("自然人")), ("enterprise", _("法人"))]
FIELD_TYPES = ["string", "date", "integer", "decimal", "boolean"]
ANY_ORGANIZATION = "*"


class Dataset(models.Model):
    code = models.CharField(_("数据集编码"), max_length=64, primary_key=True)
    name = models.CharField(_("数据集名称"), max_length=128)
    node = models.ForeignKey(
        "directory.Node",
        to_field="node_id",
        on_delete=models.PROTECT,
        related_name="datasets",
        verbose_name=_("节点"),
    )
    organization = models.ForeignKey(
        "directory.Organization",
        to_field="code",
        on_delete=models.PROTECT,
        related_name="datasets",
        verbose_name=_("数源部门"),
    )
    subject = models.CharField(_("数据主体"), max_length=16, choices=SUBJECTS)
    sharing_type = models.CharField(_("共享类型"), max_length=8, choices=SHARING_TYPES)
    description = models.CharField(_("说明"), max_length=300, blank=True)
    sample = models.BooleanField(_("示例数据"), default=False)
    active = models.BooleanField(_("有效"), default=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("共享数据集")
        verbose_name_plural = _("共享数据集")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class DatasetField(models.Model):
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="fields")
    key = models.CharField(_("字段"), max_length=64)
    label = models.CharField(_("字段名称"), max_length=64)
    type = models.CharField(_("类型"), max_length=16)
    classification = models.CharField(_("数据分级"), max_length=4, choices=CLASSIFICATIONS)
    personal = models.BooleanField(_("个人信息"), default=False)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["dataset", "position"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "key"], name="sharing_field_unique_key")
        ]

    def __str__(self) -> str:
        return f"{self.dataset_id}.{self.key}"


class SharingAuthorization(models.Model):
    """Which item, at which organization ("*": any in the region), may read which
    fields of a dataset, for what purpose, on what legal basis (or with consent)."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="authorizations")
    item_code = models.CharField(_("事项基本编码"), max_length=12)
    organization_code = models.CharField(_("使用部门"), max_length=18)
    fields = models.JSONField(_("授权字段"), default=list)
    purpose = models.CharField(_("使用目的"), max_length=200)
    legal_basis = models.CharField(_("法律依据"), max_length=300, blank=True)
    consent_required = models.BooleanField(_("需本人同意"), default=False)
    sample = models.BooleanField(_("示例数据"), default=False)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["dataset", "position"]
        indexes = [models.Index(fields=["dataset", "item_code"], name="sharing_auth_item")]

    def __str__(self) -> str:
        return f"{self.dataset_id} ← {self.item_code}@{self.organization_code}"


class SampleRecord(models.Model):
    """A sample row served by SampleTableProvider (生成的示例数据, not real records)."""

    dataset_code = models.CharField(max_length=64)
    subject_index = models.CharField(max_length=64)  # tongban.identity.pii.blind_index
    data = models.TextField()  # encrypted JSON object (tongban.identity.pii.encrypt_at_rest)
    sample = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["dataset_code", "subject_index"], name="sharing_sample_unique_subject"
            )
        ]

    def __str__(self) -> str:
        return f"{self.dataset_code} (sample)"
