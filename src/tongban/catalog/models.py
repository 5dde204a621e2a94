"""The shared service-item catalog (事项清单), released quarterly by the hub."""

from django.db import models
from django.utils.translation import gettext_lazy as _

AUDIENCE_CHOICES = [("enterprise", _("法人")), ("personal", _("个人"))]
MODE_CHOICES = [
    ("online", _("全程网办")),
    ("proxy", _("异地代收代办")),
    ("joint", _("多地联办")),
]
ASSURANCE_CHOICES = [("L1", "L1"), ("L2", "L2"), ("L3", "L3")]


class Release(models.Model):
    version = models.CharField(_("版本"), max_length=16, unique=True)
    published_on = models.DateField(_("发布日期"))
    sm3 = models.CharField(_("SM3 摘要"), max_length=64)
    document = models.TextField()  # canonical JSON as published
    current = models.BooleanField(_("当前版本"), default=False)
    imported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]
        verbose_name = _("事项清单版本")
        verbose_name_plural = _("事项清单版本")

    def __str__(self) -> str:
        return self.version


class ServiceItem(models.Model):
    basic_code = models.CharField(_("基本编码"), max_length=12, unique=True)
    name = models.CharField(_("事项名称"), max_length=128)
    audience = models.CharField(_("服务对象"), max_length=12, choices=AUDIENCE_CHOICES)
    area = models.CharField(_("主题领域"), max_length=16)
    mode = models.CharField(_("办理模式"), max_length=8, choices=MODE_CHOICES)
    legal_limit_days = models.PositiveSmallIntegerField(_("法定办结时限（工作日）"))
    promised_limit_days = models.PositiveSmallIntegerField(_("承诺办结时限（工作日）"))
    fee = models.CharField(_("收费"), max_length=128, default="不收费")
    min_assurance = models.CharField(
        _("最低实名等级"), max_length=2, choices=ASSURANCE_CHOICES, default="L2"
    )
    result_kind = models.CharField(_("办理结果"), max_length=24, default="certificate")
    # what the item yields and what it says (catalog/results.py)
    result = models.JSONField(_("结果声明"), default=dict, blank=True)
    # 接续办: the ordered stages of a relay item; 集成办: the parts of a bundle ("一件事")
    # (catalog/composition.py); at most one of them is non-empty
    stages = models.JSONField(_("接续环节"), default=list, blank=True)
    parts = models.JSONField(_("集成事项"), default=list, blank=True)
    form_schema = models.JSONField(_("申请表"), default=list)
    keywords = models.JSONField(_("关键词"), default=list)
    guide = models.TextField(_("办事指南"), blank=True)
    search_text = models.TextField(blank=True)
    sample = models.BooleanField(_("示例数据"), default=False)
    release = models.ForeignKey(Release, on_delete=models.PROTECT, related_name="items")
    active = models.BooleanField(_("有效"), default=True)

    class Meta:
        ordering = ["basic_code"]
        verbose_name = _("事项")
        verbose_name_plural = _("事项")

    def __str__(self) -> str:
        return self.name


class Material(models.Model):
    item = models.ForeignKey(ServiceItem, on_delete=models.CASCADE, related_name="materials")
    code = models.CharField(_("材料编码"), max_length=8)
    name = models.CharField(_("材料名称"), max_length=128)
    required = models.BooleanField(_("必须"), default=True)
    file_types = models.JSONField(_("可接受的文件类型"), default=list)
    max_size_mb = models.PositiveSmallIntegerField(default=10)
    licence_type = models.CharField(_("可替代的电子证照"), max_length=64, blank=True)
    # 可由数据共享核验替代: "<dataset code>.<field>[,<field>…]" (docs/data-sharing.md)
    data_check = models.CharField(_("可由数据共享核验替代"), max_length=300, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["item", "position"]
        constraints = [models.UniqueConstraint(fields=["item", "code"], name="unique_material")]
        verbose_name = _("申请材料")
        verbose_name_plural = _("申请材料")

    def __str__(self) -> str:
        return self.name


class Implementation(models.Model):
    """An organization that decides the item in one region (实施清单)."""

    item = models.ForeignKey(ServiceItem, on_delete=models.CASCADE, related_name="implementations")
    organization = models.ForeignKey(
        "directory.Organization", to_field="code", on_delete=models.PROTECT
    )
    region = models.CharField(_("行政区划代码"), max_length=6)
    code = models.CharField(_("实施编码"), max_length=31, unique=True)

    class Meta:
        ordering = ["item", "region"]
        verbose_name = _("实施主体")
        verbose_name_plural = _("实施主体")

    def __str__(self) -> str:
        return self.code
