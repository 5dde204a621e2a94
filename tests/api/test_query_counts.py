"""Pinned query counts on the hot endpoints: they must not grow with the data."""

from __future__ import annotations

import json

import pytest

from tests.factories import QINGPU_AMR, user_with


@pytest.fixture
def official_with_cases(region, api):
    for i in range(6):
        envelope = region.case_submit_envelope(number=f"11310118TESTCASE{i:07d}")
        assert api.post("/exchange/inbox", raw=json.dumps(envelope).encode()).status_code == 200
    official = user_with("qingpu.official", role="official", organization=region.org(QINGPU_AMR))
    api.login(official)
    return official


def test_case_list_query_count(official_with_cases, api, django_assert_num_queries):
    # token, token touch (first use), assignments (+org codes), count, rows (+org, item)
    with django_assert_num_queries(5):
        body = api.get("/cases", worklist="true").json()
    assert body["count"] == 6


def test_case_list_with_composite_members_query_count(region, api, django_assert_num_queries):
    """Members of 联办件 in the worklist carry their 联办件 number and role at no cost."""
    from tests.api.test_composites import SH_HRSS, pension_application

    clerk = user_with("huangpu.clerk", role="clerk", window=region.window("sh-310101-01"))
    api.login(clerk)
    for _ in range(3):
        assert api.post("/cases", pension_application(region)).status_code == 201
    official = user_with("sh.hrss", role="official", organization=region.org(SH_HRSS))
    api.login(official)
    with django_assert_num_queries(5):
        body = api.get("/cases", worklist="true").json()
    assert body["count"] == 3
    assert {(r["member_role"], bool(r["composite_number"])) for r in body["results"]} == {
        ("转入地", True)
    }


def test_case_detail_query_count(official_with_cases, api, django_assert_num_queries):
    # token, token touch (first use), assignments (+org codes), case (+joins), history, materials,
    # the case's signed documents
    with django_assert_num_queries(7):
        assert api.get("/cases/11310118TESTCASE0000003").status_code == 200


def test_item_list_query_count(region, api, django_assert_num_queries):
    with django_assert_num_queries(2):
        assert api.get("/items", q="登记").json()["count"] > 5


def test_licence_verification_query_count(region, api, django_assert_num_queries, monkeypatch):
    """核验 is the hottest licence endpoint (亮证 13.5 million times a year)."""
    from tests.api.test_licences_api import deliver_to_wallet, peer_licence, zj_status_list
    from tests.factories import id_number
    from tongban.identity.services import person_upsert
    from tongban.licences import trust_snapshot
    from tongban.licences.services import presentation_create

    holder_id = id_number("31010419850612001")
    holder = user_with(
        "chenjing",
        person=person_upsert(name="陈静", id_number=holder_id, home_node="sh"),
        assurance="L3",
    )
    issued = peer_licence(region, holder_id=holder_id)
    from django.test import Client

    assert deliver_to_wallet(region, Client(), issued, holder_id).status_code == 200
    zj_status_list(region, {})
    text = presentation_create(
        user=holder, identifier=issued["identifier"], fields=["vehicle_class"]
    )["qr_text"]
    # what a verifier trusts (nodes, keys, organizations, types) is held in memory,
    # rebuilt when the configuration serial changes (checked every few seconds)
    monkeypatch.setattr(trust_snapshot, "RECHECK_SECONDS", 3600)
    offline = {"qr_text": text, "online": False}  # 联网查询 adds the issuer's round trip
    assert api.post("/licences/verifications", offline).json()["verdict"] == "valid"
    # the status list; whether this code was verified here before (the first verification
    # is a use in the holder's data-use log); then the record and the day's counter
    with django_assert_num_queries(4):
        assert api.post("/licences/verifications", offline).json()["verdict"] == "valid"
