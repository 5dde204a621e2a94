"""Signed documents fetched from peers and the hub, with a member repeated.

Python keeps the later of two equal member names, so a signature over the
genuine (later) value verifies while another province's parser reads the
earlier, forged one. Each test first shows that the very same document without
the repetition is accepted, then that the repeated one is refused and changes
nothing. Peers answer through a real ``requests.Session`` whose transport
returns the prepared bytes.
"""

from __future__ import annotations

import datetime as dt

import pytest
import requests
from django.db import transaction
from django.utils import timezone

from tests.unit.test_configuration import HUB, HUB_KID, document, signed
from tongban.directory.models import CachedConfiguration
from tongban.directory.services import ConfigurationError, configuration_poll, trust_anchor_install
from tongban.exchange.dispatcher import outbox_deliver
from tongban.exchange.envelopes import iso
from tongban.exchange.services import outbox_enqueue
from tongban.gm.canonical import canonical_json
from tongban.licences import formats
from tongban.licences.models import StatusListCache
from tongban.licences.services import status_list_refresh


class Answer(requests.adapters.BaseAdapter):
    """A transport that answers every request with ``content``."""

    def __init__(self, content: bytes, status: int = 200):
        super().__init__()
        self.content, self.status = content, status

    def send(self, request, **kwargs):
        response = requests.Response()
        response.status_code, response._content = self.status, self.content
        response.headers["Content-Type"] = "application/json"
        response.request, response.url = request, request.url
        return response

    def close(self):
        pass


def session(content: bytes) -> requests.Session:
    http = requests.Session()
    http.mount("http://", Answer(content))
    return http


def repeat(text: str, member: str, forged: str) -> bytes:
    """``text`` with ``"member":forged,`` written just before the genuine member."""
    genuine = text[text.index(f'"{member}":') :]
    return text.replace(genuine, f'"{member}":{forged},' + genuine, 1).encode()


# --- a receipt ---------------------------------------------------------------------------


def zj_receipt(region, message) -> str:
    now = iso(timezone.now())
    body = {
        "v": 1,
        "id": "01900000-0000-7000-8000-000000000001",
        "type": "receipt",
        "sender": "zj",
        "recipient": "sh",
        "in_reply_to": message.message_id,
        "request_sm3": message.request_sm3,
        "status": "accepted",
        "code": "",
        "message": "",
        "received_at": now,
        "responded_at": now,
    }
    receipt = {"signed": body, "signature": region.signer("zj")(canonical_json(body))}
    return canonical_json(receipt).decode()


def enqueue(correlation: str):
    with transaction.atomic():
        return outbox_enqueue(type="case.event", recipient="zj", correlation=correlation, body={})


def test_a_receipt_with_a_repeated_status_is_unusable(region):
    control = enqueue("N1")
    assert outbox_deliver(control, session=session(zj_receipt(region, control).encode())) == (
        "delivered"
    )
    message = enqueue("N2")
    text = repeat(zj_receipt(region, message), "status", '"refused"')
    assert outbox_deliver(message, session=session(text)) == "pending"
    message.refresh_from_db()
    assert message.status == "pending" and "duplicate_member" in message.last_error
    assert message.receipt == ""


# --- the global configuration --------------------------------------------------------


def test_a_configuration_with_a_repeated_member_is_refused(db):
    trust_anchor_install(kid=HUB_KID, public_key=HUB.public_key_hex)
    text = canonical_json(signed(document(2))).decode()
    forged = repeat(text, "expires_at", '"2099-01-01T00:00:00Z"')
    with pytest.raises(ConfigurationError, match="duplicate_member"):
        configuration_poll(session=session(forged))
    assert not CachedConfiguration.objects.exists()
    assert configuration_poll(session=session(text.encode())).serial == 2  # the control


# --- a status list -------------------------------------------------------------------------


def zj_status_list(region, values: dict[int, int]) -> str:
    now = timezone.now()
    body = {
        "format": formats.STATUS_LIST_FORMAT,
        "node": "zj",
        "bits": formats.STATUS_BITS,
        "lst": formats.status_list_pack(values, 8),
        "size": 8,
        "iat": iso(now),
        "exp": iso(now + dt.timedelta(days=7)),
        "ttl": 300,
    }
    return canonical_json(
        {"status_list": body, "signature": region.signer("zj")(canonical_json(body))}
    ).decode()


def test_a_status_list_with_a_repeated_lst_is_refused(region):
    revoked = zj_status_list(region, {3: formats.STATUS_VALUES["revoked"]})
    all_valid = formats.status_list_pack({}, 8)
    forged = repeat(revoked, "lst", f'"{all_valid}"')  # read first elsewhere: nothing revoked
    with pytest.raises(formats.FormatError, match="duplicate_member"):
        status_list_refresh(node_id="zj", session=session(forged))
    assert not StatusListCache.objects.filter(node_id="zj", last_error="").exists()
    status_list_refresh(node_id="zj", session=session(revoked.encode()))  # the control
    assert StatusListCache.objects.get(node_id="zj").last_error == ""


# --- a catalog release ---------------------------------------------------------------------


def test_a_catalog_release_with_a_repeated_member_is_refused(db):
    import json

    from tongban.catalog.models import Release
    from tongban.catalog.services import DATA_DIR, CatalogError, catalog_sync
    from tongban.gm.sm3 import sm3_hex

    release = json.loads((DATA_DIR / "catalog_2026Q4.json").read_text(encoding="utf-8"))
    text = canonical_json(release).decode()
    wanted = {"release": release["release"], "sm3": sm3_hex(text.encode()), "path": "/r"}
    now = timezone.now()
    CachedConfiguration.objects.create(
        serial=1,
        issued_at=now,
        expires_at=now + dt.timedelta(days=1),
        document=json.dumps({"configuration": {"serial": 1, "nodes": [], "catalog": wanted}}),
    )
    forged = repeat(text, "published", '"2099-01-01"')
    with pytest.raises(CatalogError, match="duplicate_member"):
        catalog_sync(session=session(forged))
    assert not Release.objects.exists()
    assert catalog_sync(session=session(text.encode())).version == release["release"]
