"""Accounts and online applications through the pages (this node is sh).

Registration with an SMS code, the two-step login, lockout, single sign-on
through another node, online applications vouched for by this (home) node,
enterprises and their agents. SMS codes are read from the in-memory SMS
backend; a peer's OpenID Connect provider is represented by a real RSA key
whose public half is in the directory (only its token endpoint, across the
network, is stood in for).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from stdnum.cn import uscc

from tests.factories import PASSWORD, PDF, enterprise_registry_seed, id_number, user_with
from tongban.cases.models import Case
from tongban.catalog.models import ServiceItem
from tongban.directory.models import Node
from tongban.exchange.models import OutboxMessage
from tongban.identity import sms
from tongban.identity.demo_accounts import ENTERPRISES
from tongban.identity.models import AgentAuthorization, Enterprise, Person, SecurityEvent, User
from tongban.identity.pii import decrypt_at_rest
from tongban.identity.services import person_upsert

pytestmark = pytest.mark.django_db

CRIMINAL_RECORD = "000501002000"  # 有无犯罪记录证明 — L3
HOUSEHOLD_PROOF = "000501001000"  # 户籍事项证明 — L2
SCOPE_CHANGE = "000302001000"  # 内资有限公司经营范围变更登记 — enterprise, L3
SIMPLE_DEREGISTRATION = "000306002000"  # 企业简易注销登记 — enterprise, L2
ZJ_POLICE = "浙江省公安厅"
JIAXING_AMR = "嘉兴市市场监督管理局"
JS_ISSUER = "http://127.0.0.1:8002/o"

NEW_ID = id_number("31010119900101123")  # a 上海 resident registers at sh
NEW_PHONE = "13812345678"


# --- helpers ------------------------------------------------------------------------------


def html(response) -> str:
    return response.content.decode()


def texts(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html(response)))


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def enterprise_code(prefix: str = "91310115MA1K4LXR") -> str:
    prefix = (prefix + "0" * 17)[:17]
    return prefix + uscc.calc_check_digit(prefix)


@pytest.fixture
def outbox(settings):
    """SMS messages sent during the test: [(phone, text)]."""
    settings.TONGBAN_SMS_BACKEND = "tongban.identity.sms.LocmemBackend"
    sms._backend.cache_clear()
    sms.LocmemBackend.outbox.clear()
    yield sms.LocmemBackend.outbox
    sms.LocmemBackend.outbox.clear()
    sms._backend.cache_clear()


def last_code(outbox, phone: str) -> str:
    texts_to = [text for to, text in outbox if to == phone]
    assert texts_to, f"no SMS to {phone}: {outbox}"
    return re.search(r"验证码为 (\d{6})", texts_to[-1]).group(1)


def wrong_code(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def resident(
    username: str,
    *,
    name: str = "李娜",
    id_prefix: str = "31022919880512456",
    phone: str = "13801761234",
    assurance: str = "L2",
    home: str = "sh",
) -> User:
    person = person_upsert(name=name, id_number=id_number(id_prefix), phone=phone, home_node=home)
    user = user_with(username, person=person)
    user.assurance = assurance
    user.display_name = name
    user.save(update_fields=["assurance", "display_name"])
    return user


def sign_in(client, user: User, outbox, *, next_url: str = "") -> None:
    """The two steps, as a resident does them."""
    response = client.post(
        "/login/", {"username": user.username, "password": PASSWORD, "next": next_url}
    )
    assert response.status_code == 302 and response["Location"] == "/login/code/", response
    code = last_code(outbox, user.person.phone)
    response = client.post("/login/code/", {"action": "verify", "code": code})
    assert response.status_code == 302, texts(response)


def upload(material) -> SimpleUploadedFile:
    if "pdf" in material.file_types:
        return SimpleUploadedFile(
            f"{material.code}.pdf", PDF + material.code.encode(), "application/pdf"
        )
    raise AssertionError(material.file_types)


def application(item_code: str, organization: str, **fields) -> dict:
    """Everything the online form asks for this item: organization, answers, files."""
    item = ServiceItem.objects.get(basic_code=item_code)
    data = {"organization": _org_code(organization)}
    for spec in item.form_schema:
        if spec["name"] in ("applicant_name", "applicant_id_number"):
            continue  # answered by the signed-in account
        kind = spec.get("type", "text")
        if kind == "select":
            value = spec["choices"][0]
        elif kind == "date":
            value = "2026-11-01"
        elif kind == "phone":
            value = ""  # the account's registered phone
        elif kind in ("integer", "decimal"):
            value = "1"
        elif kind == "uscc":
            value = ""
        else:
            value = "测试内容"
        data[f"f_{spec['name']}"] = value
    for material in item.materials.all():
        data[f"m_{material.code}"] = upload(material)
    data.update(fields)
    return data


def _org_code(name: str) -> str:
    from tongban.directory.models import Organization

    return Organization.objects.get(name=name).code


def outbox_envelope(case: Case) -> dict:
    message = OutboxMessage.objects.get(correlation=case.number, type="case.submit")
    return json.loads(decrypt_at_rest(message.envelope))


# --- registration --------------------------------------------------------------------------


def register_data(**overrides) -> dict:
    data = {
        "name": "赵敏",
        "id_number": NEW_ID,
        "phone": NEW_PHONE,
        "username": "zhaomin",
        "password1": "Zhao-min-2026!",
        "password2": "Zhao-min-2026!",
    }
    data.update(overrides)
    return data


def test_registration_with_an_invalid_id_number_creates_nothing(client, region, outbox):
    page = client.get("/register/")
    assert page.status_code == 200 and "注册个人账号" in texts(page)
    assert "<script" not in html(page) and 'style="' not in html(page)

    bad = NEW_ID[:-1] + ("0" if NEW_ID[-1] != "0" else "1")
    response = client.post("/register/", register_data(id_number=bad))
    assert response.status_code == 400
    assert "身份证号码无效" in texts(response)
    assert not User.objects.filter(username="zhaomin").exists()
    assert not Person.objects.exists() and outbox == []

    mismatch = client.post("/register/", register_data(password2="Something-else-1"))
    assert mismatch.status_code == 400 and "两次输入的密码不一致" in texts(mismatch)
    assert not User.objects.filter(username="zhaomin").exists()


def test_registration_needs_the_right_code_and_ends_signed_in_at_l2(client, region, outbox):
    response = client.post("/register/", register_data())
    assert response.status_code == 302 and response["Location"] == "/register/verify/"
    user = User.objects.get(username="zhaomin")
    assert user.assurance == "L1" and user.person.home_node == "sh"
    code = last_code(outbox, NEW_PHONE)

    page = client.get("/register/verify/")
    assert "138****5678" in texts(page) and NEW_PHONE not in html(page)

    wrong = client.post("/register/verify/", {"action": "verify", "code": wrong_code(code)})
    assert wrong.status_code == 400 and "验证码错误" in texts(wrong)
    user.refresh_from_db()
    assert user.assurance == "L1"
    assert client.get("/me/cases/").status_code == 302  # not signed in

    again = client.post("/register/", register_data(username="zhaomin2"))
    assert again.status_code == 409 and "无法在线注册" in texts(again)

    response = client.post("/register/verify/", {"action": "verify", "code": code})
    assert response.status_code == 302 and response["Location"] == "/me/cases/"
    user.refresh_from_db()
    assert user.assurance == "L2"
    assert client.session["auth_method"] == "password+sms_otp"
    assert client.session["authenticated_at"]
    cases = client.get("/me/cases/")
    assert cases.status_code == 200
    header = texts(cases)
    assert "赵敏" in header and "在线实名" in header and "我的企业" in header
    assert "注册成功" in header and "实名等级为“在线实名”" in header


def test_registration_refuses_a_taken_username(client, region, outbox):
    user_with("zhaomin")
    response = client.post("/register/", register_data())
    assert response.status_code == 400 and "用户名已被使用" in texts(response)
    assert not Person.objects.exists()


# --- login ---------------------------------------------------------------------------------


def test_resident_login_takes_a_password_then_an_sms_code(client, region, outbox):
    user = resident("lina")
    page = client.get("/login/?next=/me/cases/")
    assert page.status_code == 200 and 'name="next" value="/me/cases/"' in html(page)

    response = client.post(
        "/login/", {"username": "lina", "password": PASSWORD, "next": "/me/cases/"}
    )
    assert response.status_code == 302 and response["Location"] == "/login/code/"
    assert client.get("/me/cases/").status_code == 302  # the password alone is not enough
    code = last_code(outbox, "13801761234")
    page = client.get("/login/code/")
    assert "138****1234" in texts(page) and "60 秒后可重新发送" in texts(page)
    assert "请输入短信验证码" not in texts(page) and "未能提交" not in texts(page)

    wrong = client.post("/login/code/", {"action": "verify", "code": wrong_code(code)})
    assert wrong.status_code == 400 and "验证码错误" in texts(wrong)

    # a new code only once a minute
    early = client.post("/login/code/", {"action": "resend"})
    assert early.status_code == 429 and "秒后再重新发送" in texts(early)
    assert len(outbox) == 1
    session = client.session
    session["tongban_sms_sent"] = {"login": time.time() - 120}
    session.save()
    resent = client.post("/login/code/", {"action": "resend"}, follow=True)
    assert "新的验证码已发送" in " ".join(messages_of(resent))
    assert len(outbox) == 2
    stale, code = code, last_code(outbox, "13801761234")
    if stale != code:
        old = client.post("/login/code/", {"action": "verify", "code": stale})
        assert old.status_code == 400

    response = client.post("/login/code/", {"action": "verify", "code": code})
    assert response.status_code == 302 and response["Location"] == "/me/cases/"
    assert client.session["auth_method"] == "password+sms_otp"
    assert client.get("/me/cases/").status_code == 200
    assert client.get("/login/code/").status_code == 302  # nothing pending any more
    assert SecurityEvent.objects.filter(kind="login", user=user).exists()


def test_staff_sign_in_with_the_password_alone_and_next_stays_on_site(client, region, outbox):
    user_with("qingpu.official")
    response = client.post(
        "/login/",
        {"username": "qingpu.official", "password": PASSWORD, "next": "https://evil.example/"},
    )
    assert response.status_code == 302 and response["Location"] == "/"
    assert outbox == []
    assert client.session["auth_method"] == "password"


def test_wrong_login_code_and_an_expired_code(client, region, outbox):
    resident("lina")
    client.post("/login/", {"username": "lina", "password": PASSWORD})
    code = last_code(outbox, "13801761234")
    from tongban.identity.models import OneTimeCode

    OneTimeCode.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    expired = client.post("/login/code/", {"action": "verify", "code": code})
    assert expired.status_code == 400 and "验证码已失效" in texts(expired)
    malformed = client.post("/login/code/", {"action": "verify", "code": "12ab"})
    assert malformed.status_code == 400 and "6 位数字" in texts(malformed)


def test_five_wrong_passwords_lock_the_account(client, region, outbox):
    user_with("qingpu.official")
    for attempt in range(4):
        response = client.post("/login/", {"username": "qingpu.official", "password": "wrong"})
        assert response.status_code == 401, attempt
        assert "用户名或密码错误" in texts(response)
    locked = client.post("/login/", {"username": "qingpu.official", "password": "wrong"})
    assert locked.status_code == 429
    assert "账号已暂时锁定" in texts(locked) and "分钟后再试" in texts(locked)
    # even the right password is refused while locked
    right = client.post("/login/", {"username": "qingpu.official", "password": PASSWORD})
    assert right.status_code == 429
    assert "_auth_user_id" not in client.session
    assert SecurityEvent.objects.filter(kind="login_locked_out").exists()
    assert (
        SecurityEvent.objects.filter(kind="login_failed", username="qingpu.official").count() >= 4
    )


# --- online applications -------------------------------------------------------------------


def test_item_page_offers_online_application(client, region, outbox):
    anonymous = client.get(f"/items/{HOUSEHOLD_PROOF}/")
    assert "登录后网上申请" in texts(anonymous)
    assert f'href="/login/?next=/apply/{HOUSEHOLD_PROOF}/"' in html(anonymous).replace("%2F", "/")
    assert client.get(f"/apply/{HOUSEHOLD_PROOF}/").status_code == 302

    client.force_login(resident("lina"))
    signed_in = client.get(f"/items/{HOUSEHOLD_PROOF}/")
    assert f'href="/apply/{HOUSEHOLD_PROOF}/"' in html(signed_in)

    client.force_login(user_with("qingpu.official"))
    assert client.get(f"/apply/{HOUSEHOLD_PROOF}/").status_code == 403  # persons only


def test_an_l2_person_cannot_apply_for_an_l3_item(client, region, outbox):
    user = resident("lina")
    sign_in(client, user, outbox)
    page = client.get(f"/apply/{CRIMINAL_RECORD}/")
    assert page.status_code == 200
    text = texts(page)
    assert "李*" in text and user.person.id_number_masked in text
    assert user.person.id_number not in html(page)
    # why and how to reach the level, before any form is filled in
    assert "该事项要求实名等级“当面核验”，您当前为“在线实名”" in text
    assert "当面核验账号" in text
    assert 'name="f_applicant_id_number"' not in html(page)  # the account answers it
    assert '<form method="post" enctype' not in html(page)  # no form that would be refused
    item_page = texts(client.get(f"/items/{CRIMINAL_RECORD}/"))
    assert "您的实名等级不足以网上申请本事项" in item_page

    response = client.post(f"/apply/{CRIMINAL_RECORD}/", application(CRIMINAL_RECORD, ZJ_POLICE))
    assert response.status_code == 403
    assert "该事项要求实名等级“当面核验”，您当前为“在线实名”" in texts(response)
    assert not Case.objects.exists() and not OutboxMessage.objects.exists()


def test_an_l2_person_applies_online_for_an_item_decided_in_zhejiang(client, region, outbox):
    user = resident("lina")
    sign_in(client, user, outbox)
    form = client.get(f"/apply/{HOUSEHOLD_PROOF}/")
    assert f"{ZJ_POLICE}（浙江）" in html(form)
    # the applicant block answers name, 身份证号 and phone: the form does not ask again
    assert "138****1234" in texts(form)
    assert 'name="f_contact_phone"' not in html(form)

    response = client.post(
        f"/apply/{HOUSEHOLD_PROOF}/", application(HOUSEHOLD_PROOF, ZJ_POLICE), follow=True
    )
    case = Case.objects.get()
    assert response.redirect_chain[-1][0] == f"/cases/{case.number}/"
    assert f"办件 {case.number} 已提交。已转送 {ZJ_POLICE}" in messages_of(response)
    assert (case.perspective, case.channel, case.handling_node) == ("origin", "online", "zj")
    assert case.form_data["applicant_name"] == "李娜"
    assert case.form_data["contact_phone"].startswith("sm4gcm:")  # the registered phone

    envelope = outbox_envelope(case)
    subject = envelope["signed"]["subject"]
    assert subject["method"] == "password+sms_otp"
    assert subject["assurance"] == "L2"
    assert subject["authenticated_by"] == {"node": "sh", "home_node": "sh", "account": str(user.pk)}
    assert subject["subject"]["id_number"] == user.person.id_number

    page = texts(response)
    assert "网上认证：密码+短信验证码（上海 随申办）" in page
    assert "在线实名" in page and "L2" not in page
    # follow it at the deciding node, signed in there through this one
    link = f'href="http://127.0.0.1:8003/sso/sh/start/?next=%2Fcases%2F{case.number}%2F"'
    assert link in html(response) and "在浙里办查看" in page
    assert user.person.id_number not in html(response)


def test_a_person_signed_in_through_another_node_is_sent_home_to_apply(client, region):
    visitor = resident("js:abc", name="王芳", id_prefix="32058419930818246", home="js")
    client.force_login(visitor)
    page = client.get(f"/apply/{HOUSEHOLD_PROOF}/")
    assert "请在户籍（常住）地平台网上申请" in texts(page) and "提交申请" not in texts(page)
    refused = client.post(f"/apply/{HOUSEHOLD_PROOF}/", application(HOUSEHOLD_PROOF, ZJ_POLICE))
    assert refused.status_code == 403 and not Case.objects.exists()


# --- enterprises and agents ------------------------------------------------------------------


def authorize(client, enterprise: Enterprise, **overrides):
    expires = (timezone.localdate() + dt.timedelta(days=30)).isoformat()
    prefix = f"a{enterprise.pk}"
    data = {
        f"{prefix}-agent_name": "王芳",
        f"{prefix}-agent_id_number": id_number("32058419930818246"),
        f"{prefix}-items": [SCOPE_CHANGE],
        f"{prefix}-expires_on": expires,
    }
    data.update({f"{prefix}-{k}": v for k, v in overrides.items()})
    return client.post(f"/me/enterprises/{enterprise.code}/agents/", data, follow=True)


def test_enterprise_agent_applies_until_the_authorization_ends(client, region, outbox):
    boss = resident("lina")
    agent = resident(
        "wangfang",
        name="王芳",
        id_prefix="32058419930818246",
        phone="13913551234",
        assurance="L3",  # verified in person at a window earlier
    )
    code = ENTERPRISES["sh"][1]  # in the sample register
    enterprise_registry_seed()  # sh's 企业登记信息 names 李娜 as its legal representative

    # the legal representative registers the enterprise and authorizes the agent
    sign_in(client, boss, outbox)
    page = client.get("/me/enterprises/")
    assert page.status_code == 200 and "我可代办的企业" in texts(page)
    bad = client.post("/me/enterprises/register/", {"reg-code": code[:-1] + "0"})
    assert bad.status_code == 400 and "统一社会信用代码无效" in texts(bad)
    response = client.post("/me/enterprises/register/", {"reg-code": code}, follow=True)
    assert "已登记" in " ".join(messages_of(response))
    enterprise = Enterprise.objects.get(code=code)

    nothing = authorize(client, enterprise, items=[])
    assert "请选择授权事项" in texts(nothing) and not AgentAuthorization.objects.exists()
    wrong_name = authorize(client, enterprise, agent_name="王小芳")
    assert "经办人姓名与身份证号不匹配" in texts(wrong_name)
    response = authorize(client, enterprise)
    assert "已授权 王芳" in " ".join(messages_of(response))
    authorization = AgentAuthorization.objects.get()
    text = texts(response)
    assert "内资有限公司经营范围变更登记" in text and "有效" in text and "撤销授权" in text

    # the agent applies for the enterprise at 嘉兴 (zj)
    client.logout()
    sign_in(client, agent, outbox)
    mine = client.get("/me/enterprises/")
    assert "上海青禾数字科技有限公司" in texts(mine)
    assert f"/apply/{SCOPE_CHANGE}/?enterprise={code}" in html(mine)
    form = client.get(f"/apply/{SCOPE_CHANGE}/?enterprise={code}")
    assert "经办人，授权至" in texts(form) and f'value="{code}" selected' in html(form)
    response = client.post(
        f"/apply/{SCOPE_CHANGE}/",
        application(SCOPE_CHANGE, JIAXING_AMR, enterprise=code),
        follow=True,
    )
    case = Case.objects.get()
    assert f"已转送 {JIAXING_AMR}" in " ".join(messages_of(response))
    assert (case.enterprise_code, case.enterprise_name) == (code, "上海青禾数字科技有限公司")
    assert case.form_data["uscc"] == code  # taken from the chosen enterprise
    acting_for = outbox_envelope(case)["signed"]["subject"]["acting_for"]
    assert acting_for["role"] == "agent" and acting_for["authorization"]["items"] == [SCOPE_CHANGE]
    page = texts(response)
    assert "申请企业" in page and "代表企业" in page and "经办人" in page
    assert "授权有效期至" in page

    # not authorized for another item
    other = client.post(
        f"/apply/{SIMPLE_DEREGISTRATION}/",
        application(SIMPLE_DEREGISTRATION, JIAXING_AMR, enterprise=code),
    )
    assert other.status_code == 403 and "没有代表该企业办理此事项的有效授权" in texts(other)

    # the legal representative sees the enterprise's case and revokes the authorization
    client.logout()
    sign_in(client, boss, outbox)
    assert case.number in html(client.get("/me/cases/"))
    assert client.get(f"/cases/{case.number}/").status_code == 200
    revoked = client.post(f"/me/authorizations/{authorization.pk}/revoke/", follow=True)
    assert "授权已撤销" in " ".join(messages_of(revoked)) and "已撤销" in texts(revoked)

    client.logout()
    sign_in(client, agent, outbox)
    refused = client.post(
        f"/apply/{SCOPE_CHANGE}/", application(SCOPE_CHANGE, JIAXING_AMR, enterprise=code)
    )
    assert refused.status_code == 403
    assert "没有代表该企业办理此事项的有效授权" in texts(refused)
    assert Case.objects.count() == 1

    # a new authorization that has since expired
    AgentAuthorization.objects.create(
        enterprise=enterprise,
        agent=agent.person,
        item_codes=[],
        granted_by=boss,
        expires_at=timezone.now() - dt.timedelta(minutes=1),
    )
    expired = client.post(
        f"/apply/{SCOPE_CHANGE}/", application(SCOPE_CHANGE, JIAXING_AMR, enterprise=code)
    )
    assert expired.status_code == 403 and "授权可能已过期" in texts(expired)
    assert Case.objects.count() == 1
    assert SecurityEvent.objects.filter(kind="agent_not_authorized").count() >= 2


def test_only_the_legal_representative_manages_agents(client, region, outbox):
    boss = resident("lina", assurance="L3")  # the enterprise was recorded by someone else
    enterprise = Enterprise.objects.create(
        code=enterprise_code(), name="上海青禾", legal_representative=boss.person, home_node="sh"
    )
    client.force_login(boss)
    authorize(client, enterprise)
    authorization = AgentAuthorization.objects.get()
    stranger = resident("other", name="陈静", id_prefix="34010419870221368", phone="13955161234")
    client.force_login(stranger)
    assert client.post(f"/me/enterprises/{enterprise.code}/agents/", {}).status_code == 404
    assert (
        client.post(f"/me/authorizations/{authorization.pk}/revoke/").status_code == 404
    )  # not theirs: as if it did not exist
    authorization.refresh_from_db()
    assert authorization.revoked_at is None


# --- single sign-on ------------------------------------------------------------------------


@pytest.fixture
def js_provider(region):
    """js's OpenID Connect signing key, published in the directory as the hub would."""
    key = RSAKey.generate_key(
        2048, parameters={"kid": "js-oidc-test", "use": "sig", "alg": "RS256"}
    )
    Node.objects.filter(node_id="js").update(
        oidc_issuer=JS_ISSUER, oidc_jwks=KeySet([key]).as_dict(private=False)
    )
    return key


