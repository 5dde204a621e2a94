"""Flow 1 (收受分离) across real processes: a 嘉善 (zj) window takes an application
that 青浦 (sh) decides; the result and every status change flow back — including
while the sh node is down and when the zj worker dies mid-delivery."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest
from stdnum.cn import uscc

from tongban.demo_seed import ESTABLISHMENT, material_payload
from tongban.identity.demo_accounts import DEMO_PASSWORD, PERSONS
from tongban.region import ApiClient

from .composite_steps import establishment_at_jiashan, implementation_of

pytestmark = pytest.mark.e2e
QINGPU = "上海市青浦区市场监督管理局"


def wait_for(fn, timeout=45.0, what=""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def actors(live_region):
    clerk = ApiClient(live_region.url("zj"), "jiashan.clerk", DEMO_PASSWORD)
    official = ApiClient(live_region.url("sh"), "qingpu.official", DEMO_PASSWORD)
    zj_admin = ApiClient(live_region.url("zj"), "zj.admin", DEMO_PASSWORD)
    item = clerk.get(f"/items/{ESTABLISHMENT}").json()
    return clerk, official, zj_admin, item, implementation_of(item, QINGPU)


def submit(actors, company="上海青禾数字科技有限公司") -> str:
    clerk, _, _, item, org = actors
    return establishment_at_jiashan(clerk, item, org, company)


def test_health_reports_each_role(live_region):
    import requests

    for node, role in (("hub", "hub"), ("sh", "node"), ("zj", "node")):
        body = requests.get(f"{live_region.url(node)}/api/v1/health", timeout=5).json()
        assert (body["node"], body["role"], body["status"]) == (node, role, "ok")
    spec = requests.get(f"{live_region.url('sh')}/api/v1/openapi.json", timeout=5).json()
    assert spec["openapi"].startswith("3.") and "/api/v1/cases" in spec["paths"]


def test_flow1_window_to_remote_authority_and_back(live_region, actors):
    clerk, official, _, item, _ = actors
    number = submit(actors)
    case = clerk.get(f"/cases/{number}").json()
    assert case["perspective"] == "origin" and case["handling_organization_name"] == QINGPU

    # the case reaches the 青浦 official's worklist with verified materials and zj's assertion
    wait_for(lambda: official.get(f"/cases/{number}").status_code == 200, what="delivery to sh")
    detail = official.get(f"/cases/{number}").json()
    assert detail["perspective"] == "handling" and detail["deadline"]
    assert all(m["digest_verified"] for m in detail["materials"]) and len(detail["materials"]) == 5
    assert detail["identity_assertion"]["method"] == "in_person"
    assert detail["identity_assertion"]["authenticated_by"]["node"] == "zj"
    assert number in [
        c["number"] for c in official.get("/cases", worklist="true").json()["results"]
    ]

    # 补正: the official asks, the window supplies, the case returns to the worklist
    missing_code = item["materials"][1]["code"]
    r = official.post(
        f"/cases/{number}/request-supplements",
        {"missing": [{"material_code": missing_code, "note": "请加盖公章"}]},
    )
    assert r.status_code == 200, r.text
    wait_for(
        lambda: clerk.get(f"/cases/{number}").json()["status"] == "supplement_requested",
        what="supplement request at zj",
    )
    r = clerk.post(
        f"/cases/{number}/supply", {"materials": material_payload(item, only=[missing_code])}
    )
    assert r.status_code == 200, r.text
    wait_for(
        lambda: official.get(f"/cases/{number}").json()["status"] == "submitted",
        what="supply at sh",
    )
    assert len(official.get(f"/cases/{number}").json()["materials"]) == 6

    # 受理 → 准予: the signed licence with a fresh 统一社会信用代码 comes back to zj
    assert official.post(f"/cases/{number}/accept", {"note": "予以受理"}).status_code == 200
    assert official.post(f"/cases/{number}/approve", {}).status_code == 200
    final = wait_for(
        lambda: (c := clerk.get(f"/cases/{number}").json())["status"] == "approved" and c,
        what="approval at zj",
    )
    code = final["result"]["document"]["uscc"]
    assert uscc.is_valid(code) and final["result"]["document"]["name"] == "上海青禾数字科技有限公司"
    statuses = [t["to_status"] for t in final["timeline"]]
    assert statuses == ["submitted", "supplement_requested", "submitted", "accepted", "approved"]
    assert {t["node"] for t in final["timeline"]} == {"zj", "sh"}
    assert all(t["recorded_at"] >= t["occurred_at"] for t in final["timeline"])
    for kind in ("acceptance", "conclusion", "result"):
        pdf = clerk.get(f"/cases/{number}/documents/{kind}.pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

    # the applicant sees it at home (zj) under "my cases"
    applicant = ApiClient(
        live_region.url("zj"),
        PERSONS["zj"][0],
        DEMO_PASSWORD,
        otp=lambda: live_region.last_sms_code("zj"),
    )
    mine = applicant.get("/cases").json()
    assert number in [c["number"] for c in mine["results"]]


def test_peer_outage_loses_nothing_and_duplicates_nothing(live_region, actors):
    clerk, official, zj_admin, _, _ = actors
    live_region.stop("sh")  # web and worker
    numbers = [submit(actors, f"上海停机测试{i}科技有限公司") for i in range(3)]
    # recorded at zj, waiting in the outbox while sh is down
    time.sleep(1.5)
    pending = zj_admin.get("/exchange/outbox", status="pending").json()
    assert {m["correlation"] for m in pending} >= set(numbers)
    assert any(m["attempts"] >= 1 and m["last_error"] for m in pending)
    live_region.start("sh")
    for number in numbers:
        wait_for(
            lambda n=number: official.get(f"/cases/{n}").status_code == 200,
            what=f"{number} after outage",
        )
    delivered = [
        m for m in zj_admin.get("/exchange/outbox", limit=500).json() if m["correlation"] in numbers
    ]
    assert len(delivered) == 3 and {m["status"] for m in delivered} == {"delivered"}
    assert all(
        m["request_out_at"] and m["request_in_at"] and m["response_out_at"] and m["response_in_at"]
        for m in delivered
    )
    listed = [c["number"] for c in official.get("/cases", limit=200).json()["results"]]
    assert all(listed.count(n) == 1 for n in numbers)


CRASH_AFTER_SEND = textwrap.dedent("""
    import os, django
    django.setup()
    import requests
    from tongban.directory.models import Node
    from tongban.exchange.dispatcher import outbox_lease_due
    from tongban.identity.pii import decrypt_at_rest
    due = outbox_lease_due(limit=10)
    assert due, "nothing to deliver"
    for m in due:
        url = Node.objects.get(node_id=m.recipient).base_url + "/api/v1/exchange/inbox"
        requests.post(url, data=decrypt_at_rest(m.envelope).encode(), headers={"Content-Type": "application/json"}, timeout=10)
    print(len(due), flush=True)
    os._exit(9)  # die after the peer applied it, before recording the receipt
