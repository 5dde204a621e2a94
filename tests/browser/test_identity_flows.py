"""Residents online, in a real browser, across two real nodes (sh and js).

1. A new resident registers at js (苏服办) with an SMS code, applies online for
   户籍事项证明 decided by 上海市公安局 (sh); the sh official accepts and
   approves; the resident sees the result at js.
2. From the case page at js, "在随申办查看" signs the resident in at sh through
   js (single sign-on, no password at sh) and shows the case there.
3. The resident registers an enterprise and authorizes a second resident as its
   agent for 内资有限公司经营范围变更登记; the agent applies for the enterprise
   at 青浦 (sh); the legal representative sees the enterprise's case.
   The agent also signs in at sh from sh's login page, with the js account
   (password and SMS code at js).
4. Five wrong passwords lock the account.

SMS codes are read where the demo "sends" them: the node's web process log.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from stdnum.cn import ric, uscc

from tests.browser.support import DESKTOP, PDF, PHONE, Actor, SmsLog, running_region

pytestmark = pytest.mark.browser

HOUSEHOLD_PROOF = "000501001000"  # 户籍事项证明 — personal, L2
SCOPE_CHANGE = "000302001000"  # 内资有限公司经营范围变更登记 — enterprise, L2
SH_POLICE = "上海市公安局"
QINGPU_AMR = "上海市青浦区市场监督管理局"


def id_number(prefix17: str) -> str:
    return prefix17 + ric.calc_check_digit(prefix17 + "0")


def enterprise_code(prefix17: str) -> str:
    return prefix17 + uscc.calc_check_digit(prefix17)


# invented, valid identifiers (a fresh region per run)
RESIDENT = {
    "name": "周婷",
    "id": id_number("32010219900305242"),
    "phone": "13851231234",
    "username": "zhouting",
}
AGENT = {
    "name": "钱进",
    "id": id_number("32010219850717351"),
    "phone": "13951234567",
    "username": "qianjin",
}
PASSWORD = "Zhou-ting-2026!"
ENTERPRISE = {"code": enterprise_code("91320102MA1W3K5T0"), "name": "南京青禾数字科技有限公司"}


@pytest.fixture(scope="module")
def live_region(tmp_path_factory):
    with running_region(tmp_path_factory.mktemp("region"), ("sh", "js")) as region:
        yield region


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("files")
    paths = {}
    for code in ("M01", "M02", "M03", "M04"):
        paths[code] = folder / f"{code}.pdf"
        paths[code].write_bytes(PDF + f"% {code}\n".encode())
    return paths


def register(actor: Actor, who: dict) -> None:
    actor.goto("/register/")
    form = actor.page
    form.get_by_label("姓名", exact=True).fill(who["name"])
    form.get_by_label("身份证号", exact=True).fill(who["id"])
    form.get_by_label("手机号码", exact=True).fill(who["phone"])
    form.get_by_label("用户名", exact=True).fill(who["username"])
    form.get_by_label("设置密码", exact=True).fill(PASSWORD)
    form.get_by_label("确认密码", exact=True).fill(PASSWORD)
    offset = actor.sms.mark()
    form.get_by_role("button", name="注册并发送验证码").click()
    form.wait_for_load_state()
    assert actor.page.url.endswith("/register/verify/"), actor.text()
    actor.enter_sms_code(offset, "验证并完成注册")
    assert actor.page.url.endswith("/me/cases/"), actor.text()
    assert "注册成功" in actor.text() and "在线实名" in actor.text()


def test_residents_online(live_region, browser, files):
    js, sh = live_region.url("js"), live_region.url("sh")
    js_sms = SmsLog(live_region.root / "logs" / "js-web.log")

    # --- 1. register at js, apply online for a certificate issued in Shanghai ------------------
    person = Actor(browser, js, PHONE, "resident", sms=js_sms)
    register(person, RESIDENT)
    person.assert_fits_the_screen()
    person.screenshot("id-01-js-registered-phone")

    person.goto(f"/items/{HOUSEHOLD_PROOF}/")
    person.page.get_by_role("link", name="网上申请", exact=True).click()
    assert person.page.url.endswith(f"/apply/{HOUSEHOLD_PROOF}/")
    text = person.text()
    assert "周*" in text and RESIDENT["id"][:4] + "**********" + RESIDENT["id"][-4:] in text
    assert RESIDENT["id"] not in person.page.content()
    form = person.page
    form.get_by_label("办理机构", exact=True).select_option(label=f"{SH_POLICE}（上海）")
    form.get_by_label("证明事项", exact=True).select_option(label="亲属关系")
    form.get_by_label("用途", exact=True).fill("办理子女入学")
    form.locator("#id_m_M01").set_input_files(str(files["M01"]))
    form.locator("#id_m_M02").set_input_files(str(files["M02"]))
    person.assert_fits_the_screen()
    person.screenshot("id-02-js-online-apply-phone")
    form.get_by_role("button", name="提交申请").click()
    form.wait_for_load_state()
    match = re.search(r"/cases/([^/]+)/$", person.page.url)
    assert match, f"no redirect to the case page: {person.page.url}\n{person.text()}"
    number = match.group(1)
    text = person.text()
    assert f"已转送 {SH_POLICE}" in text and number in text
    assert "网上认证：密码+短信验证码（江苏 苏服办）" in text
    case_path = f"/cases/{number}/"

    official = Actor(browser, sh, DESKTOP, "sh.police.official")
    official.login("sh.police.official")
    official.wait_for("/work/", lambda t: number in t, "the online application")
    official.page.get_by_role("link", name=number).click()
    text = official.text()
    assert "网上认证：密码+短信验证码（江苏 苏服办）" in text and "在线实名" in text
    assert "身份担保（户籍/常住地）" in text and "江苏 苏服办" in text
    assert text.count("摘要已核验 ✓") == 2, text
    official.screenshot("id-03-sh-official-online-case-desktop")
    official.page.get_by_role("button", name="受理", exact=True).click()
    official.page.wait_for_load_state()
    assert f"办件 {number} 已受理" in official.text()
    # the certificate states what the police confirm: approving without it asks for it
    official.page.get_by_label("确认准予许可：将出具办理结果，不可撤回").check()
    official.page.get_by_label("证明内容（经核查确认的户籍信息）").fill(
        "经核查，王芳户籍登记于江苏省苏州市，曾用名：王小芳。"
    )
    official.page.get_by_role("button", name="准予许可", exact=True).click()
    official.page.wait_for_load_state()
    assert "准予许可（已办结）" in official.text()

    person.wait_for(case_path, lambda t: "准予许可（已办结）" in t, "the approval")
    assert "户籍事项证明" in person.text()
    person.assert_fits_the_screen()
    person.screenshot("id-04-js-case-approved-phone")

    # --- 2. follow it at sh, signed in there through js ------------------------------------
    person.page.get_by_role("link", name="在随申办查看").click()
    person.page.wait_for_load_state()
    assert person.page.url == sh + case_path, person.page.url
    text = person.text()
    assert number in text and "准予许可（已办结）" in text
    assert "随申办" in text
    assert "在线实名" in person.page.locator(".whoami").inner_text()
    person.goto(sh + "/me/cases/")
    assert number in person.text()
    person.assert_fits_the_screen()
    person.screenshot("id-05-sh-case-via-sso-phone")

    # --- 3. an enterprise, its agent, and the agent's application --------------------------------
    agent = Actor(browser, js, PHONE, "agent", sms=js_sms)
    register(agent, AGENT)

    # js's 企业登记信息 names her as the legal representative (a sample row of the register,
    # which is what confirms her: nobody becomes legal representative by typing a code)
    live_region.manage(
        "js",
        "shell",
        "-c",
        "from tongban.sharing.providers import sample_record_put; "
        f"sample_record_put(dataset_code='js.enterprise', subject={{'uscc': '{ENTERPRISE['code']}'}}, "
        f"data={{'name': '{ENTERPRISE['name']}', 'uscc': '{ENTERPRISE['code']}', "
        f"'legal_representative': '{RESIDENT['name']}', "
        f"'legal_representative_id': '{RESIDENT['id']}', 'status': '存续（在营、开业、在册）'}})",
    )
    person.goto(js + "/me/enterprises/")
    person.page.get_by_label("统一社会信用代码", exact=True).fill(ENTERPRISE["code"])
    person.page.get_by_role("button", name="登记企业").click()
    person.page.wait_for_load_state()
    assert "登记机关已核验" in person.text(), person.text()
    assert ENTERPRISE["name"] in person.text()  # named as the register names it
    person.page.locator("summary", has_text="授权经办人").click()
    person.page.get_by_label("经办人姓名", exact=True).fill(AGENT["name"])
    person.page.get_by_label("经办人身份证号", exact=True).fill(AGENT["id"])
    person.page.get_by_label("内资有限公司经营范围变更登记", exact=True).check()
    expires = (dt.date.today() + dt.timedelta(days=90)).isoformat()
    person.page.get_by_label("授权有效期至", exact=True).fill(expires)
    person.assert_fits_the_screen()
    person.screenshot("id-06-js-authorize-agent-phone")
    person.page.get_by_role("button", name="授权", exact=True).click()
    person.page.wait_for_load_state()
    text = person.text()
    assert f"已授权 {AGENT['name']}" in text and "内资有限公司经营范围变更登记" in text
    assert "有效" in text

    # the agent proved only a phone: an authorization naming their 身份证号 waits for
    # a face-to-face check (ADR 0010)
    agent.goto("/me/enterprises/")
    assert ENTERPRISE["name"] not in agent.text() and "当面核验" in agent.text()
    # the agent shows their ID card at the 吴江 window: the clerk checks the account
    clerk = Actor(browser, js, DESKTOP, "wujiang.clerk")
    clerk.login("wujiang.clerk")
    clerk.goto("/window/")
    clerk.page.get_by_role("link", name="当面核验账号").click()
    clerk.page.get_by_label("身份证号", exact=True).fill(AGENT["id"])
    clerk.page.get_by_label("注册手机号码", exact=True).fill(AGENT["phone"])
    clerk.page.get_by_label("已核对身份证原件与本人一致", exact=True).check()
    clerk.page.get_by_role("button", name="确认当面核验").click()
    clerk.page.wait_for_load_state()
    assert "实名等级为“当面核验”" in clerk.text(), clerk.text()
    clerk.screenshot("id-06b-js-window-identity-check-desktop")
    agent.goto("/me/enterprises/")
    assert ENTERPRISE["name"] in agent.text()
    agent.page.get_by_role(
        "link", name=re.compile("^网上申请.*：内资有限公司经营范围变更登记$")
    ).click()
    assert f"/apply/{SCOPE_CHANGE}/?enterprise={ENTERPRISE['code']}" in agent.page.url
    form = agent.page
    form.get_by_label("办理机构", exact=True).select_option(label=f"{QINGPU_AMR}（上海）")
    chosen = form.get_by_label("以企业名义申请", exact=True)
    assert chosen.input_value() == ENTERPRISE["code"]
    # 企业名称 and 统一社会信用代码 are left empty: they come from the chosen enterprise
    form.get_by_label("变更后经营范围", exact=True).fill("技术服务、技术开发、软件开发")
    form.get_by_label("决议日期", exact=True).fill("2026-10-01")
    for code in ("M01", "M02", "M03", "M04"):
        form.locator(f"#id_m_{code}").set_input_files(str(files[code]))
    agent.screenshot("id-07-js-agent-apply-phone")
    form.get_by_role("button", name="提交申请").click()
    form.wait_for_load_state()
    match = re.search(r"/cases/([^/]+)/$", agent.page.url)
    assert match, f"no redirect to the case page: {agent.page.url}\n{agent.text()}"
    enterprise_number = match.group(1)
    text = agent.text()
    assert f"已转送 {QINGPU_AMR}" in text
    assert "申请企业" in text and ENTERPRISE["name"] in text and "代表企业" in text
    agent.assert_fits_the_screen()

    person.goto("/me/cases/")
    assert enterprise_number in person.text()
    person.goto(f"/cases/{enterprise_number}/")
    text = person.text()
    assert ENTERPRISE["name"] in text and AGENT["name"] in text and "经办人" in text
    assert "在随申办查看" not in text  # the enterprise's case, not the person's own
    person.screenshot("id-08-js-legal-representative-sees-enterprise-case-phone")

    # --- 3b. sign in at sh with the js account: password and code at js, back to sh -----------
    visitor = Actor(browser, sh, PHONE, "agent at sh", sms=js_sms)
    visitor.goto("/login/")
    visitor.assert_fits_the_screen()
    visitor.screenshot("id-09-sh-login-phone")
    visitor.page.get_by_role("link", name="苏服办（江苏）账号登录").click()
    visitor.page.wait_for_url(js + "/login/**")
    visitor.page.get_by_label("用户名").fill(AGENT["username"])
    visitor.page.get_by_label("密码").fill(PASSWORD)
    offset = js_sms.mark()
    visitor.page.get_by_role("button", name="登录", exact=True).click()
    visitor.page.wait_for_url(js + "/login/code/")
    assert "请输入短信验证码" not in visitor.text()  # no complaint before anything is entered
    visitor.assert_fits_the_screen()
    visitor.screenshot("id-09b-js-login-code-phone")
    visitor.enter_sms_code(offset, "验证并登录")
    # js's authorization endpoint sends the browser on to sh's callback (the form's CSP
    # allows that redirect), and sh signs the agent in
    visitor.page.wait_for_url(sh + "/")
    assert AGENT["name"] in visitor.page.locator(".whoami").inner_text()
    assert "我的办件" in visitor.text() and "我的企业" not in visitor.text()

    # --- 4. five wrong passwords lock the account ----------------------------------------------
    intruder = Actor(browser, js, PHONE, "intruder", sms=js_sms)
    intruder.allowed_errors.append("status of 401")
    intruder.allowed_errors.append("status of 429")
    for _ in range(5):
        intruder.goto("/login/")
        intruder.page.get_by_label("用户名").fill(AGENT["username"])
        intruder.page.get_by_label("密码").fill("not-the-password")
        intruder.page.get_by_role("button", name="登录", exact=True).click()
        intruder.page.wait_for_load_state()
    text = intruder.text()
    assert "账号已暂时锁定" in text and "分钟后再试" in text
    intruder.assert_fits_the_screen()
    intruder.screenshot("id-10-js-locked-out-phone")

    for actor in (person, official, agent, visitor, intruder):
        actor.close()
