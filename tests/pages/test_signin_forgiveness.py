"""Sign-in that forgives, with the limits as strict as before (this node is sh).

* Coming back to the login page while a code sent earlier still works: the code
  page takes that code, says so and shows the wait before another may be sent;
  no second SMS.
* The hourly limit and the password lockout say until when (Beijing time); a
  code that still works can be entered even then.
* The OpenID Connect login (another node asked) names that platform and offers
  no other sign-in; a resident of another province arriving by single sign-on
  to apply online is sent to the same item on their home platform.
* The hub has no residents: no registration, a page saying where instead.

The limits are the production ones here (one code a minute, five an hour); the
rest of the suite runs with them relaxed.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.utils import timezone

from tests.factories import PASSWORD, user_with
from tests.pages import test_identity_pages as identity
from tests.pages.test_identity_pages import (
    HOUSEHOLD_PROOF,
    TokenEndpoint,
    html,
    id_number,
    last_code,
    resident,
    texts,
    wrong_code,
)
from tongban.directory.models import Node
from tongban.identity.models import OneTimeCode, Person, SecurityEvent, User
from tongban.identity.services import otp_issue

pytestmark = pytest.mark.django_db

# the identity pages' fixtures: the in-memory SMS outbox, js's OpenID Connect key
outbox = identity.outbox
js_provider = identity.js_provider

PHONE = "13801761234"  # resident()'s default phone, shown as 138****1234


@pytest.fixture
def limits(settings):
    """The production limits: a code a minute, five an hour, five tries a code."""
    settings.TONGBAN_OTP_MIN_INTERVAL_SECONDS = 60
    settings.TONGBAN_OTP_MAX_PER_HOUR = 5
    settings.TONGBAN_OTP_MAX_ATTEMPTS = 5
    settings.TONGBAN_OTP_TTL_SECONDS = 300
    return settings


def password_step(client, username: str = "lina", **extra):
    return client.post("/login/", {"username": username, "password": PASSWORD, **extra})


def beijing(moment: dt.datetime) -> str:
    return timezone.localtime(moment).strftime("%H:%M")


def age_codes(user, seconds: int) -> None:
    """Move the account's codes ``seconds`` into the past (as if time had passed)."""
    for otp in OneTimeCode.objects.filter(user=user):
        OneTimeCode.objects.filter(pk=otp.pk).update(
            created_at=otp.created_at - dt.timedelta(seconds=seconds),
            expires_at=otp.expires_at - dt.timedelta(seconds=seconds),
        )


# --- coming back to the login page ---------------------------------------------------------


def test_signing_in_again_within_the_minute_takes_the_code_already_sent(
    client, region, outbox, limits
):
    user = resident("lina")
    first = password_step(client)
    assert first.status_code == 302 and first["Location"] == "/login/code/"
    code = last_code(outbox, PHONE)
    page = texts(client.get("/login/code/"))
    assert "验证码已发送至 138****1234 ，5 分钟内有效" in page and "仍可使用" not in page
    assert re.search(r"(60|59) 秒后可重新发送", page)

    # the person leaves the code page and signs in again (same browser, then another)
    for again_client in (client, client.__class__()):
        again = password_step(again_client)
        assert again.status_code == 302 and again["Location"] == "/login/code/"
        page = again_client.get("/login/code/")
        text = texts(page)
        assert "验证码已发送至 138****1234 ，仍可使用（5 分钟内有效）" in text, text
        assert "发送过于频繁" not in text and "秒后可重新发送" in text
        assert 'name="code"' in html(page)
    assert len(outbox) == 1  # no second SMS

    # the code that arrived earlier signs the person in
    done = again_client.post("/login/code/", {"action": "verify", "code": code})
    assert done.status_code == 302
    assert again_client.session["auth_method"] == "password+sms_otp"
    assert SecurityEvent.objects.filter(kind="login", user=user).count() == 1


def test_the_wait_before_another_code_is_shown_and_kept(client, region, outbox, limits):
    user = resident("lina")
    password_step(client)
    early = client.post("/login/code/", {"action": "resend"})
    assert early.status_code == 429
    assert re.search(r"请 (60|59) 秒后再重新发送验证码", texts(early))
    assert len(outbox) == 1
    button = re.search(r"<button[^>]*data-wait-seconds=\"(\d+)\"[^>]*>", html(early))
    assert button and 55 <= int(button.group(1)) <= 60 and "disabled" in button.group(0)
    assert "resend-wait.js" in html(early)

    # a minute later (for the account and for this session) another code may go out
    age_codes(user, 61)
    session = client.session
    session["tongban_sms_sent"] = {"login": time.time() - 61}
    session.save()
    page = texts(client.get("/login/code/"))
    assert "重新发送验证码" in page and "秒后可重新发送" not in page
    resent = client.post("/login/code/", {"action": "resend"}, follow=True)
    assert resent.status_code == 200 and "新的验证码已发送" in texts(resent)
    assert len(outbox) == 2
    stale, fresh = last_code(outbox[:1], PHONE), last_code(outbox, PHONE)
    if stale != fresh:
        assert client.post("/login/code/", {"action": "verify", "code": stale}).status_code == 400
    assert client.post("/login/code/", {"action": "verify", "code": fresh}).status_code == 302