""")


def test_worker_killed_mid_delivery_redelivers_once(live_region, actors):
    clerk, official, zj_admin, _, _ = actors
    live_region.kill_worker("zj")  # kill -9
    number = submit(actors, "上海断点续传科技有限公司")
    crashed = subprocess.run(
        [sys.executable, "-c", CRASH_AFTER_SEND],
        env=live_region.env("zj"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert crashed.returncode == 9, crashed.stderr
    # sh applied it, but zj never recorded the receipt: still pending, leased
    assert official.get(f"/cases/{number}").status_code == 200
    row = next(m for m in zj_admin.get("/exchange/outbox").json() if m["correlation"] == number)
    assert row["status"] == "pending"
    live_region.start("zj", web=False)  # a new worker picks it up once the lease expires
    wait_for(
        lambda: (
            next(m for m in zj_admin.get("/exchange/outbox").json() if m["correlation"] == number)[
                "status"
            ]
            == "delivered"
        ),
        what="redelivery after the crash",
    )
    # the receiver answered the redelivery as a duplicate: one case, one history entry
    detail = official.get(f"/cases/{number}").json()
    assert len(detail["timeline"]) == 1
    assert [c["number"] for c in official.get("/cases", limit=200).json()["results"]].count(
        number
    ) == 1


def test_bad_input_through_the_live_api(live_region, actors):
    clerk, official, _, item, org = actors
    r = clerk.post(
        "/cases",
        {
            "window": "zj-330421-01",
            "item": ESTABLISHMENT,
            "organization": org,
            "applicant": {"name": "张伟", "id_number": "123", "phone": "139"},
            "form": {},
            "materials": [],
        },
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_applicant"
    r = clerk.post("/cases", {"window": "zj-330421-01"})
    assert r.status_code == 422
    import requests

    r = requests.post(f"{live_region.url('sh')}/api/v1/exchange/inbox", data=b"{}", timeout=5)
    assert r.status_code == 400 and r.json()["signed"]["code"] == "malformed"


def test_hub_outage_then_key_rotation_picked_up_without_restart(live_region, actors):
    import json

    import requests

    clerk, official, _, _, _ = actors
    live_region.stop("hub")
    # nodes keep exchanging on their cached, still valid configuration
    number = submit(actors, "上海枢纽停机科技有限公司")
    wait_for(
        lambda: official.get(f"/cases/{number}").status_code == 200,
        what="delivery with the hub down",
    )
    assert (
        requests.get(f"{live_region.url('zj')}/api/v1/health", timeout=5).json()["status"] == "ok"
    )
    live_region.start("hub", worker=False)

    serial = requests.get(f"{live_region.url('zj')}/api/v1/health", timeout=5).json()[
        "configuration_serial"
    ]
    key = json.loads(live_region.manage("sh", "keys", "rotate"))
    live_region.manage(
        "hub",
        "node-key-add",
        "--node",
        "sh",
        "--kid",
        key["kid"],
        "--public-key",
        key["public_key"],
    )
    wait_for(
        lambda: (
            requests.get(f"{live_region.url('zj')}/api/v1/health", timeout=5).json()[
                "configuration_serial"
            ]
            > serial
        ),
        what="zj polling the new configuration",
    )
    # sh now signs with the new key; zj verifies it without any restart
    assert official.post(f"/cases/{number}/accept", {}).status_code == 200
    wait_for(
        lambda: clerk.get(f"/cases/{number}").json()["status"] == "accepted",
        what="event signed with new key",
    )
    result = official.post(f"/cases/{number}/approve", {}).json()["result"]
    assert result["signature"]["kid"] == key["kid"]
    wait_for(
        lambda: clerk.get(f"/cases/{number}").json()["status"] == "approved",
        what="approval with new key",
    )
