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


ASSURANCE_CHOICES = [
    ("L1", _("L1 自助注册，未核验")),
    ("L2", _("L2 实名信息核验 + 手机验证")),
    ("L3", _("L3 当面核验或国家平台认证")),
]


class User(AbstractUser):
    KIND_CHOICES = [("staff", _("工作人员")), ("person", _("个人用户"))]

    kind = models.CharField(_("类型"), max_length=8, choices=KIND_CHOICES, default="person")
    display_name = models.CharField(_("显示名"), max_length=64, blank=True)
    person = models.OneToOneField(
        Person, null=True, blank=True, on_delete=models.PROTECT, related_name="account"
    )
    assurance = models.CharField(
        _("实名等级"), max_length=2, choices=ASSURANCE_CHOICES, default="L1"
    )
    # Accounts signed in through another node (single sign-on) or an upstream
    # identity provider: who vouched for them. Empty for local accounts.
    federated_issuer = models.CharField(max_length=200, blank=True)
    federated_subject = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = _("账号")
        verbose_name_plural = _("账号")
        constraints = [
            models.UniqueConstraint(
                fields=["federated_issuer", "federated_subject"],
                condition=~models.Q(federated_issuer=""),
                name="unique_federated_identity",
            )
        ]

    def __str__(self) -> str:
        return self.display_name or self.username


class StaffAssignment(models.Model):
    """A staff role at one organization or window of this node."""

    ROLE_CHOICES = [
        ("clerk", _("窗口受理人员")),
        ("official", _("审批人员")),
        ("supervisor", _("监督人员")),
        ("data_officer", _("数据专员")),
        ("node_admin", _("节点管理员")),
        ("hub_admin", _("枢纽管理员")),
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
    scopes = models.JSONField(_("权限范围"), default=list)
    auth_method = models.CharField(_("认证方式"), max_length=32, default="password")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("API 令牌")
        verbose_name_plural = _("API 令牌")

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"


class Enterprise(models.Model):
    """A legal person (法人) keyed by its 统一社会信用代码."""

    code = models.CharField(_("统一社会信用代码"), max_length=18, unique=True)
    name = models.CharField(_("名称"), max_length=128)
    legal_representative = models.ForeignKey(
        Person, on_delete=models.PROTECT, related_name="represented_enterprises"
    )
    home_node = models.CharField(max_length=16)
    # the account that registered it here (online registration, or the account whose
    # application created it); it may manage the enterprise without an in-person check
    registered_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("法人")
        verbose_name_plural = _("法人")

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）"


class AgentAuthorization(models.Model):
    """经办人授权: the legal representative lets a person act for the enterprise."""

    enterprise = models.ForeignKey(
        Enterprise, on_delete=models.CASCADE, related_name="authorizations"
    )
    agent = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="agent_authorizations")
    item_codes = models.JSONField(_("授权事项（空为全部）"), default=list)
    granted_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    granted_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(_("有效期至"))
    revoked_at = models.DateTimeField(null=True, blank=True)
    # {"document": tongban-agent-authorization/1, "signature": SM2 of this node}
    # (docs/exchange-protocol.md §10.1); {} until signed
    signed = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-granted_at"]
        verbose_name = _("经办人授权")
        verbose_name_plural = _("经办人授权")

    def __str__(self) -> str:
        return f"{self.enterprise} → {self.agent.name}"

    def covers(self, item_code: str, at) -> bool:
        return (
            self.revoked_at is None
            and self.expires_at > at
            and (not self.item_codes or item_code in self.item_codes)
        )


class OneTimeCode(models.Model):
    """A one-time code sent by SMS; only its SM3 digest is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    purpose = models.CharField(max_length=16)
    code_digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.purpose} code for {self.user_id}"


class SecurityEvent(models.Model):
    """The security log: sign-ins, lockouts, refused assertions, bad codes (identifiers masked)."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    kind = models.CharField(max_length=48, db_index=True)
    username = models.CharField(max_length=150, blank=True)
    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ip = models.GenericIPAddressField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at"]
        verbose_name = _("安全日志")
        verbose_name_plural = _("安全日志")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.kind} {self.username}"
