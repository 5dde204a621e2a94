"""Notices (消息中心): what concerns a person, kept at their home node.

A notice is addressed to a person by the blind index of their 身份证号 and, when
an account of this node asked for what the notice is about (an online
application), to that account too. Who may read it: that account, and any
account whose identity is proven (L3) for that 身份证号 (ADR 0010) — an account
that only proved a phone does not read what others recorded under the number.
The 身份证号 itself is not stored.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Notice(models.Model):
    recipient_index = models.CharField(_("身份证号索引"), max_length=64, blank=True, db_index=True)
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notices",
        verbose_name=_("账号"),
    )
    title = models.CharField(_("标题"), max_length=128)
    text = models.TextField(_("内容"))
    link = models.CharField(_("链接"), max_length=512, blank=True)
    case_number = models.CharField(_("办件编号"), max_length=64, blank=True, db_index=True)
    origin_node = models.CharField(_("来源节点"), max_length=16)
    created_at = models.DateTimeField(_("发送时间"), default=timezone.now)
    read_at = models.DateTimeField(_("阅读时间"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("消息")
        verbose_name_plural = _("消息")

    def __str__(self) -> str:
        return f"{self.case_number or '-'}: {self.title}"

    @property
    def unread(self) -> bool:
        return self.read_at is None
