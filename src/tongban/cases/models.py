"""Cases (办件): the same model at the receiving node and at the handling node.

``perspective`` says what this node is to the case: ``origin`` (received
here, decided elsewhere — a mirror kept current by events), ``handling``
(decided here, received elsewhere) or ``local`` (both here).
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from tongban.identity.masking import mask_id_number, mask_name, mask_phone
from tongban.identity.pii import decrypt_identifier


class CaseStatus(models.TextChoices):
    SUBMITTED = "submitted", _("已提交")
    SUPPLEMENT_REQUESTED = "supplement_requested", _("待补正")
    ACCEPTED = "accepted", _("已受理")
    REFUSED = "refused", _("不予受理")
    APPROVED = "approved", _("准予许可（已办结）")
    DENIED = "denied", _("不予许可（已办结）")
    WITHDRAWN = "withdrawn", _("已撤回")


TERMINAL_STATUSES = {
    CaseStatus.REFUSED,
    CaseStatus.APPROVED,
    CaseStatus.DENIED,
    CaseStatus.WITHDRAWN,
}


class Case(models.Model):
    PERSPECTIVE_CHOICES = [
        ("origin", _("本地收件、异地办理")),
        ("handling", _("异地收件、本地办理")),
        ("local", _("本地收件、本地办理")),
    ]
    CHANNEL_CHOICES = [("window", _("窗口")), ("online", _("网上"))]

    number = models.CharField(_("办件编号"), max_length=64, unique=True)
    perspective = models.CharField(max_length=8, choices=PERSPECTIVE_CHOICES)
    channel = models.CharField(_("渠道"), max_length=8, choices=CHANNEL_CHOICES)
    item = models.ForeignKey("catalog.ServiceItem", on_delete=models.PROTECT, related_name="cases")
    item_name = models.CharField(_("事项名称"), max_length=128)
    implementation_code = models.CharField(_("实施编码"), max_length=31)
    handling_organization = models.ForeignKey(
        "directory.Organization", to_field="code", on_delete=models.PROTECT, related_name="cases"
    )
    handling_node = models.CharField(max_length=16)
    receiving_node = models.CharField(max_length=16)
    receiving_window = models.ForeignKey(
        "directory.Window", null=True, blank=True, on_delete=models.PROTECT, related_name="cases"
    )
    receiving_window_name = models.CharField(max_length=128, blank=True)

    applicant_name = models.CharField(_("申请人"), max_length=64)
    applicant_id_encrypted = models.CharField(max_length=200)
    applicant_id_index = models.CharField(max_length=64, db_index=True)
    applicant_phone_encrypted = models.CharField(max_length=200, blank=True)
    applicant_account = models.ForeignKey(
        "identity.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # a legal person's case: the enterprise applies, the applicant above is its agent
    enterprise_code = models.CharField(
        _("法人统一社会信用代码"), max_length=18, blank=True, db_index=True
    )
    enterprise_name = models.CharField(_("法人名称"), max_length=128, blank=True)
    identity_assertion = models.JSONField(default=dict)
    # "<node>:<account>" of the account its home node vouched for when it applied online:
    # that account, signed in here through that node, follows the case (ADR 0010)
    applicant_vouched_by = models.CharField(max_length=200, blank=True, db_index=True)
    form_data = models.JSONField(default=dict)

    status = models.CharField(
        _("状态"), max_length=24, choices=CaseStatus.choices, default=CaseStatus.SUBMITTED
    )
    status_changed_at = models.DateTimeField()
    submitted_at = models.DateTimeField(_("提交时间"))
    received_at = models.DateTimeField(_("送达办理地时间"), null=True, blank=True)
    accepted_at = models.DateTimeField(_("受理时间"), null=True, blank=True)
    concluded_at = models.DateTimeField(_("办结时间"), null=True, blank=True)
    clock_started_on = models.DateField(null=True, blank=True)
    deadline = models.DateField(_("承诺办结期限"), null=True, blank=True)
    legal_deadline = models.DateField(_("法定办结期限"), null=True, blank=True)
    deadline_provisional = models.BooleanField(default=False)
    supplement_request = models.JSONField(default=dict, blank=True)
    decision_reason = models.TextField(blank=True)
    created_by = models.ForeignKey(
        "identity.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_name = models.CharField(max_length=64, blank=True)
    # a stage (接续办) or part (集成办) of a 联办件 coordinated at the receiving node
    composite_number = models.CharField(_("联办件编号"), max_length=64, blank=True, db_index=True)
    member_key = models.CharField(max_length=40, blank=True)
    member_role = models.CharField(_("环节"), max_length=40, blank=True)
    # what earlier stages/parts produced, for this one's official (JSON, SM4-GCM at rest)
    member_inputs_encrypted = models.TextField(blank=True)
    # 送达: how the result reaches the applicant (cases.delivery)
    DELIVERY_METHODS = [
        ("electronic", _("电子送达")),
        ("post", _("邮寄送达")),
        ("pickup", _("窗口自取")),
    ]
    DELIVERY_STATES = [
        ("pending", _("待送达")),
        ("sent", _("已寄出")),
        ("delivered", _("已送达")),
        ("picked_up", _("已领取")),
    ]
    delivery_method = models.CharField(
        _("送达方式"), max_length=12, choices=DELIVERY_METHODS, default="electronic"
    )
    delivery_address_encrypted = models.TextField(blank=True)  # 邮寄: recipient, phone, address
    delivery_window_code = models.CharField(max_length=32, blank=True)  # 自取: which window
    delivery_window_name = models.CharField(max_length=128, blank=True)
    delivery_status = models.CharField(
        _("送达状态"), max_length=12, choices=DELIVERY_STATES, default="pending"
    )
    delivery_carrier = models.CharField(_("快递公司"), max_length=32, blank=True)
    delivery_waybill = models.CharField(_("运单号"), max_length=40, blank=True)
    delivery_updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-submitted_at", "-id"]
        indexes = [
            models.Index(fields=["handling_organization", "status"], name="case_org_status"),
            models.Index(fields=["receiving_window", "submitted_at"], name="case_window"),
            models.Index(fields=["status", "submitted_at"], name="case_status_time"),
            # the default list order ("newest first") without a sort over every row
            models.Index(fields=["-submitted_at", "-id"], name="case_recent"),
            # an organization's cases newest first; on PostgreSQL the count of a large
            # worklist becomes an index-only scan (see docs/performance.md)
            models.Index(
                fields=["handling_organization", "-submitted_at", "-id"],
                include=["perspective", "status"],
                name="case_org_recent",
            ),
        ]
        verbose_name = _("办件")
        verbose_name_plural = _("办件")

    def __str__(self) -> str:
        return self.number

    @property
    def applicant_id_number(self) -> str:
        return decrypt_identifier(self.applicant_id_encrypted)

    @property
    def applicant_id_masked(self) -> str:
        return mask_id_number(self.applicant_id_number)

    @property
    def applicant_phone_masked(self) -> str:
        return mask_phone(decrypt_identifier(self.applicant_phone_encrypted))

    @property
    def applicant_name_masked(self) -> str:
        return mask_name(self.applicant_name)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class CaseStatusChange(models.Model):
    """Status history: who, when, where, why — on the acting node and here."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="history")
    from_status = models.CharField(max_length=24, blank=True)
    to_status = models.CharField(max_length=24, choices=CaseStatus.choices)
    occurred_at = models.DateTimeField(_("发生时间（办理节点）"))
    recorded_at = models.DateTimeField(_("记录时间（本节点）"))
    node = models.CharField(_("节点"), max_length=16)
    actor_name = models.CharField(_("经办人"), max_length=64)
    place = models.CharField(_("机构/窗口"), max_length=128)
    reason = models.TextField(_("原因/说明"), blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["occurred_at", "id"]
        verbose_name = _("状态记录")
        verbose_name_plural = _("状态记录")

    def __str__(self) -> str:
        return f"{self.case_id}: {self.from_status or '—'} → {self.to_status}"


class CaseMaterial(models.Model):
    SOURCE_CHOICES = [("submission", _("申请时提交")), ("supplement", _("补正提交"))]

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="materials")
    material_code = models.CharField(max_length=8)
    name = models.CharField(max_length=128)
    filename = models.CharField(max_length=200)
    media_type = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    sm3 = models.CharField(max_length=64)
    storage_path = models.CharField(max_length=300)
    source = models.CharField(max_length=12, choices=SOURCE_CHOICES, default="submission")
    uploaded_at = models.DateTimeField()
    # 免交（电子证照）: the material is an e-licence fetched from its issuing node
    # under the applicant's consent, instead of a file
    LICENCE_STATES = [
        ("consented", _("已授权用证")),
        ("requested", _("证照调取中")),
        ("verified", _("免交（电子证照）")),
        ("invalid", _("电子证照核验未通过")),
        ("refused", _("发证节点拒绝提供")),
    ]
    licence_identifier = models.CharField(_("电子证照标识"), max_length=96, blank=True)
    licence_type_name = models.CharField(max_length=64, blank=True)
    licence_issuer_node = models.CharField(max_length=16, blank=True)
    licence_state = models.CharField(max_length=12, choices=LICENCE_STATES, blank=True)
    licence_note = models.CharField(max_length=300, blank=True)
    licence_consent = models.JSONField(default=dict, blank=True)
    licence_disclosures_encrypted = models.TextField(blank=True)

    class Meta:
        ordering = ["case", "material_code", "id"]
        verbose_name = _("申请材料")
        verbose_name_plural = _("申请材料")

    def __str__(self) -> str:
        return f"{self.material_code} {self.name} ({self.sm3[:12]})"

    @property
    def is_licence(self) -> bool:
        return bool(self.licence_identifier)


