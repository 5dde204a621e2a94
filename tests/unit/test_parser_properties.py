"""Every parser of outside input answers with its documented refusal, whatever arrives.

For each parser, arbitrary bytes or text, and arbitrary JSON shaped like the
real document, give either a result or the one refusal the docs name — the
specific exception type, or a verdict/receipt — never another exception:

| parser | refusal |
|---|---|
| ``gm.strict_json.loads_strict`` | ``StrictJSONError`` with a reason from ``REASONS`` |
| inbox body (``inbox_receive_body``) | a signed ``rejected`` receipt, 4xx |
| ``envelope_verify`` | ``Rejection`` |
| ``receipt_parse`` + ``receipt_verify`` | ``ValueError`` |
| ``configuration_parse`` + ``configuration_verify`` | ``ConfigurationError`` |
| ``formats.qr_decode`` / ``status_list_unpack`` / ``disclosure_open`` | ``FormatError`` |
| ``presentation_verify`` | verdict ``tampered`` — and never the catch-all "unreadable" |
| ``qr_images.qr_text_from_image`` | ``DomainError`` |
"""

from __future__ import annotations

import io
import json
import math
import zlib

import base45
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image

from tongban.catalog.services import CatalogError, catalog_release_parse
from tongban.directory.services import (
    ConfigurationError,
    configuration_parse,
    configuration_verify,
    trust_anchor_install,
)
from tongban.errors import DomainError
from tongban.exchange.envelopes import Rejection, envelope_verify, receipt_parse, receipt_verify
from tongban.exchange.services import inbox_receive_body
from tongban.gm import sm2
from tongban.gm.canonical import canonical_json
from tongban.gm.strict_json import MAX_SAFE_INTEGER, REASONS, StrictJSONError, loads_strict
from tongban.licences import formats
from tongban.licences.formats import FormatError
from tongban.licences.qr_images import qr_png, qr_text_from_image
from tongban.licences.verification import presentation_verify

FEW = settings(max_examples=200, deadline=None)
WITH_DB = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# JSON values as I-JSON allows them, and a few that it does not
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
    | st.floats(allow_nan=False, allow_infinity=False).filter(
        # RFC 8785 writes these as integer digits beyond 2^53 - 1, which I-JSON refuses
        lambda f: not (f.is_integer() and MAX_SAFE_INTEGER < abs(f) < 1e21)
    )
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
hostile_fragments = st.sampled_from(
    [
        '"\\ud800"',
        '"\\udfff"',
        "9007199254740992",
        "-9007199254740992",
        "1e400",
        "NaN",
        "-Infinity",
        "[" * 100,
        '{"a":1,"a":2}',
        '{"\\ud800":1}',
        "\ufeff",
        "\x00",
        '"\\u0000"',
    ]
)


@st.composite
def json_texts(draw) -> bytes:
    """JSON text, sometimes with a hostile fragment spliced in somewhere."""
    text = json.dumps(draw(json_values), ensure_ascii=draw(st.booleans()))
    if draw(st.booleans()):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(hostile_fragments) + text[at:]
    return text.encode("utf-8", "surrogatepass")


outside_bytes = st.binary(max_size=300) | json_texts()


# --- the strict parser -------------------------------------------------------------


@FEW
@given(data=outside_bytes)
def test_loads_strict_returns_a_value_or_a_reasoned_refusal(data):
    try:
        value = loads_strict(data)
    except StrictJSONError as exc:
        assert exc.reason in REASONS
        return
    # what it accepts has a canonical form that it accepts again, with the same value
    assert loads_strict(canonical_json(value)) == value


@FEW
@given(text=st.text(max_size=200))
def test_loads_strict_on_any_text(text):
    try:
        loads_strict(text)
    except StrictJSONError as exc:
        assert exc.reason in REASONS


@FEW
@given(value=json_values)
def test_i_json_values_are_read_back_unchanged(value):
    assert loads_strict(json.dumps(value).encode()) == value


@FEW
@given(
    number=st.integers(min_value=MAX_SAFE_INTEGER + 1)
    | st.integers(max_value=-MAX_SAFE_INTEGER - 1)
)
def test_integers_beyond_2_53_are_refused(number):
    with pytest.raises(StrictJSONError) as caught:
        loads_strict(f'{{"n":{number}}}')
    assert caught.value.reason == "number_out_of_range"


@FEW
@given(name=st.text(max_size=8), first=json_values, second=json_values)
def test_duplicate_member_names_are_refused_whatever_the_values(name, first, second):
    member = json.dumps(name)
    text = f"{{{member}:{json.dumps(first)},{member}:{json.dumps(second)}}}"
    with pytest.raises(StrictJSONError) as caught:
        loads_strict(text)
    assert caught.value.reason == "duplicate_member"


