"""电子证照: the type registry (hub, mirrored on nodes), licences an authority
issued here, the holder's wallet at their home node, status lists, and counters."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from tongban.identity.masking import mask_id_number

HOLDER_TYPES = [("person", _("自然人")), ("enterprise", _("法人"))]


class LicenceType(models.Model):
    """A kind of e-licence with its face-data schema and mutual-recognition row.

    Kept by the hub and carried to every node in the signed global configuration.
    """

    code = models.CharField(_("证照类型代码"), max_length=21, unique=True)
    name = models.CharField(_("证照类型名称"), max_length=64, unique=True)
    authority_code = models.CharField(_("定义机构代码"), max_length=18)
    authority_name = models.CharField(_("定义机构"), max_length=64)
    holder_type = models.CharField(_("持证主体类型"), max_length=12, choices=HOLDER_TYPES)
    fields = models.JSONField(_("照面信息项"), default=list)
    validity_years = models.PositiveSmallIntegerField(_("有效期（年）"), null=True, blank=True)
    status_max_age_seconds = models.PositiveIntegerField(_("状态列表最长缓存（秒）"))
    # {"sh": ["government_service", "on_site_check"], ...}
    recognition = models.JSONField(_("互认范围"), default=dict)
    sample = models.BooleanField(default=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("电子证照类型")
        verbose_name_plural = _("电子证照类型")

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）"

    def recognized(self, node_id: str, purpose: str) -> bool:
        return purpose in (self.recognition or {}).get(node_id, [])

    @property
    def identifier_fields(self) -> tuple[str, ...]:
        """Claim keys whose value is, or contains, the holder's 身份证号: a person's
        ``holder_id`` and every face field the registry marks ``"identifier": true``
        (驾驶证 证号, 居民身份证 公民身份号码, 社会保障卡 社会保障号码 …). They are masked
        wherever shown or printed for someone other than the holder, and 亮证 leaves
        them out unless the holder chooses to show them."""
        keys = ("holder_id",) if self.holder_type == "person" else ()
        return keys + tuple(f["key"] for f in self.fields if f.get("identifier"))

    def mask_value(self, key: str, value: object) -> str:
        """``value`` as it may be shown to others: masked when ``key`` is an identifier field."""
        text = "" if value is None else str(value)
        return mask_id_number(text) if key in self.identifier_fields else text

    def masked(self, values: dict) -> dict:
        """A copy of ``{claim key: value}`` with every identifier field masked."""
        return {k: self.mask_value(k, v) for k, v in values.items()}

    def validity_field(self, which: str) -> str:
        """The face field that states the licence's ``valid_from`` or ``valid_to``
        (``"same_as"`` in the registry), or "" when the type has none."""
        return next((f["key"] for f in self.fields if f.get("same_as") == which), "")

    def claim_labels(self) -> dict[str, str]:
        """{key: label} of every claim a licence of this type carries, the holder first."""
        holder_id = _("公民身份号码") if self.holder_type == "person" else _("统一社会信用代码")
        labels = {"holder_name": str(_("持证人")), "holder_id": str(holder_id)}
        labels.update({spec["key"]: spec["label"] for spec in self.fields})
        return labels


class LicenceStatus(models.TextChoices):
    VALID = "valid", _("有效")
    SUSPENDED = "suspended", _("已暂扣")
    REVOKED = "revoked", _("已吊销/注销")
    SUPERSEDED = "superseded", _("已换发")


class Licence(models.Model):
    """A licence one of this node's authorities issued (the issuer's record)."""

    identifier = models.CharField(_("证照标识"), max_length=96, unique=True)
    family = models.CharField(max_length=32, db_index=True)  # shared by all versions
    licence_type = models.ForeignKey(LicenceType, on_delete=models.PROTECT, related_name="+")
    organization = models.ForeignKey(
        "directory.Organization", to_field="code", on_delete=models.PROTECT, related_name="+"
    )
    serial = models.CharField(max_length=16)
    version = models.PositiveSmallIntegerField(default=1)
    holder_name = models.CharField(_("持证主体"), max_length=128)
    holder_id_encrypted = models.CharField(max_length=200)
    holder_id_index = models.CharField(max_length=64, db_index=True)
    holder_home_node = models.CharField(max_length=16)
    issued_on = models.DateField(_("颁证日期"))
    valid_from = models.DateField(_("有效期起"))
    valid_to = models.DateField(_("有效期止"), null=True, blank=True)
    status = models.CharField(
        _("状态"), max_length=12, choices=LicenceStatus.choices, default=LicenceStatus.VALID
    )
    status_index = models.PositiveIntegerField(unique=True)
    status_reason = models.CharField(max_length=200, blank=True)
    status_changed_at = models.DateTimeField(db_index=True)
    payload = models.JSONField()  # the issuer-signed part (digests only)
    signature = models.JSONField()
    disclosures_encrypted = models.TextField()  # SM4-GCM of the JSON list of disclosures
    case_number = models.CharField(max_length=64, blank=True)
    issued_by = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["licence_type", "organization", "serial", "version"],
                name="licence_serial_version",
            )
        ]
        verbose_name = _("电子证照（本节点颁发）")
        verbose_name_plural = _("电子证照（本节点颁发）")

    def __str__(self) -> str:
        return self.identifier


class LicenceSerialCounter(models.Model):
    """流水号 per (type, issuing organization, year), allocated under a row lock."""

    type_code = models.CharField(max_length=21)
    organization_code = models.CharField(max_length=18)
    year = models.PositiveSmallIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["type_code", "organization_code", "year"], name="licence_serial_scope"
            )
        ]

    def __str__(self) -> str:
        return f"{self.type_code}/{self.organization_code}/{self.year}: {self.last}"


class StatusIndexCounter(models.Model):
    """The next free index in this node's status list (one row)."""

    last = models.IntegerField(default=-1)

    def __str__(self) -> str:
        return str(self.last)


