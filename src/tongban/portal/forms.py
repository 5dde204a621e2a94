"""Page forms: the shape of the input and what a browser can check.

Whether an application, a decision or an upload is acceptable is decided by
the services (``tongban.cases.services``); their ``DomainError`` field
details are put back onto these forms by ``apply_domain_error``.
"""

from __future__ import annotations

import datetime as dt
import re

from django import forms
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from stdnum.cn import uscc

from tongban.cases.application_form import application_form_clean
from tongban.cases.materials import CheckedFile, IncomingFile, material_check
from tongban.errors import DomainError
from tongban.identity.residence import id_number_is_valid
from tongban.identity.services import home_node_require_here, person_fields_clean
from tongban.portal.context import node_name

ACCEPT = {
    "pdf": ".pdf,application/pdf",
    "jpg": ".jpg,.jpeg,image/jpeg",
    "png": ".png,image/png",
}
MB = 1024 * 1024


class PortalForm(forms.Form):
    required_css_class = "required"
    error_css_class = "has-error"

    def apply_domain_error(
        self, error: DomainError, field_map: dict[str, str] | None = None, *, top: bool = True
    ) -> None:
        """Show a service's refusal: its message on top, its field details on the fields."""
        if top:
            self.add_error(None, error.message)
        fields = (error.details or {}).get("fields") or {}
        for name, message in fields.items():
            target = (field_map or {}).get(name, name)
            if target in self.fields:
                self.add_error(target, message)
            else:
                self.add_error(None, message)


def _accept(file_types: list[str]) -> str:
    return ",".join(ACCEPT[t] for t in file_types if t in ACCEPT)


def material_field(material, *, required: bool) -> forms.FileField:
    types = "/".join(t.upper() for t in material.file_types)
    return forms.FileField(
        label=material.name,
        required=required,
        help_text=_("%(types)s，不超过 %(mb)s MB") % {"types": types, "mb": material.max_size_mb},
        widget=forms.FileInput(attrs={"accept": _accept(material.file_types)}),
    )


def check_size(upload, material) -> None:
    if upload is not None and upload.size > material.max_size_mb * MB:
        raise forms.ValidationError(
            _("文件超过大小上限 %(mb)s MB"), params={"mb": material.max_size_mb}, code="too_large"
        )


def schema_field(spec: dict) -> forms.Field:
    """A form field for one entry of an item's form_schema (申请表)."""
    kind = spec.get("type", "text")
    common = {
        "label": spec.get("label") or spec["name"],
        "required": bool(spec.get("required")),
        "help_text": spec.get("help", ""),
    }
    if kind == "select":
        # a choice is a plain string or {"value", "label"} (the value stored, the label shown)
        choices = [("", _("请选择"))] + [
            (c.get("value"), c.get("label") or c.get("value")) if isinstance(c, dict) else (c, c)
            for c in spec.get("choices", [])
        ]
        return forms.ChoiceField(choices=choices, **common)
    max_length = spec.get("max_length")
    attrs: dict[str, str] = {}
    widget: forms.Widget
    if kind == "textarea":
        widget = forms.Textarea(attrs={"rows": 4})
    elif kind == "date":
        widget = forms.DateInput(attrs={"type": "date"})
    elif kind == "integer":
        attrs = {"inputmode": "numeric"}
        widget = forms.TextInput(attrs=attrs)
    elif kind == "decimal":
        attrs = {"inputmode": "decimal"}
        widget = forms.TextInput(attrs=attrs)
    elif kind == "phone":
        widget = forms.TextInput(attrs={"type": "tel", "inputmode": "numeric", "maxlength": "11"})
    elif kind in ("id_number", "uscc"):
        widget = forms.TextInput(attrs={"autocomplete": "off", "maxlength": "18", "class": "mono"})
    else:
        widget = forms.TextInput()
    return forms.CharField(max_length=max_length, widget=widget, strip=True, **common)


class ItemSearchForm(forms.Form):
    q = forms.CharField(
        label=_("搜索事项"),
        required=False,
        max_length=100,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": _("如：营业执照、公积金、户口")}
        ),
    )


# --- window intake --------------------------------------------------------------

APPLICANT_FIELDS = {
    "name": "applicant_name",
    "id_number": "applicant_id_number",
    "phone": "applicant_phone",
}


