"""Flow 1 through the pages, in a real browser, across two real nodes.

A clerk at the 嘉善 window (zj) takes an application for 内资有限公司设立登记
decided by 青浦 (sh); the 青浦 official asks for a supplement, the window
supplies it, the official accepts and approves; the window and the applicant
see the result. Each node is its own web server + worker with its own
database, talking signed HTTP on loopback.

Needs Debian's chromium (/usr/bin/chromium). Without it the test is skipped
locally and fails under CI.
"""

from __future__ import annotations

import re

import pytest

from tests.browser.support import DESKTOP, PDF, PHONE, Actor, SmsLog, running_region
from tongban.identity.demo_accounts import PERSONS

pytestmark = pytest.mark.browser

ESTABLISHMENT = "000301001000"  # 内资有限公司设立登记
QINGPU_AMR = "上海市青浦区市场监督管理局"


@pytest.fixture(scope="module")
def live_region(tmp_path_factory):
    with running_region(tmp_path_factory.mktemp("region"), ("sh", "zj")) as region:
        yield region


def test_flow1_window_intake_to_remote_decision(live_region, browser, tmp_path):
    zj, sh = live_region.url("zj"), live_region.url("sh")
    username, name, id_number, phone = PERSONS["zj"]
    files = {}
    for code in ("M01", "M02", "M03", "M04", "M05"):
        files[code] = tmp_path / f"{code}.pdf"
        files[code].write_bytes(PDF + f"% {code}\n".encode())
    supplement = tmp_path / "章程（补签）.pdf"
    supplement.write_bytes(PDF + b"% M02 signed by all shareholders\n")

    # --- 1. the 嘉善 window (zj), on a phone-sized screen ------------------------------------
    clerk = Actor(browser, zj, PHONE, "jiashan.clerk")
    clerk.login("jiashan.clerk")
    clerk.goto("/window/")
    assert "嘉善县长三角“一网通办”综合服务专窗" in clerk.text()
    clerk.page.get_by_role("link", name="新建收件").click()
    clerk.page.get_by_label("搜索事项").fill("设立登记")
    clerk.page.get_by_role("button", name="搜索").click()
    clerk.page.get_by_role("link", name=re.compile("^窗口收件.*：内资有限公司设立登记$")).click()
    assert clerk.page.url.endswith(f"/window/apply/{ESTABLISHMENT}/")
    clerk.assert_fits_the_screen()

    form = clerk.page
    form.get_by_label("办理机构", exact=True).select_option(label=f"{QINGPU_AMR}（上海）")
    form.get_by_label("申请人姓名", exact=True).fill(name)
    form.get_by_label("身份证号", exact=True).fill(id_number)
    form.get_by_label("手机号码", exact=True).fill(phone)
    form.get_by_label("已当面核验身份", exact=True).check()
    form.get_by_label("企业名称", exact=True).fill("上海青禾数字科技有限公司")
    form.get_by_label("注册资本（万元）", exact=True).fill("500")
    form.get_by_label("经营范围", exact=True).fill("技术服务、技术开发、技术咨询")
    form.get_by_label("住所", exact=True).fill("上海市青浦区华新镇华腾路1288号")
    form.get_by_label("法定代表人", exact=True).fill(name)
    form.get_by_label("公司类型", exact=True).select_option(index=1)
    for code, path in files.items():
        form.locator(f"#id_m_{code}").set_input_files(str(path))
    clerk.screenshot("01-zj-window-apply-phone")
    form.get_by_role("button", name="提交并转送").click()
    form.wait_for_load_state()

    match = re.search(r"/cases/([^/]+)/$", clerk.page.url)
    assert match, f"no redirect to the case page: {clerk.page.url}"
    number = match.group(1)
    text = clerk.text()
    assert f"已转送 {QINGPU_AMR}" in text and number in text
    assert id_number not in clerk.page.content()  # masked everywhere
    clerk.assert_fits_the_screen()
    case_path = f"/cases/{number}/"

    # --- 2. the 青浦 official (sh) finds it in the worklist ----------------------------------
    official = Actor(browser, sh, DESKTOP, "qingpu.official")
    official.login("qingpu.official")
    official.wait_for("/work/", lambda t: number in t, "the forwarded case")
    official.screenshot("02-sh-worklist-desktop")
    official.page.get_by_role("link", name=number).click()
    text = official.text()
    assert text.count("摘要已核验 ✓") == 5, text
    assert "当面核验（浙江 浙里办）" in text and "嘉善县长三角“一网通办”综合服务专窗" in text
    assert "上海青禾数字科技有限公司" in text
    official.screenshot("03-sh-official-case-desktop")

    official.page.get_by_label("公司章程", exact=True).check()
    official.page.get_by_label("“公司章程”需补正的内容").fill("章程缺少全体股东签字")
    official.page.get_by_label("总体说明").fill("请补正后重新提交")
    official.page.get_by_role("button", name="一次性告知补正").click()
    official.page.wait_for_load_state()
    assert "待补正" in official.text()

    # --- 3. back at the window: the supplement -------------------------------------------------
    clerk.wait_for(
        case_path,
        lambda t: "补正告知" in t and "章程缺少全体股东签字" in t,
        "the supplement request",
    )
    clerk.page.locator("#id_supply-m_M02").set_input_files(str(supplement))
    clerk.page.get_by_label("说明（可选）").fill("已补签")
    clerk.page.get_by_role("button", name="提交补正材料").click()
    clerk.page.wait_for_load_state()
    assert "补正材料已提交" in clerk.text()

    # --- 4. the official accepts and approves ----------------------------------------------
    official.wait_for(
        case_path, lambda t: "补正提交" in t and "已补签" in t, "the supplied material"
    )
    official.page.get_by_role("button", name="受理", exact=True).click()
    official.page.wait_for_load_state()
    assert f"办件 {number} 已受理" in official.text()
    official.page.get_by_label("确认准予许可：将出具办理结果，不可撤回").check()
    official.page.get_by_role("button", name="准予许可", exact=True).click()
    official.page.wait_for_load_state()
    text = official.text()
    assert "准予许可（已办结）" in text
    uscc = official.page.locator(".uscc").inner_text().strip()
    assert re.fullmatch(r"[0-9A-HJ-NPQRTUWXY]{18}", uscc), uscc

    # --- 5. the window sees the outcome ----------------------------------------------------
    clerk.wait_for(case_path, lambda t: "准予许可（已办结）" in t and uscc in t, "the approval")
    timeline = clerk.page.locator(".timeline").inner_text()
    assert "浙江 浙里办" in timeline and "上海 随申办" in timeline
    for label in ("已提交", "待补正", "已受理", "准予许可（已办结）"):
        assert label in timeline, label
    assert "统一社会信用代码" in clerk.text()
    for kind in ("acceptance", "result"):
        link = clerk.page.locator(f'a[href$="/{kind}.pdf"]')
        assert link.count() == 1, kind
        response = clerk.context.request.get(zj + link.get_attribute("href"))
        assert response.status == 200 and response.headers["content-type"] == "application/pdf"
        assert response.body().startswith(b"%PDF")
    clerk.assert_fits_the_screen()
    clerk.screenshot("04-zj-case-approved-phone")

    # --- 6. the applicant ----------------------------------------------------------------
    applicant = Actor(
        browser, zj, PHONE, username, sms=SmsLog(live_region.root / "logs" / "zj-web.log")
    )
    applicant.login(username)  # a resident: password, then the SMS code
    applicant.goto("/me/cases/")
    text = applicant.text()
    assert number in text and "准予许可（已办结）" in text and uscc in text
    applicant.assert_fits_the_screen()
    applicant.screenshot("05-zj-applicant-my-cases-phone")

    # --- 7. the same page in English --------------------------------------------------------
    applicant.page.get_by_label("语言").select_option("en")
    applicant.page.get_by_role("button", name="切换语言").click()
    applicant.page.wait_for_load_state()
    assert applicant.page.locator("html").get_attribute("lang") == "en"
    text = applicant.text()
    assert "My cases" in text and "Approved (concluded)" in text and "我的办件" not in text
    applicant.goto(case_path)
    text = applicant.text()
    assert "Timeline" in text and "SM3" not in text and "Digest verified" not in text
    applicant.assert_fits_the_screen()
    applicant.screenshot("06-zj-case-english-phone")

    for actor in (clerk, official, applicant):
        actor.close()
