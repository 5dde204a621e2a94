"""Sign-in that forgives, in Debian's Chromium on a phone (390×844), across the real
hub, js (苏服办) and zj (浙里办) of the shared four-province region.

1. SMS re-entry: a 江苏 resident leaves the code page and signs in again; the
   code page takes the code already received ("仍可使用"), the resend button
   counts down, and that first code signs them in — one SMS in all.
2. The SSO hand-off: the same resident opens an item at zj, signs in through
   苏服办; js's login page says it signs in for 浙江 浙里办 and offers no other
   sign-in; back at zj they are sent to the same item on 苏服办, and the
   button lands on it there, signed in.
3. The hub registers nobody: no link, and /register/ points to the provinces.

SMS codes are read where the demo "sends" them: the node's web process log.
"""

from __future__ import annotations

import random
import re
import time

import pytest
from stdnum.cn import ric

from tests.browser.support import PHONE, Actor, SmsLog

pytestmark = pytest.mark.browser

HOUSEHOLD_PROOF = "000501001000"  # 户籍事项证明
PASSWORD = "Sun-yue-ran-2026!"


def new_js_resident(region) -> dict:
    """A 江苏 resident with an account at js (L2), created by js's own code."""
    serial = f"{random.randint(0, 999):03d}"
    prefix = f"320102199104{random.randint(10, 28)}{serial}"
    who = {
        "username": f"sunyueran{serial}{random.randint(0, 99):02d}",
        "name": "孙悦然",
        "id": prefix + ric.calc_check_digit(prefix + "0"),
        "phone": f"139{random.randint(10**7, 10**8 - 1)}",
    }
    region.manage(
        "js",
        "shell",
        "-c",
        "from tongban.identity.models import User\n"
        "from tongban.identity.services import person_upsert\n"
        f"p = person_upsert(name={who['name']!r}, id_number={who['id']!r}, "
        f"phone={who['phone']!r}, home_node='js')\n"
        f"u = User(username={who['username']!r}, kind='person', display_name={who['name']!r}, "
        "person=p, assurance='L2')\n"
        f"u.set_password({PASSWORD!r})\n"
        "u.save()\n",
    )
    who["masked"] = who["phone"][:3] + "****" + who["phone"][-4:]
    return who


def password_step(actor: Actor, who: dict) -> None:
    actor.page.get_by_label("用户名").fill(who["username"])
    actor.page.get_by_label("密码").fill(PASSWORD)
    actor.page.get_by_role("button", name="登录", exact=True).click()
    actor.page.wait_for_load_state()


def resend_label(actor: Actor) -> str:
    return actor.page.locator(".resend-form button[name=action]").inner_text().strip()


def test_sms_reentry_the_sso_handoff_home_and_the_hub(full_region, browser):
    region = full_region
    js, zj, hub = region.url("js"), region.url("zj"), region.url("hub")
    js_sms = SmsLog(region.root / "logs" / "js-web.log")
    who = new_js_resident(region)

    # --- 1. leave the code page, sign in again, use the code already received ---------------
    person = Actor(browser, js, PHONE, "resident at js", sms=js_sms)
    offset = js_sms.mark()
    person.goto("/login/")
    password_step(person, who)
    assert person.page.url == js + "/login/code/", person.text()
    code = js_sms.code_after(offset, who["masked"])
    assert re.fullmatch(r"(60|59|58) 秒后可重新发送", resend_label(person)), resend_label(person)

    person.goto("/login/")  # back to the login page within the minute
    password_step(person, who)
    assert person.page.url == js + "/login/code/", person.text()
    text = person.text()
    assert f"验证码已发送至 {who['masked']}，仍可使用（5 分钟内有效）" in text, text
    assert "发送过于频繁" not in text
    first = int(re.match(r"(\d+) 秒后", resend_label(person)).group(1))
    assert person.page.locator(".resend-form button[name=action]").is_disabled()
    time.sleep(1.6)
    later = int(re.match(r"(\d+) 秒后", resend_label(person)).group(1))
    assert later < first  # the wait counts down on the page
    person.assert_fits_the_screen()
    person.screenshot("signin-01-js-code-still-valid-phone")

    person.page.get_by_label("短信验证码").fill(code)
    person.page.get_by_role("button", name="验证并登录").click()
    person.page.wait_for_load_state()
    assert "/login/" not in person.page.url, person.text()
    assert who["name"] in person.page.locator(".whoami").inner_text()
    assert js_sms.code_after(offset, who["masked"]) == code  # one SMS in all

    # --- 2. at zj, through 苏服办, and on to the same item at home ------------------------------
    visitor = Actor(browser, zj, PHONE, "resident at zj", sms=js_sms)
    visitor.goto(f"/items/{HOUSEHOLD_PROOF}/")
    visitor.page.get_by_role("link", name="登录后网上申请").click()
    visitor.page.wait_for_url(zj + "/login/**")
    visitor.page.get_by_role("link", name="苏服办（江苏）账号登录").click()
    visitor.page.wait_for_url(js + "/login/**")
    text = visitor.text()
    assert "登录后将返回 浙江 浙里办" in text, text
    assert "使用其他省份账号登录" not in text
    assert visitor.page.locator("a[href*='/sso/']").count() == 0  # nothing that loops back
    visitor.assert_fits_the_screen()
    visitor.screenshot("signin-02-js-login-for-zj-phone")

    offset = js_sms.mark()
    password_step(visitor, who)
    visitor.page.wait_for_url(js + "/login/code/")
    assert "登录后将返回 浙江 浙里办" in visitor.text()
    visitor.enter_sms_code(offset, "验证并登录")
    handoff = f"{zj}/items/{HOUSEHOLD_PROOF}/home-platform/"
    visitor.page.wait_for_url(handoff)
    text = visitor.text()
    assert "请到苏服办网上申请" in text and "您是江苏居民" in text, text
    assert "由苏服办为您的身份担保" in text
    visitor.assert_fits_the_screen()
    visitor.screenshot("signin-03-zj-handoff-home-phone")
    visitor.page.get_by_role("link", name="前往苏服办办理“户籍事项证明”").click()
    visitor.page.wait_for_url(f"{js}/items/{HOUSEHOLD_PROOF}/")
    assert who["name"] in visitor.page.locator(".whoami").inner_text()  # signed in at home
    visitor.page.get_by_role("link", name="网上申请", exact=True).click()
    visitor.page.wait_for_url(f"{js}/apply/{HOUSEHOLD_PROOF}/")
    assert visitor.page.get_by_role("button", name="提交申请").count() == 1

    # --- 3. the hub: no registration, the provinces instead --------------------------------------
    guest = Actor(browser, hub, PHONE, "visitor at the hub")
    guest.goto("/login/")
    assert guest.page.locator("a[href='/register/']").count() == 0
    assert "个人用户请到所在省份的平台登录" in guest.text()
    response = guest.goto("/register/")
    assert response.status == 200
    assert "请到所在省份平台注册" in guest.text()
    for name in ("上海 随申办", "江苏 苏服办", "浙江 浙里办", "安徽 皖事通"):
        assert guest.page.get_by_role("link", name=f"在{name}注册").count() == 1, name
    guest.assert_fits_the_screen()
    guest.screenshot("signin-04-hub-register-elsewhere-phone")
    guest.page.get_by_role("link", name="在江苏 苏服办注册").click()
    guest.page.wait_for_url(js + "/register/")

    for actor in (person, visitor, guest):
        actor.close()