def test_another_session_cannot_send_sooner_than_the_account_allows(client, region, outbox, limits):
    """The one-a-minute limit is the account's: a second browser waits too."""
    resident("lina")
    password_step(client)
    code = last_code(outbox, PHONE)
    other = client.__class__()
    password_step(other)
    early = other.post("/login/code/", {"action": "resend"})
    assert early.status_code == 429 and "秒后再重新发送验证码" in texts(early)
    assert len(outbox) == 1

    # the first browser uses the code: the second has none and waits for the minute
    assert client.post("/login/code/", {"action": "verify", "code": code}).status_code == 302
    page = other.get("/login/code/")
    text = texts(page)
    assert page.status_code == 200 and "暂时没有可用的验证码" in text
    assert re.search(r"请在 \d+ 秒后获取新的验证码", text)
    assert 'name="code"' not in html(page)  # nothing could be entered
    assert len(outbox) == 1


def test_wrong_tries_are_not_reset_by_signing_in_again(client, region, outbox, limits):
    resident("lina")
    password_step(client)
    code = last_code(outbox, PHONE)
    for _ in range(4):
        wrong = client.post("/login/code/", {"action": "verify", "code": wrong_code(code)})
        assert wrong.status_code == 400
    password_step(client)  # back to the login page: the same code, the same count
    client.post("/login/code/", {"action": "verify", "code": wrong_code(code)})
    spent = client.post("/login/code/", {"action": "verify", "code": code})
    assert spent.status_code == 400 and "验证码已失效" in texts(spent)
    assert "_auth_user_id" not in client.session
    assert len(outbox) == 1


# --- the hourly limit ------------------------------------------------------------------------


def five_codes_this_hour(user, *, oldest_minutes_ago: int = 50) -> dt.datetime:
    """Five codes sent over the last ``oldest_minutes_ago`` minutes (the newest a minute
    ago, still valid); returns when the hourly limit lets a sixth go out."""
    now = timezone.now()
    ages = [oldest_minutes_ago, 40, 20, 10, 1]
    for minutes in ages:
        otp_issue(user=user, purpose="login")
        latest = OneTimeCode.objects.filter(user=user).latest("created_at")
        created = now - dt.timedelta(minutes=minutes)
        OneTimeCode.objects.filter(pk=latest.pk).update(
            created_at=created, expires_at=created + dt.timedelta(minutes=5)
        )
    return now - dt.timedelta(minutes=oldest_minutes_ago) + dt.timedelta(hours=1)


def test_at_the_hourly_limit_a_valid_code_still_signs_in_and_the_page_says_until_when(
    client, region, outbox, limits
):
    user = resident("lina")
    until = five_codes_this_hour(user)
    code = last_code(outbox, PHONE)
    response = password_step(client)
    assert response.status_code == 302 and response["Location"] == "/login/code/"
    page = texts(client.get("/login/code/"))
    assert "仍可使用（4 分钟内有效）" in page
    assert f"请于 {beijing(until)}（北京时间）后再获取新的验证码" in page
    assert f"{beijing(until)} 后可重新发送" in page
    refused = client.post("/login/code/", {"action": "resend"})
    assert refused.status_code == 429
    assert f"请于 {beijing(until)} 后再试" in texts(refused)
    assert len(outbox) == 5  # the limit holds
    assert client.post("/login/code/", {"action": "verify", "code": code}).status_code == 302


def test_at_the_hourly_limit_without_a_valid_code_the_login_page_says_until_when(
    client, region, outbox, limits
):
    user = resident("lina")
    until = five_codes_this_hour(user, oldest_minutes_ago=55)
    OneTimeCode.objects.update(used_at=timezone.now())
    response = password_step(client)
    assert response.status_code == 429
    text = texts(response)
    assert "验证码发送次数已达上限（每小时 5 次）" in text
    assert f"请于 {beijing(until)} 后再试" in text
    assert len(outbox) == 5 and client.get("/login/code/").status_code == 302
    assert SecurityEvent.objects.filter(kind="otp_limited", user=user).exists()

    # a wrong password is still just a wrong password
    wrong = client.post("/login/", {"username": "lina", "password": "not-it"})
    assert wrong.status_code == 401 and "请于" not in texts(wrong)


