"""撤回 and the hub's 联办件 view across real processes (hub, sh and zj; real signed HTTP):

* a 嘉善 (zj) window withdraws a case 青浦 (sh) has not accepted: sh applies it and
  confirms, its official can no longer decide it;
* 青浦 accepts while its worker is down, the window withdraws meanwhile: sh keeps the
  case accepted and answers so; once its worker is back, zj shows 已受理 again and the
  timeline says the withdrawal did not take effect;
* a 联办件 coordinated at sh reaches the hub's region-wide view, without the applicant.
"""

from __future__ import annotations

import json

import pytest

from tongban.demo_seed import ESTABLISHMENT
from tongban.identity.demo_accounts import DEMO_PASSWORD, PERSONS
from tongban.region import ApiClient

from .composite_steps import (
    establishment_at_jiashan,
    implementation_of,
    pension_relay_at_huangpu,
    wait_for,
)

pytestmark = pytest.mark.e2e
QINGPU = "上海市青浦区市场监督管理局"


@pytest.fixture(scope="module")
def actors(live_region):
    clerk = ApiClient(live_region.url("zj"), "jiashan.clerk", DEMO_PASSWORD)
    official = ApiClient(live_region.url("sh"), "qingpu.official", DEMO_PASSWORD)
    item = clerk.get(f"/items/{ESTABLISHMENT}").json()
    return clerk, official, item, implementation_of(item, QINGPU)


def submit(actors, company: str) -> str:
    clerk, _, item, org = actors
    return establishment_at_jiashan(clerk, item, org, company)


def test_withdrawal_before_acceptance_reaches_the_deciding_node(live_region, actors):
    clerk, official, _, _ = actors
    number = submit(actors, "上海撤回测试一号科技有限公司")
    wait_for(lambda: official.get(f"/cases/{number}").status_code == 200, what="delivery to sh")
    r = clerk.post(f"/cases/{number}/withdraw", {"reason": "申请人当面要求撤回"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "withdrawn"
    wait_for(
        lambda: official.get(f"/cases/{number}").json()["status"] == "withdrawn",
        what="the withdrawal applied at sh",
    )
    assert official.post(f"/cases/{number}/accept", {}).status_code == 409
    # sh's confirmation is in the window's timeline
    wait_for(
        lambda: any(
            e["node"] == "sh" and e["to_status"] == "withdrawn"
            for e in clerk.get(f"/cases/{number}").json()["timeline"]
        ),
        what="sh's confirmation at zj",
    )
    assert clerk.get(f"/cases/{number}").json()["status"] == "withdrawn"


def test_withdrawal_after_acceptance_keeps_the_true_status(live_region, actors):
    clerk, official, _, _ = actors
    number = submit(actors, "上海撤回测试二号科技有限公司")
    wait_for(lambda: official.get(f"/cases/{number}").status_code == 200, what="delivery to sh")
    live_region.stop("sh", web=False)  # sh's announcements wait in its outbox
    try:
        assert official.post(f"/cases/{number}/accept", {}).status_code == 200
        assert clerk.get(f"/cases/{number}").json()["status"] == "submitted"
        r = clerk.post(f"/cases/{number}/withdraw", {"reason": "不再需要"})
        assert r.status_code == 200, r.text
        wait_for(
            lambda: any(
                e["details"].get("event") == "withdrawal_refused"
                for e in official.get(f"/cases/{number}").json()["timeline"]
            ),
            what="the withdrawal refused at sh",
        )
        assert official.get(f"/cases/{number}").json()["status"] == "accepted"
    finally:
        live_region.start("sh", web=False)
    # sh's outbox sends the acceptance, then its answer to the withdrawal, in that order:
    # wait for the answer, not only for the status the acceptance already brings
    wait_for(
        lambda: any(
            e["details"].get("event") == "withdrawal_refused"
            for e in clerk.get(f"/cases/{number}").json()["timeline"]
        ),
        what="the answer to the withdrawal back at zj",
    )
    body = clerk.get(f"/cases/{number}").json()
    assert body["status"] == "accepted"
    assert body["concluded_at"] is None
    refused = [e for e in body["timeline"] if e["details"].get("event") == "withdrawal_refused"]
    assert refused and "撤回未生效" in refused[-1]["reason"]
    assert clerk.post(f"/cases/{number}/withdraw", {}).status_code == 409


def _hub_trace(region, number: str) -> dict | None:
    out = region.manage(
        "hub",
        "shell",
        "-c",
        "import json; from tongban.cases.models import CompositeTrace as T; "
        f"t = T.objects.filter(number={number!r}).values().first(); "
        "print(json.dumps(t, ensure_ascii=False, default=str))",
    )
    return json.loads(out.strip().splitlines()[-1])


def test_a_composite_reaches_the_hub_without_the_applicant(live_region):
    clerk = ApiClient(live_region.url("sh"), "huangpu.clerk", DEMO_PASSWORD)
    _, name, applicant_id, phone = PERSONS["sh"]
    r = pension_relay_at_huangpu(clerk, "330000")
    assert r.status_code == 201, r.text
    number = r.json()["number"]
    trace = wait_for(lambda: _hub_trace(live_region, number), timeout=90, what="the hub's trace")
    assert trace["coordinating_node"] == "sh" and trace["status"] == "in_progress"
    assert {m["node"] for m in trace["members"]} == {"sh", "zj"}
    text = json.dumps(trace, ensure_ascii=False)
    for personal in (name, applicant_id, phone):
        assert personal not in text