def test_login_page_offers_other_provinces(client, js_provider):
    page = client.get("/login/?next=/me/cases/")
    text = texts(page)
    assert "使用其他省份账号登录" in text and "苏服办（江苏）账号登录" in text
    assert 'href="/sso/js/start/?next=/me/cases/"' in html(page).replace("%2F", "/")
    assert "/sso/zj/start/" not in html(page)  # zj publishes no OIDC keys here


def test_sso_start_sends_the_browser_to_the_home_node(client, js_provider):
    response = client.get("/sso/js/start/", {"next": "/me/cases/"})
    assert response.status_code == 302
    url = urlsplit(response["Location"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{JS_ISSUER}/authorize/"
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query["client_id"] == "tongban-sh"
    assert query["redirect_uri"] == "http://127.0.0.1:8001/sso/callback/js/"
    assert query["response_type"] == "code" and "openid" in query["scope"]
    assert query["code_challenge_method"] == "S256"
    assert len(query["state"]) >= 32 and len(query["nonce"]) >= 32
    assert len(query["code_challenge"]) == 43

    assert client.get("/sso/zz/start/").status_code == 404
    missing = client.get("/sso/zj/start/")  # no keys for zj
    assert missing.status_code == 404 and "不支持从该节点登录" in texts(missing)


def test_sso_callback_with_a_wrong_state_is_refused(client, js_provider):
    client.get("/sso/js/start/", {"next": "/me/cases/"})
    response = client.get("/sso/callback/js/", {"code": "abc", "state": "forged"})
    assert response.status_code == 400
    assert "登录未完成" in texts(response) and "会话已失效或请求被重放" in texts(response)
    assert "_auth_user_id" not in client.session
    # without any attempt under way
    fresh = client.get("/sso/callback/js/", {"code": "abc", "state": "x"})
    assert fresh.status_code == 400
    declined = client.get("/sso/callback/js/", {"error": "access_denied"})
    assert declined.status_code == 400


class TokenEndpoint:
    """js's token endpoint across the network: answers with an ID token signed by js."""

    def __init__(self, key, claims):
        self.key, self.claims, self.calls = key, claims, []

    def post(self, url, data=None, timeout=None):
        self.calls.append((url, data))
        token = jwt.encode({"alg": "RS256", "kid": "js-oidc-test"}, self.claims, self.key)

        class Response:
            status_code = 200
            content = json.dumps({"id_token": token, "token_type": "Bearer"}).encode()

        return Response()


def test_sso_signs_a_js_resident_in_once(client, js_provider, monkeypatch):
    start = client.get("/sso/js/start/", {"next": "/me/cases/"})
    query = {k: v[0] for k, v in parse_qs(urlsplit(start["Location"]).query).items()}
    now = int(time.time())
    endpoint = TokenEndpoint(
        js_provider,
        {
            "iss": JS_ISSUER,
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
    callback = {"code": "one-time-code", "state": query["state"]}
    response = client.get("/sso/callback/js/", callback)
    assert response.status_code == 302 and response["Location"] == "/me/cases/"
    assert endpoint.calls[0][0] == f"{JS_ISSUER}/token/"
    assert endpoint.calls[0][1]["code_verifier"]
    assert client.session["auth_method"] == "sso:js"
    user = User.objects.get(federated_subject="42")
    assert user.person.home_node == "js" and user.assurance == "L2"
    page = client.get("/me/cases/")
    assert page.status_code == 200 and "王芳" in texts(page)

    replay = client.get("/sso/callback/js/", callback)
    assert replay.status_code == 400 and "会话已失效或请求被重放" in texts(replay)
    assert SecurityEvent.objects.filter(kind="sso_state_mismatch").exists()


def test_method_codes_are_shown_readably(region):
    from tongban.portal.views import method_label

    assert method_label("in_person") == "窗口当面核验"
    assert method_label("password+sms_otp") == "密码+短信验证码"
    assert method_label("sso:js") == "经苏服办单点登录"
    assert method_label("sso:upstream") == "经国家政务服务平台单点登录"


def test_the_new_pages_have_nothing_inline_and_speak_english(client, region, outbox):
    user = resident("lina")
    client.post("/login/", {"username": "lina", "password": PASSWORD})
    pages = [client.get("/login/"), client.get("/login/code/"), client.get("/register/")]
    client.post("/login/code/", {"action": "verify", "code": last_code(outbox, "13801761234")})
    pages += [client.get(f"/apply/{HOUSEHOLD_PROOF}/"), client.get("/me/enterprises/")]
    for page in pages:
        assert page.status_code == 200
        assert not re.search(r"<script(?![^>]*\bsrc=)", html(page)), "an inline script"
        assert 'style="' not in html(page)
        assert "script-src 'self'" in page["Content-Security-Policy"]

    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    text = texts(client.get("/me/enterprises/"))
    assert "My enterprises" in text and "Enterprises I may act for" in text
    assert "Register an enterprise" in text and "我可代办的企业" not in text
    text = texts(client.get(f"/apply/{HOUSEHOLD_PROOF}/"))
    assert "Apply online" in text and "Submit application" in text
    client.logout()  # the test client forgets every cookie, the language too
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    text = texts(client.get("/login/"))
    assert "Sign in" in text and "Register a personal account" in text
    assert user.person.phone not in text
