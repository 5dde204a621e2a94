"""我的数据使用记录 on a phone, in Debian's Chromium, against the four-province region:
张伟 (zj) applies for 异地购房提取住房公积金 decided in 合肥 (ah) without his 不动产权证书,
ah asks js's 婚姻登记信息 and sh's 不动产登记信息; at home he reads both uses with their
purpose and proof, filters them, questions one (an empty reason is refused first), and
the 数据专员 of 合肥住房公积金管理中心 answers on her page — the answer shows in his log.
The page fits the phone's width and axe-core finds nothing serious on it."""

from __future__ import annotations

import json

import pytest

from tests.browser.support import DESKTOP, PHONE, Actor, SmsLog
from tests.browser.test_accessibility import axe_script, check, serve_axe  # noqa: F401
from tests.e2e.composite_steps import wait_for
from tests.e2e.test_region_data_sharing import until_a_code_can_be_sent
from tongban.demo_seed import material_payload
from tongban.identity.demo_accounts import DEMO_PASSWORD, PERSONS
from tongban.region import ApiClient

pytestmark = pytest.mark.browser
FUND = "000530001000"  # 异地购房提取住房公积金
HEFEI_FUND = "1134010007737916X4"  # 合肥住房公积金管理中心 (ah)
PURPOSE = "核验购房提取条件"
ANSWER = (
    "异地购房提取须核验婚姻状况，依据《住房公积金管理条例》第二十四条，仅查询婚姻状况和配偶姓名。"
)
REASON = "我已提交购房合同，为何还要查询婚姻登记信息？"


def uses_of(region, number: str, earlier: set[str] = frozenset()) -> dict:
    """The data queries of the case kept at 张伟's home node (zj), by dataset, read in its
    database; those not in ``earlier``."""
    out = region.manage(
        "zj",
        "shell",
        "-c",
        "import json; from tongban.sharing.models import DataUseRecord as R; "
        f"rows = R.objects.filter(case_number={number!r}, kind='data_query'); "
        "print(json.dumps([{'use_id': r.use_id, 'dataset': r.dataset_code, 'flag': r.flag, "
        "'index': r.audit_index, 'proved': r.proof is not None} for r in rows]))",
    )
    rows = json.loads(out.strip().splitlines()[-1])
    return {r["dataset"]: r for r in rows if r["use_id"] not in earlier}


def use_ids(region) -> set[str]:
    out = region.manage(
        "zj",
        "shell",
        "-c",
        "import json; from tongban.sharing.models import DataUseRecord as R; "
        "print(json.dumps(list(R.objects.values_list('use_id', flat=True))))",
    )
    return set(json.loads(out.strip().splitlines()[-1]))


def application_with_data_checks(region) -> tuple[str, set[str], dict]:
    """张伟's application at the 合肥 window (ah) without the 不动产权证书, both uses at his
    home node and their inclusion proofs: ah's checkpoint signed and cosigned now, zj's
    proofs fetched now (the workers do both every TONGBAN_AUDIT_CHECKPOINT_SECONDS)."""
    _username, name, id_number, phone = PERSONS["zj"]
    earlier = use_ids(region)
    clerk = ApiClient(region.url("ah"), "hefei.clerk", DEMO_PASSWORD)
    item = clerk.get(f"/items/{FUND}").json()
    r = clerk.post(
        "/cases",
        {
            "window": "ah-340100-01",
            "item": FUND,
            "organization": HEFEI_FUND,
            "applicant": {"name": name, "id_number": id_number, "phone": phone},
            "form": {
                "applicant_name": name,
                "applicant_id_number": id_number,
                "contact_phone": phone,
                "house_region": "310118",
                "amount": "50000",
                "bank_account": "6222020000000000002",
            },
            "materials": material_payload(item, only=["M01", "M03"]),
        },
    )
    assert r.status_code == 201, r.text
    number = r.json()["number"]
    wait_for(
        lambda: {"js.marriage", "sh.real_estate"} <= set(uses_of(region, number, earlier)),
        what="both uses at zj",
    )

    def proved():
        region.manage("ah", "audit", "checkpoint")
        try:
            region.manage("ah", "audit", "witness")
        except RuntimeError:
            return None  # a witness busy with the worker's own push: again
        region.manage(
            "zj",
            "shell",
            "-c",
            "from tongban.sharing.data_use import data_use_proofs_collect; "
            "data_use_proofs_collect()",
        )
        uses = uses_of(region, number, earlier)
        return uses if all(u["proved"] for u in uses.values()) else None

    return number, earlier, wait_for(proved, timeout=90, what="the proofs at zj")


def use_card(actor: Actor, use: dict):
    """The entry of one use on the log page (its 提出异议 form names the use)."""
    page = actor.page
    return page.locator("li.data-use").filter(has=page.locator(f"form[action*='{use['use_id']}']"))


