"""电子证照 through the pages, in Debian's Chromium, across four real nodes:
issued at a 吴江 (js) authority, held in 张伟's 证照夹 at home (zj) on a phone,
shown as a QR code that is photographed off the screen and verified on
Shanghai's (sh) page, then used instead of paper in a case decided in 合肥 (ah).
"""

from __future__ import annotations

import re

import pytest

from tests.browser.support import DESKTOP, PDF, PHONE, Actor, SmsLog
from tongban.identity.demo_accounts import PERSONS
from tongban.licences.qr_images import qr_text_from_image

pytestmark = pytest.mark.browser
FUND = "000530001000"  # 异地购房提取住房公积金 — M02 不动产权证书
DEED_NUMBER = "苏(2026)苏州市吴江区不动产权第0099001号"


def choose(actor: Actor, label: str, option_text: str) -> None:
    """Select the option of the labelled <select> whose text contains ``option_text``."""
    select = actor.page.get_by_label(label, exact=True)
    value = select.locator("option", has_text=option_text).first.get_attribute("value")
    select.select_option(value)


def test_issue_hold_show_verify_and_use_across_four_provinces(full_region, browser, tmp_path):
    region4 = full_region
    js, zj, sh, ah = (region4.url(n) for n in ("js", "zj", "sh", "ah"))
    username, name, id_number, _phone = PERSONS["zj"]

    # --- 1. the issuing authority in 吴江 (js) --------------------------------------------------
    issuer = Actor(browser, js, DESKTOP, "wujiang.official")
    issuer.login("wujiang.official")
    issuer.goto("/work/licences/issue/")
    choose(issuer, "证照类型", "不动产权证书")
    choose(issuer, "发证机构", "苏州市吴江区行政审批局")
    issuer.page.get_by_role("button", name="下一步：填写证照信息").click()
    issuer.page.get_by_label("持证人姓名").fill(name)
    issuer.page.get_by_label("公民身份号码").fill(id_number)
    issuer.page.get_by_label("不动产权证书号").fill(DEED_NUMBER)
    issuer.page.get_by_label("不动产单元号").fill("320509001001GB00021F00011203")
    issuer.page.get_by_label("坐落").fill("吴江区松陵镇中山南路1888号3幢1203室")
    for label, value in (
        ("权利类型", "国有建设用地使用权/房屋所有权"),
        ("权利性质", "出让/商品房"),
        ("用途", "城镇住宅用地/住宅"),
        ("面积", "房屋建筑面积98.6㎡"),
    ):
        issuer.page.get_by_label(label, exact=True).fill(value)
    issuer.page.get_by_label("登簿日期").fill("2026-03-18")
    issuer.page.get_by_role("button", name="颁发").click()
    issuer.page.wait_for_load_state()
    identifier = re.search(r"1\.2\.156\.3005\.2\.[0-9A-Z.]+", issuer.text()).group(0)
    assert "有效" in issuer.text()
    issuer.screenshot("licence-1-issued-js")

    # --- 2. the wallet at home (zj), on a phone ------------------------------------------------
    holder = Actor(browser, zj, PHONE, username, sms=SmsLog(region4.root / "logs" / "zj-web.log"))
    holder.login(username)
    holder.wait_for("/me/licences/", lambda t: "不动产权证书" in t, "the deed in the wallet")
    holder.assert_fits_the_screen()
    holder.page.locator(f'a[href*="{identifier}"]').first.click()
    assert DEED_NUMBER in holder.text() and id_number not in holder.text()
    holder.screenshot("licence-2-wallet-zj")

    # --- 3. 亮证: name and number only; the code is photographed off the screen ----------------
    holder.page.get_by_role("link", name=re.compile("亮证")).first.click()
    holder.page.get_by_role("button", name="生成亮证码").click()
    holder.page.wait_for_selector("#presentation")
    qr_text = holder.page.input_value("#qr-text")
    assert qr_text.startswith("TB1:") and id_number not in qr_text
    shot = tmp_path / "code.png"
    holder.page.locator("#presentation img").first.screenshot(path=str(shot))
    assert qr_text_from_image(shot.read_bytes()) == qr_text  # what the screen shows decodes
    holder.assert_fits_the_screen()
    holder.screenshot("licence-3-show-zj")

    # --- 4. 核验 on Shanghai's page: upload the photo, ask the issuer for fresh status -------
    checker = Actor(browser, sh, PHONE, "checker")
    checker.goto("/verify/")
    checker.page.get_by_label("二维码图片").set_input_files(str(shot))
    checker.page.get_by_label("联网查询最新状态").check()
    checker.page.locator("#verify-form button[type=submit]").last.click()
    checker.page.wait_for_selector("[data-verdict]")
    verdict = checker.page.get_attribute("[data-verdict]", "data-verdict")
    assert verdict == "valid", checker.text()
    page = checker.text()
    assert DEED_NUMBER in page and name in page and "苏州市吴江区行政审批局" in page
    assert "坐落" not in page  # not disclosed
    checker.screenshot("licence-4-verified-sh")

    # --- 5. 免证办: apply at home for a case decided in 合肥 (ah) --------------------------------
    m01, m03 = tmp_path / "M01.pdf", tmp_path / "M03.pdf"
    m01.write_bytes(PDF + b"% id card\n")
    m03.write_bytes(PDF + b"% bank card\n")
    holder.goto(f"/apply/{FUND}/")
    choose(holder, "办理机构", "合肥住房公积金管理中心")
    holder.page.get_by_label("购房所在地行政区划代码").fill("320509")
    holder.page.get_by_label("提取金额（元）").fill("80000")
    holder.page.get_by_label("收款银行卡号").fill("6222020000000000002")
    holder.page.get_by_label("申请人居民身份证").set_input_files(str(m01))
    holder.page.get_by_label("本人银行卡信息").set_input_files(str(m03))
    holder.page.get_by_label(re.compile("不动产权证书或购房合同：使用证照夹")).select_option(
        identifier
    )
    holder.page.get_by_label(re.compile("^我同意：办理机构可向发证机构调取")).check()
    holder.page.get_by_role("button", name="提交申请").click()
    holder.page.wait_for_load_state()
    number = re.search(r"/cases/([^/]+)/", holder.page.url).group(1)
    assert "合肥住房公积金管理中心" in holder.text()

    official = Actor(browser, ah, DESKTOP, "hefei.fund.official")
    official.login("hefei.fund.official")
    official.wait_for(
        f"/cases/{number}/", lambda t: "免交（电子证照）" in t, "the deed fetched from js"
    )
    assert DEED_NUMBER in official.text() and id_number not in official.text()
    official.screenshot("licence-5-case-ah")

    # --- 6. the use in the holder's history at home --------------------------------------------
    holder.wait_for(
        f"/me/licences/{identifier}/", lambda t: number in t, "the use in the holder's history"
    )
    holder.screenshot("licence-6-history-zj")
    for actor in (issuer, holder, checker, official):
        actor.close()
