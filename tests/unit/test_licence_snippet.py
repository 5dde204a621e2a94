"""The verification snippet of docs/licences.md §14, run exactly as printed.

It is what another province copies; it must accept our presentations for every
key (gmssl strips the ``04`` prefix with ``lstrip``, which also eats an X
coordinate beginning with byte 0x04) and refuse a QR text that repeats a member.
"""

from __future__ import annotations

import datetime as dt
import re
import zlib
from pathlib import Path

import base45
import pytest
from gmssl import sm2 as gmssl_sm2

from tongban.gm import sm2
from tongban.gm.canonical import canonical_json
from tongban.licences import formats

DOCS = Path(__file__).resolve().parents[2] / "docs" / "licences.md"
TYPE_CODE = "11100000000013338W003"
ISSUER_CODE = "11310000145164639M"
NOW = dt.datetime(2026, 12, 1, 4, 0, tzinfo=dt.UTC)


def snippet() -> dict:
    text = DOCS.read_text(encoding="utf-8")
    section = text[text.index("## 14. ") : text.index("## 15. ")]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)
    namespace: dict = {"__name__": "licence_snippet"}
    exec(compile(code, "docs/licences.md §14", "exec"), namespace)  # noqa: S102
    return namespace


def key_with_x_starting_04() -> sm2.SigningKey:
    for _ in range(20_000):  # about 1 key in 256
        key = sm2.SigningKey.generate()
        if key.public_key_hex[2:4] == "04":
            return key
    raise AssertionError("no key with X beginning 0x04 found")


def iso(value: dt.datetime) -> str:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def presentation(key: sm2.SigningKey, kid: str) -> tuple[dict, dict]:
    """A presentation and a status list of node sh, signed with ``key``: the
    documents Tongban's ``presentation_create`` and ``status_list_publish`` make."""
    disclosures = [
        formats.disclosure_make("holder_name", "陈静"),
        formats.disclosure_make("vehicle_class", "C1"),
    ]
    payload = {
        "format": formats.LICENCE_FORMAT,
        "identifier": formats.identifier_build(
            type_code=TYPE_CODE, issuer_code=ISSUER_CODE, serial="202600000001", version=1
        ),
        "version": 1,
        "type": {"code": TYPE_CODE, "name": "机动车驾驶证"},
        "issuer": {"node": "sh", "code": ISSUER_CODE, "name": "上海市公安局"},
        "holder_node": "sh",
        "status": {"node": "sh", "idx": 0},
        "issued_at": iso(NOW - dt.timedelta(days=1)),
        "valid_from": "2026-11-30",
        "valid_to": "2032-11-29",
        "sd_alg": formats.SD_ALG,
        "_sd": sorted(formats.disclosure_digest(d) for d in disclosures),
    }

    def sign(document: dict) -> dict:
        return {"alg": sm2.ALGORITHM, "kid": kid, "value": key.sign_b64(canonical_json(document))}

    licence = {"payload": payload, "signature": sign(payload)}
    binding = {
        "holder_node": "sh",
        "nonce": formats.b64u(b"0123456789abcdef"),
        "iat": iso(NOW),
        "exp": iso(NOW + dt.timedelta(minutes=3)),
        "sd_hash": formats.presentation_sd_hash(licence, disclosures),
    }
    document = {
        "format": formats.PRESENTATION_FORMAT,
        "licence": licence,
        "disclosures": disclosures,
        "binding": binding,
        "binding_signature": sign(binding),
    }
    body = {
        "format": formats.STATUS_LIST_FORMAT,
        "node": "sh",
        "bits": formats.STATUS_BITS,
        "lst": formats.status_list_pack({}, 1),
        "size": 1,
        "iat": iso(NOW - dt.timedelta(minutes=1)),
        "exp": iso(NOW + dt.timedelta(days=7)),
        "ttl": 300,
    }
    return document, {"status_list": body, "signature": sign(body)}


@pytest.fixture(scope="module")
def signed():
    key = key_with_x_starting_04()
    kid = "sh-20261201040000-" + key.public_key_hex[2:10]
    document, status_list = presentation(key, kid)
    return key, {("sh", kid): key.public_key_hex}, document, status_list


def test_the_key_is_one_gmssl_lstrip_breaks(signed):
    """Guard: with the key handed to gmssl's constructor, a good signature fails."""
    key, _keys, _document, _status_list = signed
    assert key.public_key_hex.startswith("0404")
    broken = gmssl_sm2.CryptSM2(private_key=None, public_key=key.public_key_hex[2:])
    assert broken.public_key != key.public_key_hex[2:]


def test_documented_snippet_verifies_a_key_whose_x_begins_with_04(signed):
    _key, keys, document, status_list = signed
    verdict, shown = snippet()["verify"](formats.qr_encode(document), keys, status_list, 3600, NOW)
    assert verdict == "valid"
    assert shown == {"holder_name": "陈静", "vehicle_class": "C1"}


def test_documented_snippet_refuses_a_repeated_valid_to(signed):
    _key, keys, document, status_list = signed
    text = canonical_json(document).decode()
    genuine = '"valid_to":"2032-11-29"'
    assert text.count(genuine) == 1
    forged = text.replace(genuine, '"valid_to":"2099-12-31",' + genuine)
    qr = formats.QR_PREFIX + base45.b45encode(zlib.compress(forged.encode(), 9)).decode()
    with pytest.raises(AssertionError, match="duplicate member name"):
        snippet()["verify"](qr, keys, status_list, 3600, NOW)