# --- the password lockout --------------------------------------------------------------------


def test_the_lockout_says_until_when(client, region, outbox, limits):
    from axes.models import AccessAttempt

    user_with("qingpu.official")
    for _ in range(5):
        locked = client.post("/login/", {"username": "qingpu.official", "password": "wrong"})
    assert locked.status_code == 429
    last = AccessAttempt.objects.filter(username="qingpu.official").latest("attempt_time")
    until = last.attempt_time + dt.timedelta(minutes=15)
    text = texts(locked)
    assert "账号已暂时锁定" in text and "15 分钟后再试" in text
    assert f"北京时间 {beijing(until)} 以后" in text
    assert 14 * 60 <= int(locked["Retry-After"]) <= 15 * 60 + 1
    # the right password changes nothing while locked
    right = client.post("/login/", {"username": "qingpu.official", "password": PASSWORD})
    assert right.status_code == 429 and "_auth_user_id" not in client.session


# --- signing in for another platform ---------------------------------------------------------


def authorize_path(client_id: str = "tongban-zj") -> str:
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": "http://127.0.0.1:8003/sso/callback/sh/",
            "scope": "openid profile",
            "state": "s" * 32,
        }
    )
    return f"/o/authorize/?{query}"


def test_the_provider_login_names_the_platform_and_offers_no_other_sign_in(
    client, js_provider, outbox
):
    keys = Node.objects.get(node_id="js").oidc_jwks
    Node.objects.filter(node_id="zj").update(oidc_jwks=keys, oidc_issuer="http://127.0.0.1:8003/o")
    plain = texts(client.get("/login/"))
    assert "苏服办（江苏）账号登录" in plain and "浙里办（浙江）账号登录" in plain
    assert "登录后将返回" not in plain

    page = client.get("/login/", {"next": authorize_path()})
    text = texts(page)
    assert page.status_code == 200
    assert "登录后将返回 浙江 浙里办" in text
    assert "随申办账号登录" in text
    assert "使用其他省份账号登录" not in text and "/sso/" not in html(page)
    assert "账号登录" in text and "浙里办（浙江）账号登录" not in text

    # the code page repeats where the person is going back to
    resident("lina")
    response = password_step(client, next=authorize_path())
    assert response.status_code == 302 and response["Location"] == "/login/code/"
    assert "登录后将返回 浙江 浙里办" in texts(client.get("/login/code/"))

    # an unknown client is no platform of the region: no banner, the usual page
    unknown = texts(client.get("/login/", {"next": authorize_path("tongban-evil")}))
    assert "登录后将返回" not in unknown and "evil" not in unknown


# --- applying online from another province ---------------------------------------------------


def sso_sign_in(client, js_provider, monkeypatch, next_url: str):
    """A 江苏 resident signs in here through js (the ID token js would issue)."""
    start = client.get("/sso/js/start/", {"next": next_url})
    query = {k: v[0] for k, v in parse_qs(urlsplit(start["Location"]).query).items()}
    now = int(time.time())
    endpoint = TokenEndpoint(
        js_provider,
        {
            "iss": "http://127.0.0.1:8002/o",
            "aud": "tongban-sh",
            "sub": "42",
            "nonce": query["nonce"],
            "iat": now,
            "exp": now + 300,
            "name": "王芳",
            "cn_ric": id_number("32058419930818246"),
            "acr": "L2",
            "home_node": "js",
        },
    )
    monkeypatch.setattr("tongban.identity.federation.requests.post", endpoint.post)
    return client.get("/sso/callback/js/", {"code": "one-time", "state": query["state"]})


def test_a_resident_of_another_province_is_sent_to_the_item_at_home(
    client, js_provider, monkeypatch
):
    landed = sso_sign_in(client, js_provider, monkeypatch, f"/apply/{HOUSEHOLD_PROOF}/")
    handoff = f"/items/{HOUSEHOLD_PROOF}/home-platform/"
    assert landed.status_code == 302 and landed["Location"] == handoff
    page = client.get(handoff)
    text = texts(page)
    assert page.status_code == 200
    assert "请到苏服办网上申请" in text and "您是江苏居民" in text
    assert "户籍事项证明" in text and "由苏服办为您的身份担保" in text
    assert f'href="http://127.0.0.1:8002/items/{HOUSEHOLD_PROOF}/"' in html(page)
    assert "前往苏服办办理“户籍事项证明”" in text

    # the form page itself, reached another way, links there too
    dead_end = client.get(f"/apply/{HOUSEHOLD_PROOF}/")
    assert f'href="{handoff}"' in html(dead_end)

    # any other place to go after signing in is left as it was
    client.logout()
    other = sso_sign_in(client, js_provider, monkeypatch, "/me/cases/")
    assert other.status_code == 302 and other["Location"] == "/me/cases/"


