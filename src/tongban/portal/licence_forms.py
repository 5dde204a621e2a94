"""Forms of the 电子证照 pages: 亮证, 核验 and the issuing authority's forms.

What may be issued, shown or changed is decided by ``tongban.licences.services``;
these forms only shape the input and check what a browser can.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from tongban.licences.models import LicenceType
from tongban.licences.qr_images import MAX_IMAGE_BYTES
from tongban.portal.context import node_name
from tongban.portal.forms import PortalForm, confirm_field

HOLDER_LABEL = _("持证人")
HOLDER_ID_LABELS = {"person": _("公民身份号码"), "enterprise": _("统一社会信用代码")}
DEFAULT_SHOWN = ("holder_name", "licence_number")
MAX_QR_TEXT_INPUT = 9000
DATE_WIDGET = {"attrs": {"type": "date"}, "format": "%Y-%m-%d"}


def field_labels(licence_type: LicenceType | None, holder_type: str) -> dict[str, str]:
    """{key: label} for a licence's face data, the holder first."""
    if licence_type is not None:
        return licence_type.claim_labels()
    return {
        "holder_name": str(HOLDER_LABEL),
        "holder_id": str(HOLDER_ID_LABELS.get(holder_type, _("证件号码"))),
    }


def ttl_choices() -> list[tuple[str, str]]:
    """1, 3 and 5 minutes, and the node's default if it is another length."""
    seconds = {60, 180, 300, settings.TONGBAN_PRESENTATION_TTL_SECONDS}
    choices = []
    for s in sorted(seconds):
        minutes, rest = divmod(s, 60)
        if rest:
            label = ngettext("%(n)s 秒", "%(n)s 秒", s) % {"n": s}
        else:
            label = ngettext("%(n)s 分钟", "%(n)s 分钟", minutes) % {"n": minutes}
        choices.append((str(s), label))
    return choices


