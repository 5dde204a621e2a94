"""Regression tests for documents from outside that two parsers could read
differently, and for inputs that used to end in a server error without signing in.

Each test builds the hostile input from a real, correctly signed document, and
checks first that the same document without the defect is accepted, so a
refusal comes from the defence and not from a broken fixture.
"""

from __future__ import annotations

import datetime as dt
import json
import struct
import zlib

import base45
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.api.test_exchange_inbox import NUMBER, post
from tests.api.test_licences_api import SH_POLICE, issue
from tests.conftest import utc
from tests.factories import user_with
from tongban.cases.models import Case
from tongban.directory.signing import sign_detached
from tongban.exchange.envelopes import iso
from tongban.exchange.models import InboxMessage
from tongban.gm.canonical import canonical_json
from tongban.licences import formats
from tongban.licences.models import VerificationRecord, WalletEntry
from tongban.licences.services import licence_disclosures


@pytest.fixture
def police(region):
    return user_with("police.official", role="official", organization=region.org(SH_POLICE))


def presentation_text(identifier: str, fields=("vehicle_class",)) -> str:
    """The canonical JSON text of a presentation of a licence in this node's wallet,
    signed as ``services.presentation_create`` signs it."""
    entry = WalletEntry.objects.get(identifier=identifier)
    chosen = [d for d in licence_disclosures(entry) if formats.disclosure_open(d)[1] in set(fields)]
    licence = {"payload": entry.payload, "signature": entry.signature}
    now = dt.datetime.now(dt.UTC)
    binding = {
        "holder_node": "sh",
        "nonce": formats.b64u(b"0123456789abcdef"),
        "iat": iso(now),
        "exp": iso(now + dt.timedelta(minutes=3)),
        "sd_hash": formats.presentation_sd_hash(licence, chosen),
    }
    document = {
        "format": formats.PRESENTATION_FORMAT,
        "licence": licence,
        "disclosures": chosen,
        "binding": binding,
        "binding_signature": sign_detached(canonical_json(binding)),
    }
    return canonical_json(document).decode()


def qr(text: str) -> str:
    return formats.QR_PREFIX + base45.b45encode(zlib.compress(text.encode(), 9)).decode()


def verify(api, text: str) -> dict:
    response = api.post("/licences/verifications", {"qr_text": text})
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def genuine(region, api, police):
    licence = issue(api, police, region)
    text = presentation_text(licence["identifier"])
    api.headers = {}  # verification needs no sign-in
    assert verify(api, qr(text))["verdict"] == "valid"  # the control: the real thing passes
    return licence, text


def test_a_forged_earlier_valid_to_beside_the_signed_one_is_tampered(api, genuine):
    """Python keeps the later of two equal names (the signed value, so the
    signature held and the verdict was ``valid``); other parsers keep the first."""
    licence, text = genuine
    signed_valid_to = f'"valid_to":"{licence["valid_to"]}"'
    assert text.count(signed_valid_to) == 1
    forged = text.replace(signed_valid_to, '"valid_to":"2099-12-31",' + signed_valid_to)
    assert json.loads(forged)["licence"]["payload"]["valid_to"] == licence["valid_to"]
    result = verify(api, qr(forged))
    assert result["verdict"] == "tampered"
    assert "duplicate_member" in result["reason"]
    assert result["disclosed"] == []


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ('"note":"\\ud800"', "lone_surrogate"),
        ('"\\udc00":"x"', "lone_surrogate"),
        ('"note":9007199254740992', "number_out_of_range"),
        ('"note":-9007199254740992', "number_out_of_range"),
        ('"note":1e400', "number_out_of_range"),
        ('"note":NaN', "number_out_of_range"),
        ('"note":' + "[" * 65 + "]" * 65, "too_deep"),
    ],
)
def test_non_i_json_beside_a_valid_presentation_is_tampered(api, genuine, extra, reason):
    """An unsigned extra member is ignored by the verifier (control below); one
    that is not I-JSON makes the whole code tampered."""
    _licence, text = genuine
    assert verify(api, qr('{"note":"x",' + text[1:]))["verdict"] == "valid"
    result = verify(api, qr("{" + extra + "," + text[1:]))
    assert (result["verdict"], reason in result["reason"]) == ("tampered", True)


def test_a_zlib_bomb_in_a_qr_code_is_tampered(api, region):
    bomb = formats.QR_PREFIX + base45.b45encode(zlib.compress(b" " * 4_000_000, 9)).decode()
    assert len(bomb) < formats.MAX_QR_TEXT
    result = verify(api, bomb)
    assert result["verdict"] == "tampered" and "inflates too far" in result["reason"]


# --- the exchange inbox --------------------------------------------------------------


