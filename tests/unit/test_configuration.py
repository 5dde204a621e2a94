"""The signed global configuration: verification, application, rotation, expiry."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from django.utils import timezone

from tongban.directory.models import CachedConfiguration, Node, NodeKey, Organization, Window
from tongban.directory.services import (
    CONFIGURATION_FORMAT,
    ConfigurationError,
    configuration_apply,
    trust_anchor_install,
)
from tongban.gm import sm2
from tongban.gm.canonical import canonical_json

HUB = sm2.SigningKey.generate()
HUB_KID = "hub-test-1"


def document(serial: int, *, expires_in=dt.timedelta(hours=1), hub_keys=None, extra_nodes=()):
    now = timezone.now()
    iso = lambda t: t.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")  # noqa: E731
    return {
        "format": CONFIGURATION_FORMAT,
        "serial": serial,
        "issued_at": iso(now),
        "expires_at": iso(now + expires_in),
        "nodes": [
            {
                "node_id": "hub",
                "role": "hub",
                "name": "枢纽",
                "app_name": "",
                "region": "",
                "base_url": "http://127.0.0.1:8000",
                "active": True,
                "keys": hub_keys
                or [
                    {
                        "kid": HUB_KID,
                        "public_key": HUB.public_key_hex,
                        "not_before": iso(now - dt.timedelta(days=1)),
                        "not_after": None,
                    }
                ],
            },
            {
                "node_id": "zj",
                "role": "node",
                "name": "浙江",
                "app_name": "浙里办",
                "region": "330000",
                "base_url": "http://127.0.0.1:8003",
                "active": True,
                "keys": [
                    {
                        "kid": "zj-1",
                        "public_key": sm2.SigningKey.generate().public_key_hex,
                        "not_before": iso(now - dt.timedelta(days=1)),
                        "not_after": None,
                    }
                ],
            },
            *extra_nodes,
        ],
        "organizations": [
            {
                "code": "11330421MA0000001T",
                "name": "嘉善县行政服务中心",
                "short_name": "",
                "region": "330421",
                "node": "zj",
                "kind": "government_services",
                "sample": True,
                "active": True,
            },
        ],
        "windows": [
            {
                "code": "zj-330421-01",
                "name": "嘉善县专窗",
                "node": "zj",
                "region": "330421",
                "organization": "11330421MA0000001T",
                "address": "",
                "sample": True,
                "active": True,
            },
        ],
        "catalog": None,
    }


def signed(doc, key=HUB, kid=HUB_KID):
    return {
        "configuration": doc,
        "signature": {"alg": sm2.ALGORITHM, "kid": kid, "value": key.sign_b64(canonical_json(doc))},
    }


@pytest.fixture
def anchored(db):
    trust_anchor_install(kid=HUB_KID, public_key=HUB.public_key_hex)


def test_apply_mirrors_nodes_keys_organizations_windows(anchored):
    configuration_apply(wrapper=signed(document(1)))
    assert Node.objects.get(node_id="zj").app_name == "浙里办"
    assert NodeKey.objects.filter(node__node_id="zj", kid="zj-1").exists()
    assert Organization.objects.get().name == "嘉善县行政服务中心"
    assert Window.objects.get().code == "zj-330421-01"
    assert CachedConfiguration.objects.get().serial == 1


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda w: w["configuration"].__setitem__("serial", 99), "does not verify"),
        (lambda w: w["signature"].__setitem__("kid", "hub-unknown"), "unknown hub key"),
        (lambda w: w.pop("signature"), "malformed"),
    ],
)
def test_tampered_configuration_is_refused_and_changes_nothing(anchored, tamper, message):
    wrapper = signed(document(1))
    tamper(wrapper)
    with pytest.raises(ConfigurationError, match=message):
        configuration_apply(wrapper=wrapper)
    assert not CachedConfiguration.objects.exists() and not Organization.objects.exists()


def test_expired_or_older_configuration_is_not_used(anchored):
    with pytest.raises(ConfigurationError, match="expired"):
        configuration_apply(wrapper=signed(document(1, expires_in=dt.timedelta(seconds=-1))))
    assert configuration_apply(wrapper=signed(document(5))) is not None
    assert configuration_apply(wrapper=signed(document(4))) is None  # not newer: ignored
    assert CachedConfiguration.objects.get().serial == 5


def test_not_signed_by_a_trusted_hub_key(db):
    with pytest.raises(ConfigurationError, match="unknown hub key"):
        configuration_apply(wrapper=signed(document(1)))


def test_hub_key_rotation_is_announced_by_the_old_key(anchored):
    new_hub = sm2.SigningKey.generate()
    now = timezone.now().astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    keys = [
        {"kid": HUB_KID, "public_key": HUB.public_key_hex, "not_before": now, "not_after": None},
        {
            "kid": "hub-test-2",
            "public_key": new_hub.public_key_hex,
            "not_before": now,
            "not_after": None,
        },
    ]
    configuration_apply(wrapper=signed(document(2, hub_keys=keys)))
    # the next configuration is signed with the new key only: accepted (announced in serial 2)
    configuration_apply(
        wrapper=signed(document(3, hub_keys=keys[1:]), key=new_hub, kid="hub-test-2")
    )
    assert CachedConfiguration.objects.order_by("-serial").first().serial == 3


def test_removed_node_key_is_revoked_in_the_mirror(anchored):
    configuration_apply(wrapper=signed(document(1)))
    doc = document(2)
    doc["nodes"][1]["keys"] = [
        {
            "kid": "zj-2",
            "public_key": sm2.SigningKey.generate().public_key_hex,
            "not_before": doc["issued_at"],
            "not_after": None,
        }
    ]
    configuration_apply(wrapper=signed(copy.deepcopy(doc)))
    assert NodeKey.objects.get(kid="zj-1").revoked
    assert not NodeKey.objects.get(kid="zj-2").revoked
