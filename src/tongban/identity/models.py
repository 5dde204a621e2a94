"""Accounts: staff of organizations and windows, and natural persons."""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from tongban.identity.masking import mask_id_number, mask_phone
from tongban.identity.pii import decrypt_identifier


class Person(models.Model):
    """A natural person (自然人) known to this node."""

    name = models.CharField(_("姓名"), max_length=64)
    id_number_encrypted = models.CharField(max_length=200)
    id_number_index = models.CharField(max_length=64, unique=True)
    phone_encrypted = models.CharField(max_length=200, blank=True)
    home_node = models.CharField(_("户籍/常住所在节点"), max_length=16, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("自然人")
        verbose_name_plural = _("自然人")

    def __str__(self) -> str:
        return f"{self.name} {self.id_number_masked}"

    @property
    def id_number(self) -> str:
        return decrypt_identifier(self.id_number_encrypted)

    @property
    def id_number_masked(self) -> str:
        return mask_id_number(self.id_number)

    @property
    def phone(self) -> str:
        return decrypt_identifier(self.phone_encrypted)

    @property
    def phone_masked(self) -> str:
        return mask_phone(self.phone)


class User(AbstractUser):
    KIND_CHOICES = [("staff", _("工作人员")), ("person", _("个人用户"))]

    kind = models.CharField(_("类型"), max_length=8, choices=KIND_CHOICES, default="person")
    display_name = models.CharField(_("显示名"), max_length=64, blank=True)
    person = models.OneToOneField(
        Person, null=True, blank=True, on_delete=models.PROTECT, related_name="account"
    )

    class Meta:
        verbose_name = _("账号")
        verbose_name_plural = _("账号")

    def __str__(self) -> str:
        return self.display_name or self.username


class StaffAssignment(models.Model):
    """A staff role at one organization or window of this node."""

    ROLE_CHOICES = [
        ("clerk", _("窗口受理人员")),
        ("official", _("审批人员")),
        ("supervisor", _("监督人员")),
        ("node_admin", _("节点管理员")),
    ]

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="assignments")
    role = models.CharField(_("角色"), max_length=16, choices=ROLE_CHOICES)
    organization = models.ForeignKey(
        "directory.Organization", null=True, blank=True, on_delete=models.PROTECT
    )
    window = models.ForeignKey("directory.Window", null=True, blank=True, on_delete=models.PROTECT)

    class Meta:
        verbose_name = _("岗位")
        verbose_name_plural = _("岗位")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "role", "organization", "window"], name="unique_assignment"
            )
        ]

    def __str__(self) -> str:
        where = self.window or self.organization or ""
        return f"{self.user} · {self.get_role_display()} · {where}"


class ApiToken(models.Model):
    """A bearer token for API clients; only its SM3 digest is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=64)
    prefix = models.CharField(max_length=8)
    key_digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("API 令牌")
        verbose_name_plural = _("API 令牌")

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"