def test_the_handoff_page_for_others(client, js_provider):
    assert client.get(f"/items/{HOUSEHOLD_PROOF}/home-platform/").status_code == 302  # login
    client.force_login(resident("lina"))  # at home here: the form
    response = client.get(f"/items/{HOUSEHOLD_PROOF}/home-platform/")
    assert response.status_code == 302 and response["Location"] == f"/apply/{HOUSEHOLD_PROOF}/"
    client.force_login(user_with("qingpu.official"))
    response = client.get(f"/items/{HOUSEHOLD_PROOF}/home-platform/")
    assert response.status_code == 302 and response["Location"] == f"/items/{HOUSEHOLD_PROOF}/"
    missing = client.get("/items/999999999999/home-platform/")
    assert missing.status_code == 404


# --- the hub -----------------------------------------------------------------------------------


def test_the_hub_offers_no_registration(client, region, settings):
    settings.TONGBAN_ROLE = "hub"
    page = client.get("/register/")
    text = texts(page)
    assert page.status_code == 200 and "请到所在省份平台注册" in text
    for node, port, name in (
        ("sh", 8001, "上海 随申办"),
        ("js", 8002, "江苏 苏服办"),
        ("zj", 8003, "浙江 浙里办"),
        ("ah", 8004, "安徽 皖事通"),
    ):
        assert f'href="http://127.0.0.1:{port}/register/"' in html(page), node
        assert f"在{name}注册" in text
    assert 'name="id_number"' not in html(page)

    posted = client.post(
        "/register/",
        {"name": "赵敏", "id_number": id_number("31010119900101123"), "phone": "13812345678"},
    )
    assert posted.status_code == 403 and "请到所在省份平台注册" in texts(posted)
    assert not Person.objects.exists() and not User.objects.filter(kind="person").exists()
    assert client.get("/register/verify/").status_code == 200

    login = client.get("/login/")
    assert 'href="/register/"' not in html(login)
    assert "注册个人账号" not in texts(login) and "/sso/" not in html(login)
    assert "个人用户请到所在省份的平台登录" in texts(login)
    assert 'href="http://127.0.0.1:8002/login/"' in html(login)
    # on the way to an online application: the same item at each province
    applying = client.get("/login/", {"next": f"/apply/{HOUSEHOLD_PROOF}/"})
    assert f'href="http://127.0.0.1:8003/items/{HOUSEHOLD_PROOF}/"' in html(applying)


def test_a_broken_authorization_request_is_explained(client, region):
    client.force_login(resident("lina"))
    page = client.get(authorize_path("tongban-evil"))
    text = texts(page)
    assert page.status_code < 500
    assert "无法完成登录" in text and "请回到原来的平台重新点击“用随申办账号登录”" in text
    assert "技术详情" in text  # the protocol's own words stay folded away


def test_a_code_used_up_at_the_hourly_limit_leaves_the_time_to_come_back(
    client, region, outbox, limits
):
    user = resident("lina")
    until = five_codes_this_hour(user)
    code = last_code(outbox, PHONE)
    password_step(client)
    for _ in range(5):
        client.post("/login/code/", {"action": "verify", "code": wrong_code(code)})
    page = client.get("/login/code/")
    text = texts(page)
    assert "暂时没有可用的验证码" in text and 'name="code"' not in html(page)
    assert f"请于 {beijing(until)}（北京时间）后再获取新的验证码" in text
    assert "每分钟只能发送一条" not in text and len(outbox) == 5


def test_the_consent_page_keeps_the_request_in_its_form(client, region):
    """A client that asks for consent (e.g. a national platform's relying party) gets
    the site's page with the protocol's hidden fields and the allow button."""
    from oauth2_provider.models import Application

    Application.objects.create(
        client_id="partner-portal",
        name="合作平台",
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris="https://partner.example/callback/",
        algorithm=Application.RS256_ALGORITHM,
        skip_authorization=False,
    )
    client.force_login(resident("lina"))
    query = urlencode(
        {
            "response_type": "code",
            "client_id": "partner-portal",
            "redirect_uri": "https://partner.example/callback/",
            "scope": "openid profile",
            "state": "s" * 32,
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
        }
    )
    page = client.get(f"/o/authorize/?{query}")
    body = html(page)
    assert page.status_code == 200 and "允许“合作平台”使用您的身份登录？" in texts(page)
    assert re.search(r'<input type="hidden" name="redirect_uri"[^>]*partner\.example', body)
    assert 'name="allow" value="Authorize"' in body
    assert "https://partner.example" in page["Content-Security-Policy"]
