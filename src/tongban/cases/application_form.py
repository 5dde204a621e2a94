"""Validation of an application against the item's form schema (申请表)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _
from stdnum.cn import uscc

from tongban.errors import DomainError
from tongban.identity.residence import id_number_compact, id_number_is_valid
from tongban.identity.services import MOBILE_RE

INTEGER_MAX_DIGITS = 15
INTEGER_RE = re.compile(rf"-?[0-9]{{1,{INTEGER_MAX_DIGITS}}}")
# a decimal field's default bounds; a form schema may set "max_digits" and "decimal_places"
DECIMAL_MAX_DIGITS = 18
DECIMAL_PLACES = 6


def _clean_decimal(field: dict, text: str) -> str:
    """A non-negative number in plain decimal notation (``500``, ``12.5``), within the
    field's digits: no exponent (``1e400``), no NaN or infinity, no signs, no
    thousands separators — what is stored is what a person would write."""
    max_digits = int(field.get("max_digits", DECIMAL_MAX_DIGITS))
    places = int(field.get("decimal_places", DECIMAL_PLACES))
    whole = max(max_digits - places, 1)
    pattern = rf"[0-9]{{1,{whole}}}" + (rf"(\.[0-9]{{1,{places}}})?" if places else "")
    if not re.fullmatch(pattern, text):
        raise ValueError(
            _(
                "应为数字（非负，整数部分不超过 %(whole)s 位、小数不超过 %(places)s 位，如 500 或 12.5）"
            )
            % {"whole": whole, "places": places}
        )
    try:
        value = Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover — the pattern admits only numbers
        raise ValueError(_("应为数字")) from exc
    return str(value)


def _clean_field(field: dict, raw: object) -> object:
    kind = field.get("type", "text")
    text = "" if raw is None else str(raw).strip()
    if kind in ("text", "textarea"):
        if len(text) > field.get("max_length", 500 if kind == "text" else 5000):
            raise ValueError(_("超过最大长度 %(n)s") % {"n": field.get("max_length")})
        return text
    if kind == "integer":
        if not INTEGER_RE.fullmatch(text):
            raise ValueError(_("应为不超过 %(n)s 位的整数") % {"n": INTEGER_MAX_DIGITS})
        return int(text)
    if kind == "decimal":
        return _clean_decimal(field, text)
    if kind == "date":
        try:
            return dt.date.fromisoformat(text).isoformat()
        except ValueError as exc:
            raise ValueError(_("日期格式应为 YYYY-MM-DD")) from exc
    if kind == "select":
        # a choice is a plain string or {"value", "label"}; the value is what is stored
        values = [c.get("value") if isinstance(c, dict) else c for c in field.get("choices", [])]
        if text not in values:
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


def answer_shown(field: dict | None, value: object) -> str:
    """An answer as people read it: a select's label ("江苏省") rather than its stored
    value ("320000"); other answers as they are."""
    text = "" if value is None else str(value)
    for choice in (field or {}).get("choices") or []:
        if isinstance(choice, dict) and str(choice.get("value")) == text:
            return str(choice.get("label") or text)
    return text