def test_a_person_reads_filters_and_questions_a_use_on_a_phone(
    full_region,
    browser,
    axe_script,  # noqa: F811
):
    region = full_region
    number, earlier, uses = application_with_data_checks(region)
    marriage = uses["js.marriage"]
    username = PERSONS["zj"][0]
    reason = f"{REASON}（办件 {number[-6:]}）"

    citizen = Actor(
        browser, region.url("zj"), PHONE, username, sms=SmsLog(region.root / "logs" / "zj-web.log")
    )
    serve_axe(citizen, axe_script)
    citizen.allowed_errors.append("status of 400")  # the refused empty reason, on purpose
    until_a_code_can_be_sent(region, "zj", username)
    citizen.login(username)
    citizen.page.get_by_role("link", name="数据使用记录", exact=True).click()
    citizen.page.wait_for_load_state()
    assert citizen.page.url.endswith("/me/data-use/")
    text = citizen.text()
    for seen in ("我的数据使用记录", "合肥住房公积金管理中心", "婚姻登记信息", "不动产登记信息"):
        assert seen in text, seen
    card = use_card(citizen, marriage)
    assert card.count() == 1
    card_id = card.get_attribute("id")  # use-<pk>: the entry, also once its form is gone
    card_text = card.inner_text()
    assert PURPOSE in card_text and "《住房公积金管理条例》第二十四条" in card_text
    assert "婚姻状况、配偶姓名" in card_text and "数据查询" in card_text
    assert f"第 {marriage['index']} 条" in card_text  # 已收录于 … 审计日志
    assert "见证" in card_text
    citizen.assert_fits_the_screen()
    citizen.screenshot("data-use-1-log-phone")

    # filters: by organization, then one that matches nothing, then cleared
    citizen.page.get_by_label("使用部门").fill("合肥住房公积金")
    citizen.page.get_by_label("使用方式").select_option("data_query")
    citizen.page.get_by_role("button", name="筛选", exact=True).click()
    citizen.page.wait_for_load_state()
    assert "organization=" in citizen.page.url and "kind=data_query" in citizen.page.url
    cards = citizen.page.locator("li.data-use")
    assert cards.count() >= 2
    for i in range(cards.count()):
        assert "合肥住房公积金管理中心" in cards.nth(i).inner_text()
    citizen.page.get_by_label("使用部门").fill("无此部门")
    citizen.page.get_by_role("button", name="筛选", exact=True).click()
    citizen.page.wait_for_load_state()
    assert "暂无数据使用记录" in citizen.text() and "共 0 条记录" in citizen.text()
    citizen.page.get_by_role("link", name="清除筛选").click()
    citizen.page.wait_for_load_state()
    card = citizen.page.locator(f"#{card_id}")

    # 提出异议: an empty reason first — a clear error, nothing changed
    card.locator("summary", has_text="提出异议").click()
    card.get_by_role("button", name="提交异议").click()
    citizen.page.wait_for_load_state()
    assert "请填写异议理由" in citizen.text()
    assert uses_of(region, number, earlier)["js.marriage"]["flag"] == ""
    citizen.assert_fits_the_screen()
    found: dict = {}
    check(citizen, "/me/data-use/ (an empty reason refused)", found)
    card = citizen.page.locator(f"#{card_id}")
    card.get_by_label("异议理由").fill(reason)
    card.get_by_role("button", name="提交异议").click()
    citizen.page.wait_for_load_state()
    assert "异议已提交" in citizen.text()
    card = citizen.page.locator(f"#{card_id}")
    assert "待答复" in card.inner_text() and "答复期限" in card.inner_text()
    assert reason in card.inner_text()
    assert uses_of(region, number, earlier)["js.marriage"]["flag"] == "open"
    citizen.screenshot("data-use-2-flag-pending-phone")

    # the 数据专员 of 合肥住房公积金管理中心 answers on her page (ah)
    officer = Actor(browser, region.url("ah"), DESKTOP, "hefei.fund.data")
    officer.allowed_errors.append("status of 400")  # the refused empty answer
    officer.login("hefei.fund.data")
    officer.wait_for("/data-officer/", lambda t: reason in t, what="the flag at ah")
    flag = officer.page.locator("li.flag", has_text=reason)
    assert "婚姻登记信息" in flag.inner_text() and PURPOSE in flag.inner_text()
    flag.get_by_role("button", name="答复", exact=True).click()  # empty first: refused
    officer.page.wait_for_load_state()
    assert "请填写答复" in officer.text()
    flag = officer.page.locator("li.flag", has_text=reason)
    flag.get_by_label("答复", exact=True).fill(ANSWER)
    flag.get_by_role("button", name="答复", exact=True).click()
    officer.page.wait_for_load_state()
    assert "答复已发送" in officer.text()
    officer.screenshot("data-use-3-officer-answered")

    # his log shows the answer
    citizen.wait_for("/me/data-use/", lambda t: ANSWER in t, what="the answer at zj")
    card = citizen.page.locator(f"#{card_id}")
    assert "已答复" in card.inner_text() and ANSWER in card.inner_text()
    assert uses_of(region, number, earlier)["js.marriage"]["flag"] == "answered"
    citizen.assert_fits_the_screen()
    check(citizen, "/me/data-use/ (answered)", found)
    citizen.screenshot("data-use-4-answered-phone")
    report = json.dumps(found, ensure_ascii=False, indent=1)
    assert not {k: v for k, v in found.items() if v}, f"axe-core found violations:\n{report}"
    for actor in (citizen, officer):
        actor.close()
