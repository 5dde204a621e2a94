"""Strict I-JSON (RFC 7493) parsing for every signed or hashed document from outside.

Two parsers that disagree about one document are a forgery tool: Python's
``json`` keeps the *last* of two equal member names, another province's parser
may keep the *first*; a lone surrogate or an integer beyond 2^53 - 1 reads
differently in different languages.  A signature checked over the canonical
(RFC 8785) form of what *we* understood does not prove that a peer understood
the same thing.  So every signed or hashed document that comes from outside is
parsed here, and refused unless it is I-JSON:

* bytes are strict UTF-8: no byte order mark, no UTF-16/32, no encoded
  surrogates (``not_utf8``);
* no object has two members with the same name (``duplicate_member``);
* no string, value or member name, holds a lone surrogate, escaped
  (``"\\ud800"``) or not (``lone_surrogate``);
* integers lie within ±(2^53 - 1), also when written as ``6.6e16`` (RFC 8785
  would write that as integer digits); other numbers are finite doubles, so
  ``1e400`` (which overflows to infinity), ``NaN`` and ``Infinity`` are refused
  (``number_out_of_range``);
* nesting is at most ``max_depth`` deep, checked by a scan *before* the
  recursive decoder runs, so a document of 50,000 ``[`` is refused and never
  reaches Python's recursion limit (``too_deep``);
* the document is at most ``max_bytes`` UTF-8 bytes (``too_large``);
* anything else that is not one JSON text is ``invalid_json``.

This module is the bottom layer: it imports nothing from other tongban apps.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_DEPTH",
    "MAX_SAFE_INTEGER",
    "REASONS",
    "StrictJSONError",
    "loads_strict",
]

#: The largest integer every I-JSON parser represents exactly (2^53 - 1).
MAX_SAFE_INTEGER = 2**53 - 1
#: Size bound used when the caller gives none (``max_bytes=None``).
DEFAULT_MAX_BYTES = 4 * 1024 * 1024
DEFAULT_MAX_DEPTH = 64

REASONS = frozenset(
    {
        "duplicate_member",
        "lone_surrogate",
        "number_out_of_range",
        "too_deep",
        "too_large",
        "invalid_json",
        "not_utf8",
    }
)

# A JSON string literal, "unrolled loop" form: linear time, no backtracking.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
# More digits than any safe integer has: refused before int() runs on it.
_MAX_INT_DIGITS = len(str(MAX_SAFE_INTEGER))


class StrictJSONError(ValueError):
    """The document is not strict I-JSON; ``reason`` says why, in one word."""

    def __init__(self, reason: str, detail: str = "") -> None:
        assert reason in REASONS, reason
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


def _check_depth(text: str, max_depth: int) -> None:
    """Refuse nesting deeper than ``max_depth`` without recursing.

    Brackets inside string literals do not count.  An unterminated string only
    makes the estimate larger, and such a document is invalid anyway.
    """
    if text.count("[") + text.count("{") <= max_depth:
        return
    depth = 0
    for match in _BRACKETS.finditer(_STRING.sub("", text)):
        if match.group() in "[{":
            depth += 1
            if depth > max_depth:
                raise StrictJSONError("too_deep", f"nesting deeper than {max_depth}")
        else:
            depth -= 1


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise StrictJSONError("duplicate_member", f"member {name!r} appears twice")
            seen.add(name)
    return result


def _int(literal: str) -> int:
    if len(literal.lstrip("-")) > _MAX_INT_DIGITS:
        raise StrictJSONError("number_out_of_range", "integer beyond ±(2^53 - 1)")
    value = int(literal)
    if abs(value) > MAX_SAFE_INTEGER:
        raise StrictJSONError("number_out_of_range", "integer beyond ±(2^53 - 1)")
    return value


def _float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise StrictJSONError("number_out_of_range", "number overflows a double")
    if MAX_SAFE_INTEGER < abs(value) < 1e21 and value.is_integer():
        # RFC 8785 writes such a double as integer digits (6.6e16 → 66000000000000000),
        # which no I-JSON reader may take: refuse it here, not in the next reader
        raise StrictJSONError("number_out_of_range", "integer value beyond ±(2^53 - 1)")
    return value


def _constant(literal: str) -> Any:
    raise StrictJSONError("number_out_of_range", f"{literal} is not a JSON number")


def _check_strings(value: Any) -> None:
    """Refuse lone surrogates in any string, member names included."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise StrictJSONError("lone_surrogate", "string holds a lone surrogate")
        elif isinstance(item, dict):
            for name, member in item.items():
                if _SURROGATE.search(name):
                    raise StrictJSONError("lone_surrogate", "member name holds a lone surrogate")
                stack.append(member)
        elif isinstance(item, list):
            stack.extend(item)


def loads_strict(
    data: bytes | bytearray | memoryview | str,
    *,
    max_bytes: int | None = None,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> Any:
    """Parse one I-JSON text, or raise :class:`StrictJSONError`.

    ``max_bytes`` bounds the UTF-8 size (``None``: :data:`DEFAULT_MAX_BYTES`);
    ``max_depth`` bounds the nesting of arrays and objects.
    """
    limit = DEFAULT_MAX_BYTES if max_bytes is None else max_bytes
    if isinstance(data, str):
        if len(data) > limit:
            raise StrictJSONError("too_large", f"more than {limit} bytes")
        try:
            size = len(data.encode("utf-8"))
        except UnicodeEncodeError:
            raise StrictJSONError("lone_surrogate", "text holds a lone surrogate") from None
        if size > limit:
            raise StrictJSONError("too_large", f"more than {limit} bytes")
        text = data
    elif isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
        if len(raw) > limit:
            raise StrictJSONError("too_large", f"more than {limit} bytes")
        if raw.startswith(_BOMS):
            raise StrictJSONError("not_utf8", "byte order mark")
        try:
            text = raw.decode("utf-8", errors="strict")
        except UnicodeDecodeError:
            raise StrictJSONError("not_utf8", "not UTF-8") from None
    else:
        raise TypeError(f"loads_strict takes bytes or str, not {type(data).__name__}")
    if text.startswith("\ufeff"):
        raise StrictJSONError("not_utf8", "byte order mark")
    _check_depth(text, max_depth)
    try:
        value = json.loads(
            text,
            object_pairs_hook=_object,
            parse_int=_int,
            parse_float=_float,
            parse_constant=_constant,
        )
    except StrictJSONError:
        raise
    except RecursionError:  # not reachable with a sane max_depth; belt and braces
        raise StrictJSONError("too_deep", "nesting too deep") from None
    except (json.JSONDecodeError, ValueError) as exc:
        raise StrictJSONError("invalid_json", str(exc)[:200]) from None
    _check_strings(value)
    return value