class PresentationForm(PortalForm):
    """亮证: which face data to disclose, and for how long the code is valid."""

    fields_shown = forms.MultipleChoiceField(
        label=_("出示的信息项"),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("请至少选择一项要出示的信息")},
    )
    ttl = forms.TypedChoiceField(
        label=_("亮证码有效时间"),
        coerce=int,
        widget=forms.RadioSelect,
        help_text=_("到时二维码自动失效，核验方将看到“亮证码已过期”"),
    )

    mask_unshown = forms.BooleanField(
        label=_("未勾选的证件号码以部分遮蔽形式出示（如 3304**********1236）"),
        required=False,
        help_text=_("核验方只看到首末四位，可与实体证件比对；勾选上方的证件号码才完整出示"),
    )

    def __init__(self, *args, labels: dict[str, str], identifier_keys=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.identifier_keys = [k for k in identifier_keys if k in labels]
        # the 身份证号 is shown in full only when the holder ticks it: never by default
        self.fields["fields_shown"].choices = [
            (
                k,
                _("%(label)s（完整出示证件号码）") % {"label": v}
                if k in self.identifier_keys
                else v,
            )
            for k, v in labels.items()
        ]
        if not self.is_bound:
            plain = [k for k in labels if k not in self.identifier_keys]
            self.initial.setdefault(
                "fields_shown", [k for k in DEFAULT_SHOWN if k in plain] or plain[:1]
            )
            self.initial.setdefault("ttl", str(settings.TONGBAN_PRESENTATION_TTL_SECONDS))
            self.initial.setdefault("mask_unshown", True)
        if not self.identifier_keys:
            del self.fields["mask_unshown"]
        self.fields["ttl"].choices = ttl_choices()

    def masked(self) -> list[str]:
        """Identifier fields to show masked: those not ticked, when the holder wants it."""
        if not self.cleaned_data.get("mask_unshown"):
            return []
        shown = set(self.cleaned_data["fields_shown"])
        return [k for k in self.identifier_keys if k not in shown]


class VerifyForm(PortalForm):
    """核验: a QR text (scanned by the camera or pasted), or a picture of the code."""

    qr_text = forms.CharField(
        label=_("亮证码文本"),
        required=False,
        max_length=MAX_QR_TEXT_INPUT,
        help_text=_("以 TB1: 开头的二维码内容；扫码枪扫出的内容也可粘贴在这里"),
        widget=forms.Textarea(
            attrs={"rows": 4, "class": "mono", "autocomplete": "off", "spellcheck": "false"}
        ),
    )
    image = forms.FileField(
        label=_("二维码图片"),
        required=False,
        help_text=_("PNG 或 JPEG，不超过 10 MB；如截图、拍照"),
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg"}),
    )
    online = forms.BooleanField(
        label=_("联网查询最新状态"),
        required=False,
        initial=True,
        help_text=_(
            "向发证节点获取最新的证照状态列表（联网失败时改用本节点缓存的状态列表）；"
            "不勾选时离线核验"
        ),
    )

    def clean_image(self):
        image = self.cleaned_data.get("image")
        if image is not None and image.size > MAX_IMAGE_BYTES:
            raise forms.ValidationError(_("图片过大（不超过 10 MB）"), code="too_large")
        return image

    def clean(self):
        cleaned = super().clean()
        if not self.errors and not cleaned.get("image") and not cleaned.get("qr_text"):
            raise forms.ValidationError(
                _("请扫描亮证码、上传二维码图片或粘贴亮证码文本"), code="empty"
            )
        return cleaned


# --- the issuing authority ------------------------------------------------------------


def type_choices() -> list[tuple[str, str]]:
    kinds = {"person": _("自然人"), "enterprise": _("法人")}
    return [("", _("请选择"))] + [
        (t.code, f"{t.name}（{kinds.get(t.holder_type, t.holder_type)}）")
        for t in LicenceType.objects.filter(active=True).order_by("name")
    ]


class IssueChooseForm(PortalForm):
    """Step 1 of 颁发: the kind of licence and the issuing organization."""

    type = forms.ChoiceField(label=_("证照类型"))
    organization = forms.ChoiceField(label=_("发证机构"))

    def __init__(self, *args, organizations, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["type"].choices = type_choices()
        self.fields["organization"].choices = [(o.code, o.name) for o in organizations]
        if len(organizations) == 1:
            self.fields["organization"].initial = organizations[0].code


def face_specs(licence_type: LicenceType) -> list[dict]:
    """The face fields an official types in: not the validity dates on the face
    (``same_as``), which are the licence's 有效期起/止 entered once."""
    return [spec for spec in licence_type.fields if not spec.get("same_as")]


def face_field(spec: dict, *, required: bool | None = None) -> forms.Field:
    """An input for one face-data item of a licence type (date inputs for dates)."""
    common = {
        "label": spec.get("label") or spec["key"],
        "required": bool(spec.get("required")) if required is None else required,
        "max_length": 500,
        "strip": True,
    }
    if spec.get("kind") == "date":
        return forms.CharField(widget=forms.DateInput(**DATE_WIDGET), **common)
    return forms.CharField(widget=forms.TextInput(attrs={"autocomplete": "off"}), **common)


class IssueForm(PortalForm):
    """Step 2 of 颁发: the holder and the face data of the chosen type."""

    type = forms.CharField(widget=forms.HiddenInput)
    organization = forms.CharField(widget=forms.HiddenInput)
    holder_name = forms.CharField(
        label=_("持证主体名称"),
        max_length=128,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    holder_id = forms.CharField(
        max_length=18,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "class": "mono", "maxlength": "18", "spellcheck": "false"}
        ),
    )
    home_node = forms.ChoiceField(
        label=_("持证主体所属节点（证照夹所在地）"),
        required=False,
        help_text=_("不选时按登记信息或证件号码的省份确定"),
    )
    valid_from = forms.DateField(
        label=_("有效期起"),
        required=False,
        widget=forms.DateInput(**DATE_WIDGET),
        help_text=_("不填为今天"),
    )
    valid_to = forms.DateField(
        label=_("有效期止"),
        required=False,
        widget=forms.DateInput(**DATE_WIDGET),
        help_text=_("不填时按证照类型的有效期计算；无有效期的证照为长期"),
    )

    def __init__(self, *args, licence_type: LicenceType, nodes: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.licence_type = licence_type
        if licence_type.holder_type == "enterprise":
            self.fields["holder_name"].label = _("企业（单位）名称")
            self.fields["holder_id"].label = _("统一社会信用代码")
        else:
            self.fields["holder_name"].label = _("持证人姓名")
            self.fields["holder_id"].label = _("公民身份号码")
        self.fields["home_node"].choices = [("", _("自动确定"))] + [
            (n, f"{node_name(n)}（{n}）") for n in nodes
        ]
        for spec in face_specs(licence_type):
            self.fields[f"f_{spec['key']}"] = face_field(spec)
        for which, name in (("valid_from", "valid_from"), ("valid_to", "valid_to")):
            key = licence_type.validity_field(which)
            if key:  # the face's date is this one: one input, one value (有效期至 …)
                label = next(f["label"] for f in licence_type.fields if f["key"] == key)
                self.fields[name].label = f"{self.fields[name].label}（{label}）"

    def holder_fields(self):
        return [self[n] for n in ("holder_name", "holder_id", "home_node")]

    def face_fields(self):
        return [self[f"f_{spec['key']}"] for spec in face_specs(self.licence_type)]

    def validity_fields(self):
        return [self["valid_from"], self["valid_to"]]

    def face_data(self) -> dict:
        return {
            spec["key"]: self.cleaned_data.get(f"f_{spec['key']}", "")
            for spec in face_specs(self.licence_type)
            if self.cleaned_data.get(f"f_{spec['key']}")
        }


class StatusReasonForm(PortalForm):
    reason = forms.CharField(
        label=_("原因"),
        max_length=200,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("请填写原因")},
    )


class RevokeForm(StatusReasonForm):
    """吊销/注销: the licence stops being valid for good; a ticked confirmation first."""

    confirm = confirm_field(_("确认吊销/注销：证照将永久失效，不可恢复"))


class ReinstateForm(PortalForm):
    reason = forms.CharField(
        label=_("说明（可选）"),
        required=False,
        max_length=200,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class RenewForm(PortalForm):
    """换发: the new version's face data (prefilled with the current values)."""

    valid_to = forms.DateField(
        label=_("新版本有效期止"),
        required=False,
        widget=forms.DateInput(**DATE_WIDGET),
        help_text=_("不填时按证照类型的有效期自今天起计算"),
    )

    def __init__(self, *args, licence_type: LicenceType, **kwargs):
        super().__init__(*args, **kwargs)
        self.licence_type = licence_type
        for spec in face_specs(licence_type):
            self.fields[f"f_{spec['key']}"] = face_field(spec)
        self.order_fields([f"f_{s['key']}" for s in face_specs(licence_type)] + ["valid_to"])

    def face_data(self) -> dict:
        return {
            spec["key"]: self.cleaned_data.get(f"f_{spec['key']}", "")
            for spec in face_specs(self.licence_type)
        }