@FEW
@given(depth=st.integers(65, 100_000))
def test_nesting_is_refused_before_the_decoder_recurses(depth):
    with pytest.raises(StrictJSONError) as caught:
        loads_strict(b'{"a":' + b"[" * depth)
    assert caught.value.reason == "too_deep"


# --- e-licence formats (no database) -------------------------------------------------


def qr_of(data: bytes) -> str:
    return formats.QR_PREFIX + base45.b45encode(data).decode()


qr_inputs = (
    st.text(max_size=200)
    | st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:", max_size=300).map(
        lambda t: formats.QR_PREFIX + t
    )
    | st.binary(max_size=300).map(qr_of)
    | st.binary(max_size=300).map(lambda b: qr_of(zlib.compress(b)))
    | json_texts().map(lambda b: qr_of(zlib.compress(b)))
    | st.binary(max_size=40).map(lambda b: qr_of(zlib.compress(b) + b"trailing"))
    | st.none()
    | st.integers()
)


@FEW
@given(text=qr_inputs)
def test_qr_decode_returns_an_object_or_format_error(text):
    try:
        document = formats.qr_decode(text)
    except FormatError:
        return
    assert isinstance(document, dict)


@FEW
@given(
    lst=st.text(max_size=200)
    | st.binary(max_size=200).map(formats.b64u)
    | st.binary(max_size=200).map(lambda b: formats.b64u(zlib.compress(b)))
    | st.binary(max_size=50).map(lambda b: formats.b64u(zlib.compress(b)[:-3]))
    | st.none()
    | st.integers()
)
def test_status_list_unpack_returns_bytes_or_format_error(lst):
    try:
        data = formats.status_list_unpack(lst)
    except FormatError:
        return
    assert isinstance(data, bytes) and len(data) <= formats.MAX_STATUS_LIST_BYTES


def test_status_list_unpack_bounds_a_zlib_bomb():
    bomb = formats.b64u(zlib.compress(b"\0" * (formats.MAX_STATUS_LIST_BYTES + 1), 9))
    with pytest.raises(FormatError, match="too far"):
        formats.status_list_unpack(bomb)


@FEW
@given(
    disclosure=st.text(max_size=200)
    | st.binary(max_size=200).map(formats.b64u)
    | json_texts().map(formats.b64u)
    | st.tuples(st.text(max_size=8), st.text(max_size=8), json_values).map(
        lambda t: formats.b64u(json.dumps(list(t)).encode())
    )
    | st.none()
    | st.lists(st.text(max_size=3), max_size=3)
)
def test_disclosure_open_returns_a_triple_or_format_error(disclosure):
    try:
        salt, key, _value = formats.disclosure_open(disclosure)
    except FormatError:
        return
    assert isinstance(salt, str) and isinstance(key, str)


# --- pictures --------------------------------------------------------------------------


def _png(size: tuple[int, int] = (40, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", size, 255).save(buffer, "PNG")
    return buffer.getvalue()


QR_TEXT = "TB1:" + "0123456789" * 6  # long enough for a full QR, not a Micro QR
SMALL_QR = qr_png(QR_TEXT)
PLAIN_PNG = _png()


@st.composite
def mutated_pictures(draw) -> bytes:
    """A real PNG with a few bytes changed, cut or a new size written into its header."""
    content = bytearray(draw(st.sampled_from([SMALL_QR, PLAIN_PNG])))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(content) - 1))
        content[at] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        content[16:24] = draw(st.binary(min_size=8, max_size=8))  # IHDR width, height
    if draw(st.booleans()):
        content = content[: draw(st.integers(0, len(content)))]
    return bytes(content)


@settings(max_examples=150, deadline=None)
@given(content=st.binary(max_size=400) | mutated_pictures())
def test_a_picture_gives_text_or_domain_error(content):
    try:
        text = qr_text_from_image(content)
    except DomainError as error:
        assert error.code in {"image_too_large", "not_an_image", "no_qr_code"}
        assert 400 <= error.status < 500
        return
    assert isinstance(text, str)


def test_the_picture_property_can_find_a_qr_code():
    assert qr_text_from_image(SMALL_QR) == QR_TEXT


# --- documents that need the directory -----------------------------------------------


def _sign(key: sm2.SigningKey, kid: str, document: object) -> dict:
    return {"alg": sm2.ALGORITHM, "kid": kid, "value": key.sign_b64(canonical_json(document))}


@WITH_DB
@given(body=outside_bytes)
def test_the_inbox_answers_any_body_with_a_rejection_receipt(region, body):
    result = inbox_receive_body(body, max_bytes=64 * 1024)
    assert 400 <= result.http_status < 500
    assert result.body["signed"]["status"] == "rejected"
    assert result.body["signed"]["code"] in Rejection.STATUS