class CaseResult(models.Model):
    """The signed result of an approved case (e.g. a 营业执照 record)."""

    case = models.OneToOneField(Case, on_delete=models.CASCADE, related_name="result")
    kind = models.CharField(max_length=24)
    document = models.JSONField()
    signature = models.JSONField()  # {"alg", "kid", "value"}
    issued_at = models.DateTimeField()
    licence_identifier = models.CharField(_("电子证照标识"), max_length=96, blank=True)

    class Meta:
        verbose_name = _("办理结果")
        verbose_name_plural = _("办理结果")

    def __str__(self) -> str:
        return f"{self.kind} {self.case_id}"


class CaseNumberCounter(models.Model):
    """Allocation table for race-free case numbers (one row per prefix and day)."""

    prefix = models.CharField(max_length=64, unique=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.prefix}: {self.last}"


class CreditCodeCounter(models.Model):
    """Allocation table for new 统一社会信用代码 per registration region."""

    region = models.CharField(max_length=6, unique=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.region}: {self.last}"


class HolidayYear(models.Model):
    """An official holiday schedule loaded by an administrator for one year."""

    year = models.PositiveSmallIntegerField(unique=True)
    holidays = models.JSONField(default=list)  # ["2027-01-01", …]
    workdays = models.JSONField(default=list)  # weekend days that are working days (调休)
    source = models.CharField(max_length=200, blank=True)
    loaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("法定节假日安排")
        verbose_name_plural = _("法定节假日安排")

    def __str__(self) -> str:
        return str(self.year)