def test_fifty_thousand_brackets_to_the_inbox_are_malformed_not_a_server_error(region, api):
    status, body = post(api, b'{"a":' + b"[" * 50_000)
    assert (status, body["signed"]["code"], body["signed"]["status"]) == (
        400,
        "malformed",
        "rejected",
    )
    assert "too_deep" in body["signed"]["message"]
    assert not InboxMessage.objects.exists()


@pytest.mark.parametrize(
    ("defect", "reason"),
    [
        ("duplicate", "duplicate_member"),
        ("surrogate", "lone_surrogate"),
        ("big_integer", "number_out_of_range"),
    ],
)
def test_a_signed_envelope_that_is_not_i_json_is_malformed(region, api, defect, reason):
    envelope = region.case_submit_envelope(number=NUMBER)
    text = json.dumps(envelope, ensure_ascii=False)
    if defect == "duplicate":  # a second, unsigned "type" read first by other parsers
        text = text.replace('"signed": {', '"signed": {"type": "licence.status", ', 1)
    elif defect == "surrogate":
        text = text.replace('"blobs": {', '"blobs": {"\\ud800": "", ', 1)
    else:
        text = text.replace('"signed": {', '"extra": 9007199254740993, "signed": {', 1)
    status, body = post(api, text.encode())
    assert (status, body["signed"]["code"]) == (400, "malformed")
    assert reason in body["signed"]["message"]
    assert not Case.objects.exists() and not InboxMessage.objects.exists()
    status, body = post(api, json.dumps(envelope).encode())  # the control
    assert (status, body["signed"]["status"]) == (200, "accepted")


def test_a_duplicate_of_a_queued_message_refused_later_answers_its_first_status(region, api):
    """docs/exchange-protocol.md §7: the very receipt stored the first time, with
    the first answer's HTTP status — also when the message was refused since."""
    early = region.envelope(
        type="case.supplement",
        correlation=NUMBER,
        seq=2,
        body={"number": NUMBER, "materials": [], "note": "x", "occurred_at": utc().isoformat()},
    )
    first_status, first = post(api, early)
    assert (first_status, first["signed"]["status"]) == (200, "queued")
    # seq 1 fills the gap; seq 2 is then applied and refused (no supplement was requested)
    assert post(api, region.case_submit_envelope(number=NUMBER, seq=1))[0] == 200
    assert InboxMessage.objects.get(seq=2).status == "refused"
    again_status, again = post(api, early)
    assert (again_status, again) == (200, first)


# --- a decompression bomb uploaded as a picture ----------------------------------------


def png_declaring(width: int, height: int, size: int = 389 * 1024) -> bytes:
    """A PNG whose header declares ``width`` × ``height``, padded to ``size`` bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    idat = chunk(b"IDAT", zlib.compress(b"\0" * (size * 50), 9))
    png = b"\x89PNG\r\n\x1a\n" + header + idat
    padding = max(0, size - len(png) - 24)
    return png + chunk(b"tEXt", b"c\0" + b"x" * padding) + chunk(b"IEND", b"")


def test_a_picture_declaring_20000_by_20000_pixels_answers_413(region, api, client):
    bomb = png_declaring(20_000, 20_000)
    assert 300_000 < len(bomb) < 400_000
    response = client.post(
        "/api/v1/licences/verifications/image",
        {"image": SimpleUploadedFile("code.png", bomb, "image/png")},
    )
    assert response.status_code == 413, response.content
    assert response.json()["error"]["code"] == "image_too_large"
    page = client.post("/verify/", {"image": SimpleUploadedFile("code.png", bomb, "image/png")})
    assert page.status_code == 413
    assert "图片像素过多" in page.content.decode()
    assert not VerificationRecord.objects.exists()


@pytest.mark.parametrize("field", ["id", "sender", "correlation"])
def test_a_nul_character_in_an_envelope_header_is_malformed(region, api, field):
    """PostgreSQL text cannot hold NUL: refused before any lookup or log row uses it."""
    envelope = region.case_submit_envelope(number=NUMBER)
    envelope["signed"][field] = envelope["signed"][field][:8] + "\x00"
    status, body = post(api, envelope)
    assert (status, body["signed"]["code"]) == (400, "malformed")
    assert "\x00" not in body["signed"]["in_reply_to"]


def test_a_picture_over_10_mb_is_refused_on_the_page_and_in_the_api(region, client):
    from tongban.licences.qr_images import MAX_IMAGE_BYTES

    big = png_declaring(100, 100, size=MAX_IMAGE_BYTES + 1024)
    assert len(big) > MAX_IMAGE_BYTES
    page = client.post("/verify/", {"image": SimpleUploadedFile("code.png", big, "image/png")})
    assert page.status_code == 400 and "图片过大" in page.content.decode()  # the form's check
    response = client.post(
        "/api/v1/licences/verifications/image",
        {"image": SimpleUploadedFile("code.png", big, "image/png")},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "image_too_large"
    assert not VerificationRecord.objects.exists()
