"""The strict I-JSON parser used for every signed or hashed document from outside."""

import json

import pytest

from tongban.gm.strict_json import MAX_SAFE_INTEGER, StrictJSONError, loads_strict


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (b'{"valid_to":"2020-01-01","valid_to":"2099-01-01"}', "duplicate_member"),
        (b'{"a":{"b":1,"b":1}}', "duplicate_member"),
        (b'"\\ud800"', "lone_surrogate"),
        (b'["ok","\\udfff"]', "lone_surrogate"),
        (b'{"\\ud800":1}', "lone_surrogate"),
        ('{"a":"\ud800"}', "lone_surrogate"),
        (str(MAX_SAFE_INTEGER + 1).encode(), "number_out_of_range"),
        (str(-MAX_SAFE_INTEGER - 1).encode(), "number_out_of_range"),
        (b"1" * 5000, "number_out_of_range"),
        (b"1e400", "number_out_of_range"),
        (b"-1e400", "number_out_of_range"),
        (b"6.6e16", "number_out_of_range"),
        (b"-9007199254740992.0", "number_out_of_range"),
        (b"[NaN]", "number_out_of_range"),
        (b"Infinity", "number_out_of_range"),
        (b"-Infinity", "number_out_of_range"),
        (b'{"a":' + b"[" * 50_000, "too_deep"),
        (b"[" * 65 + b"]" * 65, "too_deep"),
        (b"\xef\xbb\xbf{}", "not_utf8"),
        ("\ufeff{}", "not_utf8"),
        ('{"a":1}'.encode("utf-16"), "not_utf8"),
        (b'{"a":"\xed\xa0\x80"}', "not_utf8"),
        (b'{"a":"\xff"}', "not_utf8"),
        (b"[1,]", "invalid_json"),
        (b"{} {}", "invalid_json"),
        (b"", "invalid_json"),
        (b'"a\x01"', "invalid_json"),
    ],
)
def test_refusals_carry_a_reason(document, reason):
    with pytest.raises(StrictJSONError) as caught:
        loads_strict(document)
    assert caught.value.reason == reason
    assert isinstance(caught.value, ValueError)


def test_size_is_bounded():
    with pytest.raises(StrictJSONError) as caught:
        loads_strict(b'"' + b"x" * 100 + b'"', max_bytes=50)
    assert caught.value.reason == "too_large"
    with pytest.raises(StrictJSONError) as caught:
        loads_strict('"' + "证" * 30 + '"', max_bytes=50)  # 92 UTF-8 bytes, 32 characters
    assert caught.value.reason == "too_large"


@pytest.mark.parametrize(
    "document",
    [
        b'{"a":[1,-2,3.5,true,false,null,"x"],"b":{"c":"\\ud83d\\ude00"}}',
        str(MAX_SAFE_INTEGER).encode(),
        str(-MAX_SAFE_INTEGER).encode(),
        b'{"s":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}',
        '{"名称":"电子证照"}'.encode(),
        b"1e-400",
        b"1e21",
        b"9007199254740991.0",
        b"0.5e16",
        b" [ ] ",
    ],
)
def test_i_json_is_read_like_json(document):
    assert loads_strict(document) == json.loads(document)


def test_depth_limit_is_exact():
    assert loads_strict(b"[" * 64 + b"]" * 64, max_depth=64)
    with pytest.raises(StrictJSONError):
        loads_strict(b"[" * 65 + b"]" * 65, max_depth=64)