class ApplicationDraft(models.Model):
    """An application being filled in (草稿): the files already accepted, and — when the
    applicant chose 保存草稿 — the answers so far. Tied to one account and one item;
    the form carries the draft's token in a hidden field. Drafts expire
    (``cases.drafts``) and are then deleted with their files' references."""

    CHANNEL_CHOICES = [("window", _("窗口")), ("online", _("网上"))]

    token = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(
        "identity.User", on_delete=models.CASCADE, related_name="application_drafts"
    )
    channel = models.CharField(max_length=8, choices=CHANNEL_CHOICES)
    item = models.ForeignKey("catalog.ServiceItem", on_delete=models.CASCADE, related_name="+")
    # the answers (JSON, SM4-GCM at rest: they may carry personal identifiers)
    data_encrypted = models.TextField(blank=True)
    saved = models.BooleanField(default=False)  # 保存草稿: listed under 我的草稿
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("申请草稿")
        verbose_name_plural = _("申请草稿")
        indexes = [models.Index(fields=["user", "item", "saved"], name="draft_user_item_idx")]

    def __str__(self) -> str:
        return f"{self.item_id} · {self.user_id}"


class DraftFile(models.Model):
    """A file accepted for a draft, stored under its SM3 like case materials."""

    draft = models.ForeignKey(ApplicationDraft, on_delete=models.CASCADE, related_name="files")
    material_code = models.CharField(max_length=8)
    filename = models.CharField(max_length=128)
    media_type = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    sm3 = models.CharField(max_length=64)
    storage_path = models.CharField(max_length=200)
    uploaded_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["draft", "material_code"], name="draft_file_unique")
        ]

    def __str__(self) -> str:
        return f"{self.material_code}: {self.filename}"


