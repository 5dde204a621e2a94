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


def test_case_detail_query_count(official_with_cases, api, django_assert_num_queries):
    # token, token touch (first use), assignments (+org codes), case (+joins), history, materials
    with django_assert_num_queries(6):
        assert api.get("/cases/11310118TESTCASE0000003").status_code == 200


def test_item_list_query_count(region, api, django_assert_num_queries):
    with django_assert_num_queries(2):
        assert api.get("/items", q="登记").json()["count"] > 5