class MaterialUploadsMixin:
    """One file input ``m_<code>`` per material; every upload is checked (type sniffed
    from the content, size) when the form is cleaned, and all refusals are shown at once,
    each next to its material.

    Files that pass are kept on a draft (``cases.drafts``) by the view, so a form that
    comes back with errors does not ask for them again: ``draft_files`` lists what the
    draft already holds (material code → file), and a required material is missing only
    when it is neither uploaded now, nor on the draft, nor replaced by an e-licence.

    A material that an e-licence may replace (免证办) gets a second input
    ``l_<code>``: a licence from the applicant's wallet (online) or the 亮证 QR
    text the applicant shows (window); one consent checkbox covers the chosen licences.
    Such a material is still required — marked * like every required material — and the
    licence is one way to provide it.
    """

    licence_codes: tuple[str, ...] = ()
    draft_files: dict = {}
    data_consent_datasets: tuple[str, ...] = ()

    def setup_data_checks(self) -> None:
        """数据核验 (docs/data-sharing.md §5): one checkbox ``dc_<dataset>`` per dataset the
        item may read only with the applicant's consent (本人授权同意)."""
        from tongban.cases.data_checks import consent_options

        options = {}
        for a in consent_options(self.item.basic_code, None):
            options.setdefault(a.dataset_id, a)
        self.data_consent_datasets = tuple(options)
        for code, a in options.items():
            labels = {f.key: f.label for f in a.dataset.fields.all()}
            self.fields[f"dc_{code}"] = forms.BooleanField(
                required=False,
                label=_(
                    "我同意：办理机构可查询我的%(dataset)s（%(fields)s），用于%(purpose)s，仅限本次办理"
                )
                % {
                    "dataset": a.dataset.name,
                    "fields": "、".join(labels.get(k, k) for k in a.fields),
                    "purpose": a.purpose,
                },
            )

    def data_consent_fields(self):
        return [self[f"dc_{code}"] for code in self.data_consent_datasets]

    def data_check_rows(self):
        """For the template: the materials a data check may replace."""
        return [m for m in self.materials if m.data_check]

    def data_consents(self) -> list[str]:
        """The datasets consented to that the chosen organization may read with consent."""
        from tongban.cases.data_checks import consent_options

        organization = (getattr(self, "cleaned_data", None) or {}).get("organization") or ""
        offered = {a.dataset_id for a in consent_options(self.item.basic_code, organization)}
        return [
            code
            for code in self.data_consent_datasets
            if code in offered and self.cleaned_data.get(f"dc_{code}")
        ]

    def _data_checked(self, cleaned: dict) -> frozenset[str]:
        from tongban.cases.data_checks import replaceable_materials

        organization = cleaned.get("organization") or ""
        if not organization or not any(m.data_check for m in self.materials):
            return frozenset()
        consented = [c for c in self.data_consent_datasets if cleaned.get(f"dc_{c}")]
        return replaceable_materials(self.item, organization, consented=consented)

    def setup_materials(self, draft_files: dict | None = None) -> None:
        self.draft_files = draft_files or {}
        self.accepted: dict[str, CheckedFile] = {}
        for material in self.materials:
            field = material_field(material, required=False)
            field.material_required = material.required
            if material.required:
                field.widget.attrs["aria-required"] = "true"
            self.fields[f"m_{material.code}"] = field

    def material_fields(self):
        return [self[f"m_{m.code}"] for m in self.materials]

    def material_rows(self):
        """For the template: each material's input, whether it is required, and the file
        the draft already holds for it."""
        return [
            {
                "field": self[f"m_{m.code}"],
                "material": m,
                "required": m.required,
                "draft": self.draft_files.get(m.code),
                "licence": m.code in self.licence_codes,
            }
            for m in self.materials
        ]

    def licence_fields(self):
        return [self[f"l_{code}"] for code in self.licence_codes]

    def add_licence_fields(self, fields: dict[str, forms.Field], consent_label: str) -> None:
        """``fields``: material code → the field that picks or carries the licence."""
        self.licence_codes = tuple(fields)
        for code, field in fields.items():
            self.fields[f"l_{code}"] = field
        if fields:
            self.fields["licence_consent"] = forms.BooleanField(label=consent_label, required=False)

    def licences(self) -> list[dict]:
        return [
            {"material_code": code, self.licence_key: self.cleaned_data[f"l_{code}"]}
            for code in self.licence_codes
            if self.cleaned_data.get(f"l_{code}")
        ]

    @property
    def licence_consent(self) -> bool:
        return bool(self.cleaned_data.get("licence_consent"))

    def clean_materials(self, cleaned: dict) -> None:
        self.accepted = {}
        data_checked = self._data_checked(cleaned)  # 免交（数据核验） at the chosen organization
        for material in self.materials:
            name = f"m_{material.code}"
            upload = cleaned.get(name)
            if upload:
                try:
                    self.accepted[material.code] = material_check(
                        material=material,
                        upload=IncomingFile(
                            material_code=material.code, filename=upload.name, content=upload.read()
                        ),
                    )
                except DomainError as error:
                    self.add_error(name, error.message)
                    continue
            if (
                material.required
                and name not in self.errors
                and material.code not in self.accepted
                and material.code not in self.draft_files
                and not cleaned.get(f"l_{material.code}")
                and material.code not in data_checked
            ):
                if material.code in self.licence_codes:
                    message = _("请上传“%(name)s”，或在下方选择电子证照代替")
                else:
                    message = _("请上传“%(name)s”")
                self.add_error(name, message % {"name": material.name})
        chosen = [code for code in self.licence_codes if cleaned.get(f"l_{code}")]
        if chosen and not cleaned.get("licence_consent"):
            self.add_error("licence_consent", _("使用电子证照须经申请人同意"))

    def clean_schema(self, form_data: dict, field_map: dict[str, str]) -> None:
        """The item's form rules (the service's own check), every field at once."""
        try:
            application_form_clean(self.item.form_schema, form_data)
        except DomainError as error:
            fields = (error.details or {}).get("fields") or {}
            for name, message in fields.items():
                target = field_map.get(name, name)
                if target in self.fields:
                    if target not in self.errors:
                        self.add_error(target, message)
                elif not self.errors:
                    self.add_error(None, message)

    def uploads(self) -> list[IncomingFile]:
        """The files accepted in this request (the view adds the draft's)."""
        return [
            IncomingFile(material_code=c.material_code, filename=c.filename, content=c.content)
            for c in self.accepted.values()
        ]