class StatusListPublication(models.Model):
    """This node's signed status list as last published."""

    serial = models.PositiveIntegerField(unique=True)
    document = models.TextField()  # canonical JSON {"status_list": {...}, "signature": {...}}
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-serial"]

    def __str__(self) -> str:
        return f"status list #{self.serial}"


class StatusListCache(models.Model):
    """A verified status list of an issuing node, kept for offline verification."""

    node_id = models.CharField(max_length=16, unique=True)
    document = models.TextField()
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    fetched_at = models.DateTimeField()
    last_error = models.CharField(max_length=300, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)  # the last failed fetch

    def __str__(self) -> str:
        return f"{self.node_id} @ {self.issued_at:%Y-%m-%d %H:%M}"


class WalletEntry(models.Model):
    """A licence in a holder's wallet at their home node, fed by the issuing node."""

    identifier = models.CharField(max_length=96, unique=True)
    family = models.CharField(max_length=32, db_index=True)
    holder_id_index = models.CharField(max_length=64, db_index=True)
    holder_type = models.CharField(max_length=12, choices=HOLDER_TYPES)
    type_code = models.CharField(max_length=21)
    type_name = models.CharField(max_length=64)
    issuer_node = models.CharField(max_length=16)
    issuer_code = models.CharField(max_length=18)
    issuer_name = models.CharField(max_length=128)
    version = models.PositiveSmallIntegerField()
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=LicenceStatus.choices)
    status_changed_at = models.DateTimeField()
    payload = models.JSONField()
    signature = models.JSONField()
    disclosures_encrypted = models.TextField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["type_name", "-version"]
        verbose_name = _("证照夹条目")
        verbose_name_plural = _("证照夹")

    def __str__(self) -> str:
        return f"{self.type_name} {self.identifier}"


class LicenceUse(models.Model):
    """用证记录: who used which licence, when, for which case (holder's history)."""

    identifier = models.CharField(max_length=96, db_index=True)
    holder_id_index = models.CharField(max_length=64, db_index=True)
    type_name = models.CharField(max_length=64)
    requester_node = models.CharField(max_length=16)
    requester_code = models.CharField(max_length=18, blank=True)
    requester_name = models.CharField(max_length=128, blank=True)
    case_number = models.CharField(max_length=64)
    item_name = models.CharField(max_length=128, blank=True)
    purpose = models.CharField(max_length=32)
    used_at = models.DateTimeField()
    consent_id = models.CharField(max_length=36)

    class Meta:
        ordering = ["-used_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["consent_id"], name="licence_use_once_per_consent")
        ]
        verbose_name = _("用证记录")
        verbose_name_plural = _("用证记录")

    def __str__(self) -> str:
        return f"{self.identifier} → {self.case_number}"


class LicenceCounter(models.Model):
    """Counts per node, type, event and day (亮证, 核验 by verdict, 用证, 颁发 …)."""

    node_id = models.CharField(max_length=16)
    type_code = models.CharField(max_length=21)
    event = models.CharField(max_length=40)
    day = models.DateField()
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["node_id", "type_code", "event", "day"], name="licence_counter_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.type_code} {self.event}: {self.count}"


class VerificationRecord(models.Model):
    """One verification at this node: its verdict and the presentation's nonce."""

    verified_at = models.DateTimeField(auto_now_add=True)
    verdict = models.CharField(max_length=24)
    type_code = models.CharField(max_length=21, blank=True)
    issuer_node = models.CharField(max_length=16, blank=True)
    nonce = models.CharField(max_length=32, blank=True, db_index=True)
    channel = models.CharField(max_length=12)  # page / api / cli
    online = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"{self.verified_at:%Y-%m-%d %H:%M} {self.verdict}"


class CaseLicenceStatus(models.Model):
    """Handling node: the status of a licence a case here used (免证办), as delivered
    and as checked again at the issuer whenever the official acts on the case."""

    case_number = models.CharField(max_length=64, db_index=True)
    material_code = models.CharField(max_length=8)
    identifier = models.CharField(max_length=96)
    type_code = models.CharField(max_length=21)
    type_name = models.CharField(max_length=64)
    issuer_node = models.CharField(max_length=16)
    status_index = models.PositiveIntegerField(null=True)
    status_at_use = models.CharField(max_length=12, choices=LicenceStatus.choices)
    # last known status; "" when the issuer's list could not be had fresh enough
    status = models.CharField(max_length=12, blank=True)
    status_time = models.DateTimeField()  # when the issuer stated that status
    checked_at = models.DateTimeField()  # when this node last looked
    source = models.CharField(max_length=12)  # delivery / online / cache / issuer
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["case_number", "material_code"], name="case_licence_status_material"
            )
        ]

    def __str__(self) -> str:
        return f"{self.case_number} {self.type_name}: {self.status or '?'}"

    @property
    def blocks_approval(self) -> bool:
        return self.status in (LicenceStatus.REVOKED, LicenceStatus.SUSPENDED)
