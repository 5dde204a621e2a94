"""Race-free allocation of case numbers and 统一社会信用代码.

Both use an allocation table row locked for update (SQLite: the IMMEDIATE
write transaction), so concurrent requests never draw the same number.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils.translation import gettext as _
from stdnum.cn import uscc

from tongban.cases.models import CaseNumberCounter, CreditCodeCounter
from tongban.errors import DomainError

# 办件编号 = 实施编码 (31) + 收件日期 yyyyMMdd (8) + 收件省份代码 (2) + 当日流水号 (5)
CASE_SEQUENCE_WIDTH = 5


def _next(model, **lookup) -> int:
    with transaction.atomic():
        row, _ = model.objects.select_for_update().get_or_create(**lookup)
        row.last += 1
        row.save(update_fields=["last"])
        return row.last


def case_number_allocate(*, implementation_code: str, day: dt.date, province: str) -> str:
    prefix = f"{implementation_code}{day:%Y%m%d}{province}"
    seq = _next(CaseNumberCounter, prefix=prefix)
    if seq >= 10**CASE_SEQUENCE_WIDTH:
        raise DomainError(
            "sequence_exhausted", _("该事项今日办件编号已用尽，请明日再报"), status=503
        )
    return f"{prefix}{seq:0{CASE_SEQUENCE_WIDTH}d}"


# GB 11714 主体标识码 (organization code): 8 characters + check character.
_ORG_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # the USCC alphabet (no I O S V Z)
_GB11714_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def _gb11714_value(ch: str) -> int:
    return int(ch) if ch.isdigit() else ord(ch) - ord("A") + 10


def gb11714_check(body: str) -> str:
    total = sum(_gb11714_value(c) * w for c, w in zip(body, _GB11714_WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def credit_code_allocate(*, region: str) -> str:
    """A new 统一社会信用代码 for an enterprise registered in ``region``.

    9 (工商) + 1 (企业) + region (6) + 主体标识码 ("MA" + 6 allocated chars +
    GB 11714 check) + GB 32100 check character (stdnum).
    """
    seq = _next(CreditCodeCounter, region=region)
    digits = []
    n = seq
    for _position in range(6):
        n, r = divmod(n, len(_ORG_ALPHABET))
        digits.append(_ORG_ALPHABET[r])
    if n:
        raise DomainError("sequence_exhausted", _("该区划统一社会信用代码号段已用尽"), status=503)
    body = "MA" + "".join(reversed(digits))
    org_code = body + gb11714_check(body)
    partial = f"91{region}{org_code}"
    code = partial + uscc.calc_check_digit(partial)
    return uscc.validate(code)