# Schema fields the window's applicant block answers (asked once, filled in from there).
WINDOW_APPLICANT_SCHEMA = {
    "applicant_name": "name",
    "applicant_id_number": "id_number",
    "contact_name": "name",
    "contact_phone": "phone",
}


class DeliveryChoiceMixin:
    """结果送达方式 (cases.delivery): 电子送达, 邮寄送达 (recipient, mobile, address) or
    窗口自取 (a window of this node). All fields are in the page; the stylesheet shows
    only the chosen method's (without it, all of them, labelled) and the server checks
    the choice with the service's own rule, every wrong field at once."""

    DELIVERY_FIELDS = {
        "delivery.method": "delivery_method",
        "delivery.recipient": "delivery_recipient",
        "delivery.phone": "delivery_phone",
        "delivery.address": "delivery_address",
        "delivery.window": "delivery_window",
    }

    def setup_delivery(self, *, default_window: str = "") -> None:
        from django.conf import settings

        from tongban.directory.models import Window

        self.fields["delivery_method"] = forms.ChoiceField(
            label=_("结果送达方式"),
            choices=[
                ("electronic", _("电子送达（在本平台查看、下载电子文书和电子证照）")),
                ("post", _("邮寄送达（免费邮寄纸质结果）")),
                ("pickup", _("窗口自取（携带身份证到所选窗口领取）")),
            ],
            initial="electronic",
            required=False,
            widget=forms.RadioSelect,
        )
        self.fields["delivery_recipient"] = forms.CharField(
            label=_("收件人"), required=False, max_length=64
        )
        self.fields["delivery_phone"] = forms.CharField(
            label=_("收件人手机号码"),
            required=False,
            max_length=11,
            widget=forms.TextInput(
                attrs={"type": "tel", "inputmode": "numeric", "maxlength": "11"}
            ),
        )
        self.fields["delivery_address"] = forms.CharField(
            label=_("邮寄地址"),
            required=False,
            max_length=200,
            help_text=_("省市区、街道、门牌号"),
            widget=forms.Textarea(attrs={"rows": 2}),
        )
        windows = Window.objects.filter(node__node_id=settings.TONGBAN_NODE, active=True)
        self.fields["delivery_window"] = forms.ChoiceField(
            label=_("领取窗口"),
            required=False,
            choices=[("", _("请选择"))] + [(w.code, w.name) for w in windows.order_by("code")],
            initial=default_window,
        )

    def delivery_fields(self):
        return {
            "method": self["delivery_method"],
            "post": [self[n] for n in ("delivery_recipient", "delivery_phone", "delivery_address")],
            "window": self["delivery_window"],
        }

    def delivery(self) -> dict:
        data = self.cleaned_data
        return {
            "method": data.get("delivery_method") or "electronic",
            "recipient": data.get("delivery_recipient") or "",
            "phone": data.get("delivery_phone") or "",
            "address": data.get("delivery_address") or "",
            "window": data.get("delivery_window") or "",
        }

    def clean_delivery(self, cleaned: dict) -> None:
        from django.conf import settings

        from tongban.cases.delivery import delivery_choice_clean

        if any(name in self.errors for name in self.DELIVERY_FIELDS.values()):
            return
        try:
            delivery_choice_clean(self.delivery(), receiving_node=settings.TONGBAN_NODE)
        except DomainError as error:
            for name, message in ((error.details or {}).get("fields") or {}).items():
                self.add_error(self.DELIVERY_FIELDS.get(name, "delivery_method"), message)

    def apply_domain_error(self, error, field_map=None, *, top=True) -> None:
        super().apply_domain_error(error, {**self.DELIVERY_FIELDS, **(field_map or {})}, top=top)


