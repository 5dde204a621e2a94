"""Directory: nodes, their keys, organizations and windows.

On the hub these rows are authoritative and are published as the signed
global configuration. On a node they are a mirror of the last verified
configuration (see ``services.configuration_apply``).
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Node(models.Model):
    ROLE_CHOICES = [("hub", _("枢纽")), ("node", _("省级节点"))]

    node_id = models.CharField(_("节点标识"), max_length=16, unique=True)
    role = models.CharField(_("角色"), max_length=8, choices=ROLE_CHOICES, default="node")
    name = models.CharField(_("名称"), max_length=64)
    app_name = models.CharField(_("服务平台"), max_length=64, blank=True)
    region = models.CharField(_("行政区划代码"), max_length=6, blank=True)
    base_url = models.URLField(_("服务地址"))
    # single sign-on: the node's OpenID Connect issuer and public keys (JWKS)
    oidc_issuer = models.URLField(_("OIDC 签发者"), blank=True)
    oidc_jwks = models.JSONField(_("OIDC 公钥集"), default=dict, blank=True)
    active = models.BooleanField(_("启用"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["node_id"]
        verbose_name = _("节点")
        verbose_name_plural = _("节点")

    def __str__(self) -> str:
        return f"{self.name} ({self.node_id})"


class NodeKey(models.Model):
    """A public SM2 signing key of a node (or of the hub)."""

    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="keys")
    kid = models.CharField(_("密钥标识"), max_length=64, unique=True)
    public_key = models.CharField(_("SM2 公钥"), max_length=130)
    not_before = models.DateTimeField(_("生效时间"))
    not_after = models.DateTimeField(_("失效时间"), null=True, blank=True)
    revoked = models.BooleanField(_("已撤销"), default=False)

    class Meta:
        ordering = ["node", "not_before"]
        verbose_name = _("节点公钥")
        verbose_name_plural = _("节点公钥")

    def __str__(self) -> str:
        return self.kid


class Organization(models.Model):
    code = models.CharField(_("统一社会信用代码"), max_length=18, unique=True)
    name = models.CharField(_("名称"), max_length=128)
    short_name = models.CharField(_("简称"), max_length=64, blank=True)
    region = models.CharField(_("行政区划代码"), max_length=6)
    node = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="organizations")
    kind = models.CharField(_("类别"), max_length=48, blank=True)
    sample = models.BooleanField(_("示例数据"), default=False)
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        ordering = ["node", "region", "name"]
        verbose_name = _("组织机构")
        verbose_name_plural = _("组织机构")

    def __str__(self) -> str:
        return self.name


class Window(models.Model):
    code = models.CharField(_("窗口编码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=128)
    node = models.ForeignKey(Node, on_delete=models.PROTECT, related_name="windows")
    region = models.CharField(_("行政区划代码"), max_length=6)
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="windows")
    address = models.CharField(_("地址"), max_length=200, blank=True)
    sample = models.BooleanField(_("示例数据"), default=False)
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        ordering = ["node", "code"]
        verbose_name = _("服务窗口")
        verbose_name_plural = _("服务窗口")

    def __str__(self) -> str:
        return self.name


class LocalSigningKey(models.Model):
    """This deployment's own SM2 key pair; the private half lives in a file."""

    kid = models.CharField(max_length=64, unique=True)
    public_key = models.CharField(max_length=130)
    created_at = models.DateTimeField(auto_now_add=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("本节点签名密钥")
        verbose_name_plural = _("本节点签名密钥")

    def __str__(self) -> str:
        return self.kid


class TrustAnchor(models.Model):
    """Node side: a hub public key installed out of band (the root of trust)."""

    kid = models.CharField(max_length=64, unique=True)
    public_key = models.CharField(max_length=130)
    installed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("枢纽信任锚")
        verbose_name_plural = _("枢纽信任锚")

    def __str__(self) -> str:
        return self.kid


class ConfigurationPublication(models.Model):
    """Hub side: one signed global configuration, by serial."""

    serial = models.PositiveIntegerField(unique=True)
    document = models.TextField()  # canonical JSON of the signed wrapper
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-serial"]
        verbose_name = _("全局配置发布")
        verbose_name_plural = _("全局配置发布")

    def __str__(self) -> str:
        return f"serial {self.serial}"


class CachedConfiguration(models.Model):
    """Node side: the last verified global configuration received from the hub."""

    serial = models.PositiveIntegerField(unique=True)
    document = models.TextField()
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    fetched_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-serial"]
        verbose_name = _("缓存的全局配置")
        verbose_name_plural = _("缓存的全局配置")

    def __str__(self) -> str:
        return f"serial {self.serial}"


class ConfigurationPoll(models.Model):
    """Node side: outcome of the latest poll of the hub (one row)."""

    last_attempt_at = models.DateTimeField(null=True)
    last_success_at = models.DateTimeField(null=True)
    last_error = models.CharField(max_length=300, blank=True)

    def __str__(self) -> str:
        return f"poll at {self.last_attempt_at}"
