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
    # a 12-digit basic code, or a platform use ("platform:enterprise_identity" …)
    item_code = models.CharField(_("事项基本编码"), max_length=32)
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


# --- data.query: purpose-bound queries to another node's dataset (docs/data-sharing.md §5) ---


class DataQuery(models.Model):
    """A query this node sent (or answers locally) about one subject of a dataset.

    At the asking node it is the 数据核验 attached to a case (``use == "case"``) or the
    registry check of an enterprise registration (``use == "enterprise_identity"``).
    The subject and the answer are SM4-encrypted at rest."""

    class Use(models.TextChoices):
        CASE = "case", _("办件数据核验")
        ENTERPRISE_IDENTITY = "enterprise_identity", _("法人身份核验")
        AGENT_AUTHORIZATION = "agent_authorization", _("经办人授权核验")

    class Status(models.TextChoices):
        PENDING = "pending", _("查询中")
        ANSWERED = "answered", _("已核验")
        NOT_FOUND = "not_found", _("无此记录")
        REFUSED = "refused", _("被拒绝")
        FAILED = "failed", _("查询失败")

    query_id = models.CharField(max_length=40, unique=True)
    use = models.CharField(_("用途"), max_length=24, choices=Use.choices, default=Use.CASE)
    reference = models.CharField(max_length=64, blank=True)  # case number or claim id
    case_number = models.CharField(_("办件编号"), max_length=64, blank=True, db_index=True)
    material_code = models.CharField(_("替代材料"), max_length=64, blank=True)
    dataset_code = models.CharField(_("数据集"), max_length=64)
    dataset_name = models.CharField(_("数据集名称"), max_length=128)
    source_node = models.CharField(_("数源节点"), max_length=16)
    subject_encrypted = models.TextField()  # encrypted canonical JSON of the subject
    subject_index = models.CharField(max_length=64, db_index=True)
    fields = models.JSONField(_("字段"), default=list)
    purpose = models.CharField(_("使用目的"), max_length=200)
    item_code = models.CharField(_("事项基本编码"), max_length=32)
    organization_code = models.CharField(_("使用部门"), max_length=18)
    consent_id = models.CharField(max_length=40, blank=True)
    requested_by = models.ForeignKey(
        "identity.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        _("状态"), max_length=12, choices=Status.choices, default=Status.PENDING
    )
    refusal_code = models.CharField(max_length=40, blank=True)
    refusal_message = models.CharField(max_length=300, blank=True)
    answer_encrypted = models.TextField(blank=True)  # encrypted {"record": …, "signature": …}
    answered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("数据核验")
        verbose_name_plural = _("数据核验")

    def __str__(self) -> str:
        return f"{self.query_id} {self.dataset_code}"


# --- 我的数据使用记录: uses of a person's data, kept at the person's home node ---------------


class DataUseRecord(models.Model):
    """One use of a resident's data anywhere in the region, as reported to their home node
    (``data.use``) or recorded here when this node used it itself."""

    class Kind(models.TextChoices):
        DATA_QUERY = "data_query", _("数据查询")
        LICENCE_FETCH = "licence_fetch", _("调用电子证照")
        LICENCE_VERIFICATION = "licence_verification", _("核验电子证照")
        CASE = "case", _("办件使用")

    class Flag(models.TextChoices):
        NONE = "", _("无")
        OPEN = "open", _("待答复")
        ANSWERED = "answered", _("已答复")

    use_id = models.CharField(max_length=40, unique=True)
    kind = models.CharField(_("使用方式"), max_length=24, choices=Kind.choices)
    person_index = models.CharField(max_length=64, db_index=True)  # blind index of 身份证号
    used_at = models.DateTimeField(_("使用时间"))
    user_node = models.CharField(_("使用节点"), max_length=16)
    user_organization_code = models.CharField(max_length=18, blank=True)
    user_organization_name = models.CharField(_("使用部门"), max_length=128)
    dataset_code = models.CharField(max_length=64, blank=True)
    dataset_name = models.CharField(_("数据"), max_length=128)
    fields = models.JSONField(_("字段"), default=list)  # labels, e.g. ["婚姻状况"]
    case_number = models.CharField(_("办件编号"), max_length=64, blank=True)  # as Case.number
    item_name = models.CharField(_("事项"), max_length=200, blank=True)
    purpose = models.CharField(_("使用目的"), max_length=200)
    legal_basis = models.CharField(_("法律依据"), max_length=300, blank=True)
    consent_id = models.CharField(_("本人同意"), max_length=40, blank=True)
    reporter_node = models.CharField(max_length=16)
    audit_index = models.BigIntegerField(null=True, blank=True)  # leaf at reporter_node's log
    audit_entry = models.BinaryField(null=True, blank=True)  # the leaf's canonical bytes
    proof = models.JSONField(
        null=True, blank=True
    )  # {"size", "root", "hashes", "checkpoint", "witnesses"}
    proof_checked_at = models.DateTimeField(null=True, blank=True)
    flag = models.CharField(_("异议"), max_length=10, choices=Flag.choices, blank=True, default="")
    flag_reason = models.CharField(_("异议理由"), max_length=500, blank=True)
    flagged_at = models.DateTimeField(null=True, blank=True)
    flag_deadline = models.DateField(_("答复期限"), null=True, blank=True)
    flag_answer = models.TextField(_("答复"), blank=True)
    flag_answered_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-used_at", "-id"]
        indexes = [models.Index(fields=["person_index", "-used_at"], name="sharing_use_person")]
        verbose_name = _("数据使用记录")
        verbose_name_plural = _("数据使用记录")

    def __str__(self) -> str:
        return f"{self.use_id} {self.kind}"


class DataUseFlag(models.Model):
    """A resident's objection to a use by one of this node's organizations, for its
    数据专员 (data_officer) to answer by ``deadline``; the answer goes back to the home node."""

    class Status(models.TextChoices):
        OPEN = "open", _("待答复")
        ANSWERED = "answered", _("已答复")

    flag_id = models.CharField(max_length=40, unique=True)
    use_id = models.CharField(max_length=40, db_index=True)
    home_node = models.CharField(max_length=16)
    organization_code = models.CharField(_("使用部门"), max_length=18, db_index=True)
    use_summary = models.JSONField(default=dict)  # kind, dataset, fields, case, purpose, used_at
    reason = models.CharField(_("异议理由"), max_length=500)
    raised_at = models.DateTimeField(_("提出时间"))
    deadline = models.DateField(_("答复期限"))
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.OPEN)
    answer = models.TextField(_("答复"), blank=True)
    answered_by = models.ForeignKey(
        "identity.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["deadline", "id"]
        verbose_name = _("数据使用异议")
        verbose_name_plural = _("数据使用异议")

    def __str__(self) -> str:
        return f"{self.flag_id} {self.status}"


class EnterpriseClaim(models.Model):
    """A resident's claim to be the legal representative of an enterprise, confirmed
    only by the registering authority's 企业登记信息 (a data check) or its 营业执照."""

    class Status(models.TextChoices):
        PENDING = "pending", _("核验中")
        CONFIRMED = "confirmed", _("已核验")
        REFUSED = "refused", _("未通过")

    user = models.ForeignKey("identity.User", on_delete=models.CASCADE, related_name="+")
    uscc = models.CharField(_("统一社会信用代码"), max_length=18)
    registry_node = models.CharField(max_length=16)
    method = models.CharField(max_length=16, default="data_check")  # data_check | licence
    status = models.CharField(
        _("状态"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    query = models.ForeignKey(
        DataQuery, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.uscc} {self.status}"
