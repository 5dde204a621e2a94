"""Validation of an application against the item's form schema (申请表)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _
from stdnum.cn import uscc

from tongban.errors import DomainError
from tongban.identity.residence import id_number_compact, id_number_is_valid
from tongban.identity.services import MOBILE_RE


def _clean_field(field: dict, raw: object) -> object:
    kind = field.get("type", "text")
    text = "" if raw is None else str(raw).strip()
    if kind in ("text", "textarea"):
        if len(text) > field.get("max_length", 500 if kind == "text" else 5000):
            raise ValueError(_("超过最大长度 %(n)s") % {"n": field.get("max_length")})
        return text
    if kind == "integer":
        try:
            return int(text)
        except ValueError as exc:
            raise ValueError(_("应为整数")) from exc
    if kind == "decimal":
        try:
            value = Decimal(text)
        except InvalidOperation as exc:
            raise ValueError(_("应为数字")) from exc
        if not value.is_finite() or value < 0:
            raise ValueError(_("应为非负数字"))
        return str(value)
    if kind == "date":
        try:
            return dt.date.fromisoformat(text).isoformat()
        except ValueError as exc:
            raise ValueError(_("日期格式应为 YYYY-MM-DD")) from exc
    if kind == "select":
        if text not in field.get("choices", []):
            raise ValueError(_("不是可选的值"))
        return text
    if kind == "phone":
        if not MOBILE_RE.match(text):
            raise ValueError(_("手机号码格式不正确"))
        return text
    if kind == "id_number":
        if not id_number_is_valid(text):
            raise ValueError(_("身份证号码无效"))
        return id_number_compact(text)
    if kind == "uscc":
        if not uscc.is_valid(text):
            raise ValueError(_("统一社会信用代码无效"))
        return uscc.compact(text)
    raise ValueError(_("未知的字段类型"))


def application_form_clean(schema: list[dict], data: object) -> dict:
    """Clean ``data``; raise one DomainError listing every invalid field."""
    if not isinstance(data, dict):
        raise DomainError("invalid_form", _("申请表数据格式不正确"))
    errors: dict[str, str] = {}
    cleaned: dict[str, object] = {}
    known = {f["name"] for f in schema}
    for name in data:
        if name not in known:
            errors[name] = _("不是该事项申请表中的字段")
    for field in schema:
        raw = data.get(field["name"])
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if field.get("required"):
                errors[field["name"]] = _("%(label)s为必填项") % {"label": field["label"]}
            continue
        try:
            cleaned[field["name"]] = _clean_field(field, raw)
        except ValueError as exc:
            errors[field["name"]] = f"{field['label']}：{exc}"
    if errors:
        raise DomainError("invalid_form", _("申请表填写有误"), details={"fields": errors})
    return cleaned
