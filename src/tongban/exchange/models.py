"""The exchange: transactional outbox, idempotent inbox, hash-chained message log."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class OutboxMessage(models.Model):
    STATUS_CHOICES = [
        ("pending", _("待投递")),
        ("delivered", _("已投递")),
        ("rejected", _("被拒收")),
    ]

    message_id = models.CharField(max_length=36, unique=True)
    type = models.CharField(max_length=32)
    recipient = models.CharField(max_length=16)
    correlation = models.CharField(max_length=64, db_index=True)
    seq = models.PositiveIntegerField()
    envelope = models.TextField()  # JSON text, signed part + signature + blobs
    request_sm3 = models.CharField(max_length=64)
    status = models.CharField(max_length=12, choices=STATUS_CHOICES, default="pending")
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    leased_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    receipt = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # the four operational timestamps (request out/in, response out/in)
    request_out_at = models.DateTimeField(null=True, blank=True)
    request_in_at = models.DateTimeField(null=True, blank=True)
    response_out_at = models.DateTimeField(null=True, blank=True)
    response_in_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="outbox_due")]
        verbose_name = _("发件箱")
        verbose_name_plural = _("发件箱")

    def __str__(self) -> str:
        return f"{self.type} → {self.recipient} #{self.seq} {self.message_id}"


class SequenceCounter(models.Model):
    """Per (recipient, correlation) sequence numbers for outgoing envelopes."""

    recipient = models.CharField(max_length=16)
    correlation = models.CharField(max_length=64)
    last_seq = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["recipient", "correlation"], name="unique_out_sequence")
        ]

    def __str__(self) -> str:
        return f"{self.recipient}/{self.correlation}: {self.last_seq}"


class InboxMessage(models.Model):
    STATUS_CHOICES = [
        ("applied", _("已处理")),
        ("pending", _("等待前序消息")),
        ("refused", _("业务拒绝")),
    ]

    message_id = models.CharField(max_length=36, unique=True)
    type = models.CharField(max_length=32)
    sender = models.CharField(max_length=16)
    correlation = models.CharField(max_length=64, db_index=True)
    seq = models.PositiveIntegerField()
    envelope = models.TextField()
    request_sm3 = models.CharField(max_length=64)
    status = models.CharField(max_length=12, choices=STATUS_CHOICES)
    refusal_code = models.CharField(max_length=48, blank=True)
    receipt = models.TextField(blank=True)
    request_in_at = models.DateTimeField()
    response_out_at = models.DateTimeField(null=True, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("收件箱")
        verbose_name_plural = _("收件箱")

    def __str__(self) -> str:
        return f"{self.type} ← {self.sender} #{self.seq} {self.message_id}"


class CorrelationCursor(models.Model):
    """The last sequence number applied per (sender, correlation)."""

    sender = models.CharField(max_length=16)
    correlation = models.CharField(max_length=64)
    last_applied_seq = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sender", "correlation"], name="unique_in_cursor")
        ]

    def __str__(self) -> str:
        return f"{self.sender}/{self.correlation}: {self.last_applied_seq}"


class MessageLogEntry(models.Model):
    """Hash-chained log of every envelope, receipt and rejection, in and out."""

    DIRECTION_CHOICES = [("out", _("发出")), ("in", _("收到"))]
    KIND_CHOICES = [("envelope", _("信封")), ("receipt", _("回执")), ("rejection", _("拒收"))]

    position = models.PositiveBigIntegerField(unique=True)
    direction = models.CharField(max_length=3, choices=DIRECTION_CHOICES)
    kind = models.CharField(max_length=10, choices=KIND_CHOICES)
    message_id = models.CharField(max_length=36, db_index=True)
    peer = models.CharField(max_length=16)
    type = models.CharField(max_length=32)
    code = models.CharField(max_length=48, blank=True)
    content_sm3 = models.CharField(max_length=64)
    prev_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64)
    at = models.DateTimeField()

    class Meta:
        ordering = ["position"]
        verbose_name = _("消息日志")
        verbose_name_plural = _("消息日志")

    def __str__(self) -> str:
        return f"#{self.position} {self.direction} {self.kind} {self.message_id}"


class MessageLogHead(models.Model):
    """One row, locked to append to the chain without races."""

    position = models.PositiveBigIntegerField(default=0)
    entry_hash = models.CharField(max_length=64, default="0" * 64)

    def __str__(self) -> str:
        return f"head #{self.position}"