@WITH_DB
@given(
    field=st.sampled_from(
        [
            "v",
            "id",
            "type",
            "sender",
            "recipient",
            "issued_at",
            "expires_at",
            "correlation",
            "seq",
            "subject",
            "purpose",
            "body",
            "blobs",
            "signature",
            "kid",
            "alg",
            "value",
            "envelope_blobs",
        ]
    ),
    value=json_values,
)
def test_envelope_verify_refuses_any_change_with_a_rejection(region, field, value):
    envelope = json.loads(json.dumps(region.case_submit_envelope(number="11310118PROP0000001")))
    if field in ("kid", "alg", "value"):
        envelope["signature"][field] = value
    elif field == "signature":
        envelope["signature"] = value
    elif field == "envelope_blobs":
        envelope["blobs"] = value
    else:
        assume(envelope["signed"].get(field) != value)
        envelope["signed"][field] = value
    try:
        envelope_verify(envelope)
    except Rejection as rejection:
        assert rejection.code in Rejection.STATUS
        return
    # only a change outside the signature may still verify
    assert field == "envelope_blobs"


@WITH_DB
@given(
    content=outside_bytes,
    shaped=st.fixed_dictionaries(
        {
            "signed": st.dictionaries(
                st.sampled_from(
                    [
                        "sender",
                        "in_reply_to",
                        "request_sm3",
                        "status",
                        "code",
                        "received_at",
                        "responded_at",
                    ]
                ),
                json_values,
            ),
            "signature": json_values,
        }
    ),
    signed_by_peer=st.booleans(),
)
def test_a_receipt_is_accepted_or_refused_with_value_error(region, content, shaped, signed_by_peer):
    if signed_by_peer:
        shaped["signed"].update(sender="zj", in_reply_to="m1", request_sm3="h1")
        shaped["signature"] = _sign(
            region.peer_keys["zj"], region.peer_kids["zj"], shaped["signed"]
        )
    for receipt in (content, json.dumps(shaped, ensure_ascii=False).encode()):
        try:
            receipt_verify(
                receipt_parse(receipt), expected_sender="zj", message_id="m1", request_sm3="h1"
            )
        except ValueError:
            continue


@WITH_DB
@given(
    content=outside_bytes,
    document=st.dictionaries(
        st.sampled_from(["format", "serial", "expires_at", "nodes"]), json_values
    ),
    signature=json_values,
    signed_by_hub=st.booleans(),
)
def test_a_configuration_is_verified_or_refused_with_configuration_error(
    db, content, document, signature, signed_by_hub
):
    key = _HUB_KEY
    trust_anchor_install(kid="hub-prop", public_key=key.public_key_hex)
    if signed_by_hub:
        signature = _sign(key, "hub-prop", document)
    wrapper = {"configuration": document, "signature": signature}
    for raw in (content, json.dumps(wrapper, ensure_ascii=False).encode()):
        try:
            configuration_verify(configuration_parse(raw))
        except ConfigurationError:
            continue


_HUB_KEY = sm2.SigningKey.generate()


@FEW
@given(content=outside_bytes)
def test_a_catalog_release_is_an_object_or_catalog_error(content):
    try:
        document = catalog_release_parse(content)
    except CatalogError:
        return
    assert isinstance(document, dict)


@WITH_DB
@given(
    text=qr_inputs,
    document=st.fixed_dictionaries(
        {"format": st.just(formats.PRESENTATION_FORMAT)},
        optional={
            "licence": json_values | st.fixed_dictionaries({"payload": json_values}),
            "disclosures": json_values,
            "binding": json_values,
            "binding_signature": json_values,
        },
    ),
)
def test_presentation_verify_answers_tampered_never_unreadable(region, text, document):
    for candidate in (text, _qr_or_none(document)):
        if not isinstance(candidate, str):
            continue
        verdict = presentation_verify(candidate)
        assert verdict.verdict == "tampered", verdict
        assert verdict.reason != "unreadable"  # the catch-all for unexpected exceptions
        assert verdict.disclosed == []


def _qr_or_none(document: dict) -> str | None:
    try:
        return formats.qr_encode(document)
    except ValueError:  # floats that JCS cannot write, and the like
        return None


def test_property_inputs_reach_deep_enough():
    """Guard for the strategies above: they do produce decodable QR objects and
    status lists, so the properties exercise more than the first check."""
    document = {"format": formats.PRESENTATION_FORMAT, "licence": {"payload": {}}}
    assert formats.qr_decode(formats.qr_encode(document)) == document
    assert formats.status_list_unpack(formats.status_list_pack({0: 1}, 4)) == b"\x01"
    salt, key, value = formats.disclosure_open(formats.disclosure_make("k", [1, None]))
    assert (key, value) == ("k", [1, None]) and salt
    assert math.isfinite(loads_strict(b"1e308"))
