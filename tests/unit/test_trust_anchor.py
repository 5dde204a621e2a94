"""The hub's trust anchor for outside verifiers: GET /api/v1/trust-anchor, the
``trust-anchor`` command, and the SM3 fingerprint computed independently (gmssl)."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from gmssl import func
from gmssl import sm3 as gmssl_sm3

from tongban.directory.models import CachedConfiguration
from tongban.directory.services import trust_anchor_install
from tongban.directory.signing import signing_key_create
from tongban.directory.trust import key_fingerprint
from tongban.gm import sm2

pytestmark = pytest.mark.django_db

DOCS = Path(__file__).resolve().parents[2] / "docs"

# the example key of GB/T 32918.2 (private key d = 3945208F…4DF7C5B8): the worked
# example in docs/operations.md §6a
EXAMPLE = sm2.SigningKey.from_private_value(
    0x3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8
)
EXAMPLE_PUBLIC = (
    "0409f9df311e5421a150dd7d161e4bc5c672179fad1833fc076bb08ff356f35020"
    "ccea490ce26775a52dc6ea718cc1aa600aed05fbf35e084a6632f6072da9ad13"
)
EXAMPLE_FINGERPRINT = (
    "E6A4 F976 5FCA 89E8 B7D6 4019 B900 D57C D86B 4677 FA5D C702 84C9 0DE0 5FA7 7F9C"
)


def independent_fingerprint(public_key_hex: str) -> str:
    """The documented procedure, with another SM3 implementation (gmssl, pure Python)."""
    raw = bytes.fromhex(public_key_hex)
    assert len(raw) == 65 and raw[0] == 4
    digest = gmssl_sm3.sm3_hash(func.bytes_to_list(raw)).upper()
    return " ".join(digest[i : i + 4] for i in range(0, 64, 4))


def test_the_worked_example_in_the_docs():
    assert EXAMPLE.public_key_hex == EXAMPLE_PUBLIC
    assert independent_fingerprint(EXAMPLE_PUBLIC) == EXAMPLE_FINGERPRINT
    assert key_fingerprint(EXAMPLE_PUBLIC) == EXAMPLE_FINGERPRINT
    assert key_fingerprint(EXAMPLE_PUBLIC.upper()) == EXAMPLE_FINGERPRINT
    operations = (DOCS / "operations.md").read_text()
    assert EXAMPLE_PUBLIC in operations and EXAMPLE_FINGERPRINT in operations
    assert EXAMPLE_FINGERPRINT.replace(" ", "").lower() in operations  # openssl's output


@pytest.mark.parametrize(
    "bad",
    [
        EXAMPLE_PUBLIC[2:],  # no 04 prefix
        "02" + EXAMPLE_PUBLIC[2:66],  # compressed
        EXAMPLE_PUBLIC[:-2] + "14",  # not on the curve
        "zz" + EXAMPLE_PUBLIC[2:],
    ],
)
def test_only_uncompressed_points_on_the_curve_have_a_fingerprint(bad):
    with pytest.raises(sm2.KeyFormatError):
        key_fingerprint(bad)


def test_a_node_publishes_the_hub_key_it_has_pinned(client):
    assert client.get("/api/v1/trust-anchor").status_code == 404  # nothing pinned yet
    older = sm2.SigningKey.generate()
    trust_anchor_install(kid="hub-old", public_key=older.public_key_hex)
    trust_anchor_install(kid="hub-example", public_key=EXAMPLE_PUBLIC)

    response = client.get("/api/v1/trust-anchor")  # anonymous
    assert response.status_code == 200
    body = response.json()
    assert body["role"] == "node" and body["source"] == "pinned"
    assert body["kid"] == "hub-example" and body["public_key"] == EXAMPLE_PUBLIC
    assert body["fingerprint"] == independent_fingerprint(EXAMPLE_PUBLIC) == EXAMPLE_FINGERPRINT
    assert [k["kid"] for k in body["keys"]] == ["hub-example", "hub-old"]
    assert body["keys"][1]["fingerprint"] == independent_fingerprint(older.public_key_hex)


def test_the_key_that_signed_the_current_configuration_comes_first(client):
    signer = sm2.SigningKey.generate()
    trust_anchor_install(kid="hub-signer", public_key=signer.public_key_hex)
    trust_anchor_install(kid="hub-newer", public_key=EXAMPLE_PUBLIC)
    CachedConfiguration.objects.create(
        serial=1,
        document=json.dumps({"configuration": {}, "signature": {"kid": "hub-signer"}}),
        issued_at="2026-12-01T00:00:00Z",
        expires_at="2026-12-02T00:00:00Z",
    )
    body = client.get("/api/v1/trust-anchor").json()
    assert body["kid"] == "hub-signer"
    assert body["fingerprint"] == independent_fingerprint(signer.public_key_hex)


def test_the_hub_publishes_its_signing_key(client, settings, tmp_path):
    settings.TONGBAN_ROLE = "hub"
    settings.TONGBAN_KEY_DIR = tmp_path
    assert client.get("/api/v1/trust-anchor").status_code == 404
    key = signing_key_create(node_id="hub")
    body = client.get("/api/v1/trust-anchor").json()
    assert body["role"] == "hub" and body["source"] == "hub_signing_key"
    assert body["kid"] == key.kid and body["public_key"] == key.public_key
    assert body["fingerprint"] == independent_fingerprint(key.public_key)


def test_the_command_prints_the_same_anchor_and_fingerprint(client):
    with pytest.raises(CommandError):
        call_command("trust_anchor", stdout=StringIO())
    trust_anchor_install(kid="hub-example", public_key=EXAMPLE_PUBLIC)

    out = StringIO()
    call_command("trust_anchor", "--json", stdout=out)
    assert json.loads(out.getvalue()) == client.get("/api/v1/trust-anchor").json()

    out = StringIO()
    call_command("trust_anchor", stdout=out)
    assert f"SM3 fingerprint: {EXAMPLE_FINGERPRINT}" in out.getvalue()
    assert "key id:          hub-example" in out.getvalue()


def test_a_received_key_is_checked_before_it_is_pinned():
    out = StringIO()
    call_command("trust_anchor", "--public-key", EXAMPLE_PUBLIC, stdout=out)
    assert f"SM3 fingerprint: {EXAMPLE_FINGERPRINT}" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("trust_anchor", "--public-key", EXAMPLE_PUBLIC[2:], stdout=StringIO())

    out = StringIO()
    call_command("trust_hub", "--kid", "hub-example", "--public-key", EXAMPLE_PUBLIC, stdout=out)
    assert EXAMPLE_FINGERPRINT in out.getvalue()
