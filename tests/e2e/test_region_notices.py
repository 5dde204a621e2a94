"""Notices across real processes (issue 10): a 嘉善 (zj) window takes an application of
a 上海 resident that 青浦 (sh) decides. zj, which received the case, tells her of each
change by SMS (its console) and sends the notice by a signed notice.deliver over HTTP
to her home node sh, whose 消息中心 keeps it; sh, which decides, tells her nothing itself."""

from __future__ import annotations

import json
import time

import pytest

from tongban.demo_seed import ESTABLISHMENT
from tongban.identity.demo_accounts import DEMO_PASSWORD, PERSONS
from tongban.region import ApiClient

from .composite_steps import establishment_at_jiashan, implementation_of

pytestmark = pytest.mark.e2e
QINGPU = "上海市青浦区市场监督管理局"

NOTICES = """
import json
from tongban.identity.pii import blind_index
from tongban.notices.models import Notice
rows = Notice.objects.filter(case_number={number!r}).order_by("id")
print(json.dumps([
    {{"title": n.title, "text": n.text, "link": n.link, "origin_node": n.origin_node,
      "for_her": n.recipient_index == blind_index({id_number!r})}}
    for n in rows
], ensure_ascii=False))
"""


def notices_at(region, node: str, number: str, id_number: str) -> list[dict]:
    code = NOTICES.format(number=number, id_number=id_number)
    return json.loads(region.manage(node, "shell", "-c", code).strip().splitlines()[-1])


def wait_for_titles(region, node, number, id_number, titles, timeout=60.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    rows: list[dict] = []
    while time.monotonic() < deadline:
        rows = notices_at(region, node, number, id_number)
        if [r["title"] for r in rows] == titles:
            return rows
        time.sleep(0.5)
    raise AssertionError(f"notices at {node}: {[r['title'] for r in rows]}, wanted {titles}")


def test_the_receiving_node_tells_the_applicant_at_her_home_node(live_region):
    clerk = ApiClient(live_region.url("zj"), "jiashan.clerk", DEMO_PASSWORD)
    official = ApiClient(live_region.url("sh"), "qingpu.official", DEMO_PASSWORD)
    item = clerk.get(f"/items/{ESTABLISHMENT}").json()
    _, _, id_number, phone = PERSONS["sh"]  # 李娜, a 上海 resident
    number = establishment_at_jiashan(
        clerk, item, implementation_of(item, QINGPU), "上海青禾通知测试有限公司", applicant="sh"
    )

    rows = wait_for_titles(live_region, "sh", number, id_number, ["办件已提交"])
    assert rows[0]["origin_node"] == "zj" and rows[0]["for_her"]
    # opened at sh: single sign-on at zj through sh, then the case page
    assert rows[0]["link"] == (f"{live_region.url('zj')}/sso/sh/start/?next=%2Fcases%2F{number}%2F")
    assert notices_at(live_region, "zj", number, id_number) == []  # not her home

    deadline = time.monotonic() + 45
    while official.get(f"/cases/{number}").status_code != 200:
        assert time.monotonic() < deadline, "the case did not reach sh"
        time.sleep(0.2)
    assert official.post(f"/cases/{number}/accept", {"note": "予以受理"}).status_code == 200
    rows = wait_for_titles(live_region, "sh", number, id_number, ["办件已提交", "办件已受理"])
    assert number in rows[1]["text"] and "内资有限公司设立登记" in rows[1]["text"]

    # the SMS went from zj's console, masked; sh (which decides) sent none for this case
    logs = live_region.root / "logs"
    zj_log = (logs / "zj-web.log").read_text(encoding="utf-8", errors="replace")
    sh_log = (logs / "sh-web.log").read_text(encoding="utf-8", errors="replace")
    masked = phone[:3] + "****" + phone[-4:]
    assert (
        f"[短信 → {masked}] 【通办】您申请的“内资有限公司设立登记”（办件编号 {number}）已受理"
        in zj_log
    )
    assert f"（办件编号 {number}）" not in sh_log
    assert id_number not in zj_log and id_number not in sh_log
