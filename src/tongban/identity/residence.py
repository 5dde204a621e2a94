"""Who a person is, from their 居民身份证号码: whether the number is valid, and which
node of the region is their home.

A number is valid when it has 18 characters, a correct GB 11643 check character,
a real birth date not in the future, and an area code that exists or existed
(python-stdnum's table). python-stdnum also refuses an area code created after
the birth year; people whose 户籍 was registered or renamed later carry such
numbers, so that stricter check is only reported (``id_number_warnings``).

The home node is the province of the area code: one node per person for the
whole region, derived the same way everywhere (ADR 0010). A number from outside
the region has no home node here.
"""

from __future__ import annotations

import datetime as dt

from stdnum import numdb
from stdnum.cn import ric
from stdnum.exceptions import ValidationError


def id_number_compact(number: str) -> str:
    return ric.compact(str(number or "")).upper()


def id_number_is_valid(number: str) -> bool:
    number = id_number_compact(number)
    if len(number) != 18 or not number[:-1].isdigit():
        return False
    try:
        if number[-1] != ric.calc_check_digit(number):
            return False
        born = ric.get_birth_date(number)
    except (ValidationError, ValueError):
        return False
    if born > dt.date.today() or born.year < 1880:
        return False
    found = {k for _part, props in numdb.get("cn/loc").info(number[:6]) for k in props}
    return "county" in found


def id_number_warnings(number: str) -> list[str]:
    """Findings that do not make a number invalid (the area code's history)."""
    if not id_number_is_valid(number) or ric.is_valid(id_number_compact(number)):
        return []
    return ["area_code_assigned_after_birth_year"]


def home_node_of(id_number: str) -> str:
    """The region node whose province issued this 身份证号 ('' outside the region)."""
    from tongban.directory.models import Node

    number = id_number_compact(id_number)
    if len(number) < 2:
        return ""
    for node_id, region in Node.objects.filter(role="node", active=True).values_list(
        "node_id", "region"
    ):
        if region and region[:2] == number[:2]:
            return node_id
    return ""
