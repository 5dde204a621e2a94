"""The append-only Merkle audit log (RFC 9162 tree hashing with SM3).

Rows are only ever inserted (services.audit_append); nothing updates or deletes them.
``AuditNode`` caches the hash of every complete subtree of two or more leaves, filled on
append, so a root or a proof reads O(log n) rows."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditLeaf(models.Model):
    class Kind(models.TextChoices):
        MESSAGE_LOG = "message_log", _("报文日志")
        SECURITY_EVENT = "security_event", _("安全事件")
        DATA_USE = "data_use", _("数据使用")

    index = models.BigIntegerField(unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    entry = models.BinaryField()  # RFC 8785 canonical JSON of the entry: the leaf's data
    leaf_hash = models.BinaryField(max_length=32)  # SM3(0x00 || entry)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["index"]
        verbose_name = _("审计日志条目")

    def __str__(self) -> str:
        return f"{self.index} {self.kind}"


class AuditNode(models.Model):
    """Hash of the complete subtree of leaves [index·2^level, (index+1)·2^level), level ≥ 1."""

    level = models.SmallIntegerField()
    index = models.BigIntegerField()
    hash = models.BinaryField(max_length=32)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["level", "index"], name="audit_node_level_index")
        ]

    def __str__(self) -> str:
        return f"{self.level}/{self.index}"


class AuditHead(models.Model):
    """The single row locked by every append: the tree size."""

    size = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"size {self.size}"


class AuditCheckpoint(models.Model):
    """A signed C2SP tlog-checkpoint note of this node's log (docs/exchange-protocol.md §16)."""

    size = models.BigIntegerField()
    root_hash = models.BinaryField(max_length=32)
    note = models.TextField()  # the whole signed note, as served
    # the note with the witnesses' cosignature lines added, once they cosigned
    cosigned_note = models.TextField(blank=True)
    witnesses = models.JSONField(default=list)  # names of the witnesses that cosigned
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("审计日志检查点")

    def __str__(self) -> str:
        return f"checkpoint {self.size}"


class WitnessedLog(models.Model):
    """At a witness: the latest checkpoint of another node's log that it cosigned."""

    origin = models.CharField(max_length=100, unique=True)
    node_id = models.CharField(max_length=16)
    size = models.BigIntegerField()
    root_hash = models.BinaryField(max_length=32)
    note = models.TextField()  # the log's checkpoint as cosigned
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("见证的审计日志")

    def __str__(self) -> str:
        return f"{self.origin} {self.size}"