class CompositeStatus(models.TextChoices):
    IN_PROGRESS = "in_progress", _("办理中")
    SUPPLEMENT_REQUESTED = "supplement_requested", _("待补正")
    APPROVED = "approved", _("已办结")
    PARTIALLY_CONCLUDED = "partially_concluded", _("部分办结")
    REFUSED = "refused", _("不予受理（已办结）")
    DENIED = "denied", _("不予许可（已办结）")
    WITHDRAWN = "withdrawn", _("已撤回")


COMPOSITE_TERMINAL = {
    CompositeStatus.APPROVED,
    CompositeStatus.PARTIALLY_CONCLUDED,
    CompositeStatus.REFUSED,
    CompositeStatus.DENIED,
    CompositeStatus.WITHDRAWN,
}


class Composite(models.Model):
    """A 联办件: one application whose stages (接续办) or parts (集成办 "一件事") run as
    cases at several organizations and nodes. Kept at the node where the applicant
    applied, which starts each member case when its inputs exist (cases.composites)."""

    KIND_CHOICES = [("relay", _("接续办")), ("bundle", _("集成办"))]
    CHANNEL_CHOICES = [("window", _("窗口")), ("online", _("网上"))]

    number = models.CharField(_("联办件编号"), max_length=64, unique=True)
    kind = models.CharField(_("办理方式"), max_length=8, choices=KIND_CHOICES)
    item = models.ForeignKey("catalog.ServiceItem", on_delete=models.PROTECT, related_name="+")
    item_name = models.CharField(_("事项名称"), max_length=128)
    organization = models.ForeignKey(
        "directory.Organization", to_field="code", on_delete=models.PROTECT, related_name="+"
    )
    channel = models.CharField(_("渠道"), max_length=8, choices=CHANNEL_CHOICES)
    receiving_node = models.CharField(max_length=16)
    receiving_window = models.ForeignKey(
        "directory.Window", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    receiving_window_name = models.CharField(max_length=128, blank=True)
    applicant_name = models.CharField(_("申请人"), max_length=64)
    applicant_id_encrypted = models.CharField(max_length=200)
    applicant_id_index = models.CharField(max_length=64, db_index=True)
    applicant_phone_encrypted = models.CharField(max_length=200, blank=True)
    applicant_account = models.ForeignKey(
        "identity.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    enterprise_code = models.CharField(max_length=18, blank=True, db_index=True)
    enterprise_name = models.CharField(max_length=128, blank=True)
    # the application as given, and the identity assertion that vouches for the applicant
    # to every member's node (JSON, SM4-GCM at rest: they carry personal identifiers)
    application_encrypted = models.TextField()
    status = models.CharField(
        _("状态"),
        max_length=24,
        choices=CompositeStatus.choices,
        default=CompositeStatus.IN_PROGRESS,
    )
    status_changed_at = models.DateTimeField()
    submitted_at = models.DateTimeField(_("提交时间"))
    concluded_at = models.DateTimeField(_("办结时间"), null=True, blank=True)
    reason = models.TextField(_("说明"), blank=True)
    created_by = models.ForeignKey(
        "identity.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_name = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-submitted_at", "-id"]
        verbose_name = _("联办件")
        verbose_name_plural = _("联办件")

    def __str__(self) -> str:
        return self.number

    @property
    def applicant_id_masked(self) -> str:
        return mask_id_number(decrypt_identifier(self.applicant_id_encrypted))

    @property
    def is_terminal(self) -> bool:
        return self.status in COMPOSITE_TERMINAL


class MemberStatus(models.TextChoices):
    WAITING = "waiting", _("等待前序结果")
    SUBMITTED = "submitted", _("已提交")
    SUPPLEMENT_REQUESTED = "supplement_requested", _("待补正")
    ACCEPTED = "accepted", _("已受理")
    REFUSED = "refused", _("不予受理")
    APPROVED = "approved", _("已办结")
    DENIED = "denied", _("不予许可")
    CANCELLED = "cancelled", _("已终止")
    WITHDRAWN = "withdrawn", _("已撤回")


MEMBER_ENDED = {
    MemberStatus.REFUSED,
    MemberStatus.APPROVED,
    MemberStatus.DENIED,
    MemberStatus.CANCELLED,
    MemberStatus.WITHDRAWN,
}


class CompositeMember(models.Model):
    """One stage or part: where it runs, its case once started, its clock and outputs."""

    composite = models.ForeignKey(Composite, on_delete=models.CASCADE, related_name="members")
    sequence = models.PositiveSmallIntegerField()
    key = models.CharField(max_length=40)
    role = models.CharField(_("环节"), max_length=40)
    name = models.CharField(_("名称"), max_length=128)
    item = models.ForeignKey("catalog.ServiceItem", on_delete=models.PROTECT, related_name="+")
    organization = models.ForeignKey(
        "directory.Organization", to_field="code", on_delete=models.PROTECT, related_name="+"
    )
    node = models.CharField(max_length=16)
    depends_on = models.JSONField(default=list, blank=True)
    limit_days = models.PositiveSmallIntegerField()
    case_number = models.CharField(max_length=64, blank=True, db_index=True)
    status = models.CharField(
        _("状态"), max_length=24, choices=MemberStatus.choices, default=MemberStatus.WAITING
    )
    started_at = models.DateTimeField(null=True, blank=True)
    deadline = models.DateField(_("本环节期限"), null=True, blank=True)
    concluded_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True)
    # what the member's official entered and the documents it issued (JSON, SM4-GCM at rest)
    outputs_encrypted = models.TextField(blank=True)

    class Meta:
        ordering = ["composite", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["composite", "key"], name="composite_member_key")
        ]
        verbose_name = _("联办环节")
        verbose_name_plural = _("联办环节")

    def __str__(self) -> str:
        return f"{self.composite_id}:{self.key}"