class ApplyForm(DeliveryChoiceMixin, MaterialUploadsMixin, PortalForm):
    """In-person application at a window (窗口收件)."""

    draft = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput())
    window = forms.ChoiceField(label=_("收件窗口"))
    organization = forms.ChoiceField(label=_("办理机构"))
    applicant_name = forms.CharField(
        label=_("申请人姓名"), max_length=64, widget=forms.TextInput(attrs={"autocomplete": "off"})
    )
    applicant_id_number = forms.CharField(
        label=_("身份证号"),
        max_length=18,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "class": "mono", "inputmode": "text", "maxlength": "18"}
        ),
    )
    applicant_phone = forms.CharField(
        label=_("手机号码"),
        max_length=11,
        widget=forms.TextInput(
            attrs={"type": "tel", "inputmode": "numeric", "autocomplete": "off", "maxlength": "11"}
        ),
    )
    identity_verified = forms.BooleanField(
        label=_("已当面核验身份"),
        help_text=_("核对居民身份证原件与申请人本人一致"),
        error_messages={"required": _("请先当面核验申请人身份")},
    )

    def __init__(self, *args, item, windows, draft_files=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.item = item
        self.materials = list(item.materials.all())
        self.fields["window"].choices = [(w.code, w.name) for w in windows]
        if len(windows) == 1:
            self.fields["window"].initial = windows[0].code
            self.fields["window"].widget = forms.HiddenInput()
        self.fields["organization"].choices = [("", _("请选择"))] + [
            (
                impl.organization.code,
                f"{impl.organization.name}（{node_name(impl.organization.node.node_id)}）",
            )
            for impl in item.implementations.all()
        ]
        self.schema = [s for s in item.form_schema if s["name"] not in WINDOW_APPLICANT_SCHEMA]
        for spec in self.schema:
            self.fields[f"f_{spec['name']}"] = schema_field(spec)
        self.setup_materials(draft_files)
        self.setup_data_checks()
        self.setup_delivery(default_window=windows[0].code if windows else "")
        self.add_licence_fields(
            {
                m.code: forms.CharField(
                    label=_("%(name)s：扫描申请人出示的《%(type)s》亮证码（免交）")
                    % {"name": m.name, "type": m.licence_type},
                    required=False,
                    max_length=8000,
                    widget=forms.TextInput(attrs={"autocomplete": "off", "class": "mono"}),
                    help_text=_("亮证码须包含持证人证件号码；留空则上传材料"),
                )
                for m in self.materials
                if m.licence_type
            },
            _("申请人当面同意：办理机构可向发证机构调取所出示的电子证照，仅用于本次办理"),
        )

    licence_key = "qr_text"

    def clean(self):
        cleaned = super().clean()
        # the applicant: every wrong field at once (the service's own rule)
        try:
            person_fields_clean(
                name=cleaned.get("applicant_name") or "",
                id_number=cleaned.get("applicant_id_number") or "",
                phone=cleaned.get("applicant_phone") or "",
            )
        except DomainError as error:
            for name, message in ((error.details or {}).get("fields") or {}).items():
                target = APPLICANT_FIELDS.get(name)
                if target and target not in self.errors:
                    self.add_error(target, message)
        self.clean_schema(self.form_data(), self.field_map())
        self.clean_materials(cleaned)
        self.clean_delivery(cleaned)
        return cleaned

    # groups for the template
    def applicant_fields(self):
        return [self[n] for n in ("applicant_name", "applicant_id_number", "applicant_phone")]

    def schema_fields(self):
        return [self[f"f_{spec['name']}"] for spec in self.schema]

    def field_map(self) -> dict[str, str]:
        return {
            **APPLICANT_FIELDS,
            **{name: APPLICANT_FIELDS[key] for name, key in WINDOW_APPLICANT_SCHEMA.items()},
            **{spec["name"]: f"f_{spec['name']}" for spec in self.schema},
        }

    def applicant(self) -> dict:
        return {
            "name": self.cleaned_data.get("applicant_name") or "",
            "id_number": self.cleaned_data.get("applicant_id_number") or "",
            "phone": self.cleaned_data.get("applicant_phone") or "",
        }

    def form_data(self) -> dict:
        data = {
            spec["name"]: self.cleaned_data.get(f"f_{spec['name']}", "")
            for spec in self.schema
            if self.cleaned_data.get(f"f_{spec['name']}", "") not in ("", None)
        }
        applicant = self.applicant()
        for spec in self.item.form_schema:
            key = WINDOW_APPLICANT_SCHEMA.get(spec["name"])
            if key and applicant[key]:
                data[spec["name"]] = applicant[key]
        return data


def _incoming(cleaned: dict, materials) -> list[IncomingFile]:
    files = []
    for material in materials:
        upload = cleaned.get(f"m_{material.code}")
        if upload:
            files.append(
                IncomingFile(
                    material_code=material.code, filename=upload.name, content=upload.read()
                )
            )
    return files


# --- decisions on a case ------------------------------------------------------


class NoteForm(PortalForm):
    note = forms.CharField(
        label=_("说明（可选）"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class ReasonForm(PortalForm):
    reason = forms.CharField(
        label=_("理由"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("请填写理由")},
    )


def confirm_field(label) -> forms.BooleanField:
    """A required tick before an irreversible decision: works without JavaScript."""
    return forms.BooleanField(
        label=label,
        error_messages={"required": _("请勾选确认：此决定作出后不可撤回")},
        widget=forms.CheckboxInput(attrs={"class": "confirm-irreversible"}),
    )


class ApproveForm(NoteForm):
    """准予许可: issues the result; cannot be undone."""

    confirm = confirm_field(_("确认准予许可：将出具办理结果，不可撤回"))


class RefuseForm(ReasonForm):
    """不予受理: ends the case; cannot be undone."""

    confirm = confirm_field(_("确认不予受理：办件将办结，不可撤回"))


class DenyForm(ReasonForm):
    """不予许可: ends the case; cannot be undone."""

    confirm = confirm_field(_("确认不予许可：办件将办结，不可撤回"))


class WithdrawForm(PortalForm):
    """撤回: the applicant or the receiving window, before acceptance; cannot be undone."""

    reason = forms.CharField(
        label=_("撤回原因（可选）"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    confirm = forms.BooleanField(
        label=_("确认撤回：办件将终止办理，撤回后不可恢复"),
        error_messages={"required": _("请勾选确认撤回")},
        widget=forms.CheckboxInput(attrs={"class": "confirm-irreversible"}),
    )


class SupplementRequestForm(PortalForm):
    """一次性告知补正: which materials, why, and an overall note."""

    other = forms.CharField(label=_("其他需补正事项"), required=False, max_length=500)
    note = forms.CharField(
        label=_("总体说明"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, materials, **kwargs):
        super().__init__(*args, **kwargs)
        self.materials = list(materials)
        for m in self.materials:
            self.fields[f"need_{m.code}"] = forms.BooleanField(label=m.name, required=False)
            self.fields[f"why_{m.code}"] = forms.CharField(
                label=_("“%(name)s”需补正的内容") % {"name": m.name}, required=False, max_length=500
            )
        self.order_fields(
            [f for m in self.materials for f in (f"need_{m.code}", f"why_{m.code}")]
            + ["other", "note"]
        )

    def material_rows(self):
        return [(self[f"need_{m.code}"], self[f"why_{m.code}"]) for m in self.materials]

    def missing(self) -> list[dict]:
        data = self.cleaned_data
        rows = [
            {"material_code": m.code, "note": data.get(f"why_{m.code}", "")}
            for m in self.materials
            if data.get(f"need_{m.code}")
        ]
        if data.get("other"):
            rows.append({"material_code": "", "note": data["other"]})
        return rows


class SupplyForm(PortalForm):
    """补正提交 at the receiving window: one file input per requested material."""

    note = forms.CharField(
        label=_("说明（可选）"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, item_materials, requested_codes, **kwargs):
        super().__init__(*args, **kwargs)
        requested = [m for m in item_materials if m.code in requested_codes]
        # A request that only names free-text issues may be answered with any material.
        self.materials = requested or list(item_materials)
        for m in self.materials:
            self.fields[f"m_{m.code}"] = material_field(m, required=False)
        self.order_fields([f"m_{m.code}" for m in self.materials] + ["note"])

    def material_fields(self):
        return [self[f"m_{m.code}"] for m in self.materials]

    def clean(self):
        cleaned = super().clean()
        for m in self.materials:
            try:
                check_size(cleaned.get(f"m_{m.code}"), m)
            except forms.ValidationError as exc:
                self.add_error(f"m_{m.code}", exc)
        return cleaned

    def uploads(self) -> list[IncomingFile]:
        return _incoming(self.cleaned_data, self.materials)


# --- signing in and registering -------------------------------------------------


class LoginForm(PortalForm):
    username = forms.CharField(
        label=_("用户名"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )
    password = forms.CharField(
        label=_("密码"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class CodeForm(PortalForm):
    code = forms.CharField(
        label=_("短信验证码"),
        min_length=6,
        max_length=6,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "maxlength": "6",
                "pattern": "[0-9]{6}",
                "class": "code-input mono",
            }
        ),
        error_messages={
            "required": _("请输入短信验证码"),
            "min_length": _("验证码为 6 位数字"),
            "max_length": _("验证码为 6 位数字"),
        },
    )

    def clean_code(self):
        code = self.cleaned_data["code"]
        if not code.isdigit():
            raise forms.ValidationError(_("验证码为 6 位数字"), code="digits")
        return code


class InPersonCheckForm(PortalForm):
    """当面核验: a clerk confirms, ID card in hand, that an account is the person's."""

    window = forms.ChoiceField(label=_("受理窗口"))
    id_number = forms.CharField(
        label=_("身份证号"),
        max_length=18,
        help_text=_("核对本人身份证原件"),
        widget=forms.TextInput(attrs={"autocomplete": "off", "class": "mono", "maxlength": "18"}),
    )
    phone = forms.CharField(
        label=_("注册手机号码"),
        max_length=11,
        help_text=_("本人注册账号时填写的手机号码"),
        widget=forms.TextInput(attrs={"type": "tel", "inputmode": "numeric", "maxlength": "11"}),
    )
    checked = forms.BooleanField(
        label=_("已核对身份证原件与本人一致"),
        error_messages={"required": _("请先当面核对身份证原件")},
    )

    def __init__(self, *args, windows, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["window"].choices = [(w.code, w.name) for w in windows]


class RegisterForm(PortalForm):
    """个人注册: real name, 身份证号 and mobile are checked by the service."""

    name = forms.CharField(
        label=_("姓名"), max_length=64, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    id_number = forms.CharField(
        label=_("身份证号"),
        max_length=18,
        widget=forms.TextInput(attrs={"autocomplete": "off", "class": "mono", "maxlength": "18"}),
    )
    phone = forms.CharField(
        label=_("手机号码"),
        max_length=11,
        help_text=_("用于接收验证码；验证通过后账号实名等级为“在线实名”"),
        widget=forms.TextInput(
            attrs={"type": "tel", "inputmode": "numeric", "autocomplete": "tel", "maxlength": "11"}
        ),
    )
    username = forms.CharField(
        label=_("用户名"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )
    password1 = forms.CharField(
        label=_("设置密码"),
        strip=False,
        help_text=_("至少 8 位，不要使用常见密码"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label=_("确认密码"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    FIELD_MAP = {"name": "name", "id_number": "id_number", "phone": "phone"}
    CODE_FIELDS = {
        "invalid_username": "username",
        "username_taken": "username",
        "weak_password": "password1",
    }

    def clean(self):
        """Every rule the registration service applies, so that one answer lists them all."""
        cleaned = super().clean()
        try:
            person_fields_clean(
                name=cleaned.get("name") or "",
                id_number=cleaned.get("id_number") or "",
                phone=cleaned.get("phone") or "",
            )
        except DomainError as error:
            for name, message in ((error.details or {}).get("fields") or {}).items():
                if name in self.fields and name not in self.errors:
                    self.add_error(name, message)
        if "id_number" not in self.errors and cleaned.get("id_number"):
            try:
                home_node_require_here(cleaned["id_number"].strip().upper())
            except DomainError as error:
                self.add_error("id_number", error.message)
        username = (cleaned.get("username") or "").strip()
        if username and "username" not in self.errors:
            from tongban.identity.models import User

            if User.objects.filter(username=username).exists():
                self.add_error("username", _("用户名已被使用"))
        password = cleaned.get("password1")
        if password and cleaned.get("password2") and password != cleaned["password2"]:
            self.add_error("password2", _("两次输入的密码不一致"))
        if password and "password1" not in self.errors:
            try:
                validate_password(password)
            except ValidationError as exc:
                self.add_error("password1", " ".join(exc.messages))
        return cleaned

    def apply_register_error(self, error: DomainError) -> None:
        target = self.CODE_FIELDS.get(error.code)
        if target:
            self.add_error(target, error.message)
        else:
            self.apply_domain_error(error, self.FIELD_MAP)


# --- online application (全程网办) ------------------------------------------------

USCC_CHARS = re.compile(r"[0-9A-Z]{18}")


class EnterpriseChoiceField(forms.ChoiceField):
    """The enterprises the person may act for are offered, but any well-formed code is
    passed on: whether the person may act for it (now, for this item) is the service's
    decision, and its refusal explains why."""

    def valid_value(self, value) -> bool:
        return value == "" or bool(USCC_CHARS.fullmatch(str(value)))


class OnlineApplyForm(DeliveryChoiceMixin, MaterialUploadsMixin, PortalForm):
    draft = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput())
    organization = forms.ChoiceField(label=_("办理机构"))
    enterprise = EnterpriseChoiceField(label=_("以企业名义申请"), required=False)

    def __init__(
        self,
        *args,
        item,
        person,
        enterprises: list[tuple[str, str, str]],
        wallet=None,
        draft_files=None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.item = item
        self.person = person
        self.materials = list(item.materials.all())
        self.enterprise_names = {code: name for code, name, _label in enterprises}
        self.fields["organization"].choices = [("", _("请选择"))] + [
            (
                impl.organization.code,
                f"{impl.organization.name}（{node_name(impl.organization.node.node_id)}）",
            )
            for impl in item.implementations.all()
        ]
        # an existing enterprise's code and name can come from the chosen enterprise
        self.fills_from_enterprise = (
            item.audience == "enterprise" and item.result_kind != "business_licence"
        )
        if item.audience == "enterprise":
            empty = (
                _("不以企业名义（新设企业）")
                if item.result_kind == "business_licence"
                else _("请选择企业")
            )
            self.fields["enterprise"].choices = [("", empty)] + [
                (code, label) for code, _name, label in enterprises
            ]
            self.fields["enterprise"].help_text = _(
                "可选择您担任法定代表人的企业，或授权您办理此事项的企业"
            )
        else:
            del self.fields["enterprise"]
        # what the account already answers is not asked again (shown in the applicant block)
        self.from_account = {"applicant_name": person.name, "applicant_id_number": person.id_number}
        if person.name:
            self.from_account["contact_name"] = person.name
        if person.phone:
            self.from_account["contact_phone"] = person.phone
        self.schema = [s for s in item.form_schema if s["name"] not in self.from_account]
        for spec in self.schema:
            field = schema_field(spec)
            if self.fills_from_enterprise and (
                spec.get("type") == "uscc" or spec["name"] == "company_name"
            ):
                field.required = False
                field.help_text = _("留空则使用所选企业的信息")
            self.fields[f"f_{spec['name']}"] = field
        self.setup_materials(draft_files)
        self.setup_data_checks()
        self.setup_delivery()
        self.add_licence_fields(
            self._wallet_choices(wallet or []),
            _(
                "我同意：办理机构可向发证机构调取所选电子证照，仅用于本次办理（用证记录可在证照夹查看）"
            ),
        )

    licence_key = "identifier"

    def _wallet_choices(self, wallet) -> dict[str, forms.Field]:
        fields = {}
        for material in self.materials:
            options = [
                (
                    e.identifier,
                    f"《{e.type_name}》{e.issuer_name}（有效期至 {e.valid_to or '长期'}）",
                )
                for e in wallet
                if e.type_name == material.licence_type
            ]
            if options:
                fields[material.code] = forms.ChoiceField(
                    label=_("%(name)s：使用证照夹中的电子证照（免交）") % {"name": material.name},
                    choices=[("", _("不使用，上传文件"))] + options,
                    required=False,
                )
        return fields

    def schema_fields(self):
        return [self[f"f_{spec['name']}"] for spec in self.schema]

    def field_map(self) -> dict[str, str]:
        return {
            **{spec["name"]: f"f_{spec['name']}" for spec in self.schema},
            "enterprise_code": "enterprise",
        }

    @property
    def enterprise_code(self) -> str:
        return self.cleaned_data.get("enterprise") or ""

    def form_data(self) -> dict:
        data = {
            spec["name"]: self.cleaned_data.get(f"f_{spec['name']}", "")
            for spec in self.schema
            if self.cleaned_data.get(f"f_{spec['name']}", "") not in ("", None)
        }
        names = {s["name"] for s in self.item.form_schema}
        for name, value in self.from_account.items():
            if name in names and value:
                data[name] = value
        code = self.enterprise_code
        if self.fills_from_enterprise and code:
            for spec in self.schema:
                if spec.get("type") == "uscc":
                    data.setdefault(spec["name"], code)
                elif spec["name"] == "company_name" and code in self.enterprise_names:
                    data.setdefault(spec["name"], self.enterprise_names[code])
        return data

    def clean(self):
        cleaned = super().clean()
        self.clean_schema(self.form_data(), self.field_map())
        self.clean_materials(cleaned)
        self.clean_delivery(cleaned)
        return cleaned

    def draft_data(self) -> dict:
        """The answers to keep with 保存草稿 (raw, as entered; no files)."""
        names = ["organization", "enterprise", *(f"f_{s['name']}" for s in self.schema)]
        names += [f"l_{code}" for code in self.licence_codes]
        names += list(self.DELIVERY_FIELDS.values())
        return {n: self.data.get(n, "") for n in names if n in self.fields and self.data.get(n)}


# --- enterprises and agents ------------------------------------------------------


class EnterpriseRegisterForm(PortalForm):
    code = forms.CharField(
        label=_("统一社会信用代码"),
        max_length=18,
        widget=forms.TextInput(attrs={"autocomplete": "off", "class": "mono", "maxlength": "18"}),
    )
    # the name comes from the registering authority's 企业登记信息, never from this form

    def clean_code(self):
        code = self.cleaned_data["code"].strip().upper()
        if not uscc.is_valid(code):
            raise forms.ValidationError(_("统一社会信用代码无效"), code="invalid_uscc")
        return uscc.compact(code)

    def apply_register_error(self, error: DomainError) -> None:
        target = {"invalid_uscc": "code", "enterprise_exists": "code", "registry_unknown": "code"}
        if error.code in target:
            self.add_error(target[error.code], error.message)
        else:
            self.apply_domain_error(error)


class AgentAuthorizeForm(PortalForm):
    agent_name = forms.CharField(label=_("经办人姓名"), max_length=64)
    agent_id_number = forms.CharField(
        label=_("经办人身份证号"),
        max_length=18,
        widget=forms.TextInput(attrs={"autocomplete": "off", "class": "mono", "maxlength": "18"}),
    )
    all_items = forms.BooleanField(
        label=_("全部事项"), required=False, help_text=_("授权办理本企业的全部法人事项")
    )
    items = forms.MultipleChoiceField(
        label=_("授权事项"), required=False, widget=forms.CheckboxSelectMultiple
    )
    expires_on = forms.DateField(
        label=_("授权有效期至"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_("含当日，最长三年"),
    )

    def __init__(self, *args, items, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["items"].choices = [(i.basic_code, i.name) for i in items]

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("all_items") and not cleaned.get("items"):
            self.add_error("items", _("请选择授权事项，或勾选“全部事项”"))
        agent_id = (cleaned.get("agent_id_number") or "").strip().upper()
        if agent_id and not id_number_is_valid(agent_id):
            self.add_error("agent_id_number", _("身份证号码无效"))
        day = cleaned.get("expires_on")
        if day is not None:
            today = timezone.localdate()
            if day < today:
                self.add_error("expires_on", _("授权有效期须晚于当前时间"))
            elif day > today + dt.timedelta(days=366 * 3 - 1):
                self.add_error("expires_on", _("授权有效期最长三年"))
        return cleaned

    def item_codes(self) -> list[str]:
        return [] if self.cleaned_data.get("all_items") else list(self.cleaned_data["items"])

    def expires_at(self):
        day = self.cleaned_data["expires_on"]
        return timezone.make_aware(dt.datetime.combine(day, dt.time(23, 59, 59)))

    def apply_authorize_error(self, error: DomainError) -> None:
        target = {
            "invalid_agent": "agent_id_number",
            "identity_mismatch": "agent_name",
            "invalid_expiry": "expires_on",
            "unknown_item": "items",
        }
        if error.code in target:
            self.add_error(target[error.code], error.message)
        else:
            self.apply_domain_error(error)