class CompositeTrace(models.Model):
    """Hub: where one 联办件 stands, as its coordinating node last reported it
    (``composite.progress``) — numbers, items, organizations, statuses and time limits,
    never the applicant (no name, 身份证号 or phone reaches the hub)."""

    number = models.CharField(_("联办件编号"), max_length=64, unique=True)
    kind = models.CharField(_("办理方式"), max_length=8, choices=Composite.KIND_CHOICES)
    item_code = models.CharField(_("事项编码"), max_length=31)
    item_name = models.CharField(_("事项名称"), max_length=128)
    coordinating_node = models.CharField(_("牵头节点"), max_length=16)
    status = models.CharField(_("状态"), max_length=24, choices=CompositeStatus.choices)
    submitted_at = models.DateTimeField(_("提交时间"))
    concluded_at = models.DateTimeField(_("办结时间"), null=True, blank=True)
    # [{key, role, name, node, organization: {code, name}, status, started_at, deadline,
    #   concluded_at}] in stage order
    members = models.JSONField(default=list)
    # the earliest time limit of a member still running (for the overdue filter)
    next_deadline = models.DateField(_("最近期限"), null=True, blank=True, db_index=True)
    reported_at = models.DateTimeField(_("报告时间（牵头节点）"))
    received_at = models.DateTimeField(_("接收时间（枢纽）"))

    class Meta:
        ordering = ["-submitted_at", "-id"]
        indexes = [models.Index(fields=["status", "next_deadline"], name="trace_status_due")]
        verbose_name = _("联办件进度（枢纽）")
        verbose_name_plural = _("联办件进度（枢纽）")

    def __str__(self) -> str:
        return self.number

    @property
    def is_terminal(self) -> bool:
        return self.status in COMPOSITE_TERMINAL
