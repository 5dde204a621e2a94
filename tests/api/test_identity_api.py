"""Identity through the API: registration, two-factor tokens, scopes, lockout,
online applications vouched for by the home node, enterprises and their agents."""

from __future__ import annotations

import json

import pytest
from stdnum.cn import uscc

from tests.conftest import utc
from tests.factories import PDF, enterprise_registry_seed, id_number, materials_payload
from tongban.cases.models import Case
from tongban.exchange.models import InboxMessage, OutboxMessage
from tongban.identity import sms
from tongban.identity.models import AgentAuthorization, SecurityEvent, User
from tongban.identity.pii import decrypt_at_rest

HUJI = "000501001000"  # 户籍事项证明, L2
CRIMINAL = "000501002000"  # 有无犯罪记录证明, L3
SCOPE_CHANGE = "000302001000"  # 内资有限公司经营范围变更登记 (enterprise, L3)
PASSWORD = "Zhejiang-Jiaxing-2026"


@pytest.fixture(autouse=True)
def sms_outbox(settings):
    settings.TONGBAN_SMS_BACKEND = "tongban.identity.sms.LocmemBackend"
    sms._backend.cache_clear()
    sms.LocmemBackend.outbox.clear()
    yield sms.LocmemBackend.outbox
    sms._backend.cache_clear()


def last_code(outbox) -> str:
    return outbox[-1][1].split("验证码为 ")[1][:6]


def register(api, outbox, username="lina", name="李娜", number=None, phone="13801761234"):
    number = number or id_number("31022919880512456")
    r = api.post(
        "/auth/register",
        {
            "username": username,
            "name": name,
            "id_number": number,
            "phone": phone,
            "password": PASSWORD,
        },
    )
    assert r.status_code == 202, r.content
    r = api.post("/auth/register/verify", {"username": username, "code": last_code(outbox)})
    assert r.json()["assurance"] == "L2"
    return User.objects.get(username=username)


def token_for(api, outbox, username, scopes=()):
    body = {"username": username, "password": PASSWORD, "scopes": list(scopes)}
    r = api.post("/auth/tokens", body)
    assert r.status_code == 202 and r.json()["otp_required"]
    r = api.post("/auth/tokens", {**body, "otp": last_code(outbox)})
    assert r.status_code == 201, r.content
    api.headers = {"HTTP_AUTHORIZATION": f"Bearer {r.json()['token']}"}
    return r.json()


def test_registration_validates_and_needs_the_phone_code(region, api, sms_outbox):
    r = api.post(
        "/auth/register",
        {
            "username": "x",
            "name": "李娜",
            "id_number": "310229198805124561",
            "phone": "13801761234",
            "password": PASSWORD,
        },
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_person"
    assert not User.objects.exists() and not sms_outbox
    r = api.post(
        "/auth/register",
        {
            "username": "lina",
            "name": "李娜",
            "id_number": id_number("31022919880512456"),
            "phone": "13801761234",
            "password": PASSWORD,
        },
    )
    assert r.status_code == 202 and "138****1234" in r.json()["message"]
    r = api.post(
        "/auth/register/verify",
        {"username": "lina", "code": "000000" if last_code(sms_outbox) != "000000" else "111111"},
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "otp_wrong"
    assert User.objects.get(username="lina").assurance == "L1"
    assert SecurityEvent.objects.filter(kind="otp_wrong").exists()
    r = api.post("/auth/register/verify", {"username": "lina", "code": last_code(sms_outbox)})
    assert r.json()["assurance"] == "L2"
    # the same 身份证号 cannot register twice
    r = api.post(
        "/auth/register",
        {
            "username": "lina2",
            "name": "李娜",
            "id_number": id_number("31022919880512456"),
            "phone": "13801761234",
            "password": PASSWORD,
        },
    )
    assert r.status_code == 409


def test_resident_tokens_need_the_sms_code_and_lockout_after_failures(region, api, sms_outbox):
    register(api, sms_outbox)
    r = api.post("/auth/tokens", {"username": "lina", "password": PASSWORD, "otp": "12345x"})
    assert r.status_code == 400  # wrong code: no token
    token = token_for(api, sms_outbox, "lina")
    assert set(token["scopes"]) >= {"cases:read", "cases:write"}
    for _ in range(5):
        assert api.post("/auth/tokens", {"username": "lina", "password": "wrong"}).status_code in (
            401,
            429,
        )
    r = api.post("/auth/tokens", {"username": "lina", "password": PASSWORD})
    assert r.status_code == 429 and r.json()["error"]["code"] == "locked_out"
    assert SecurityEvent.objects.filter(kind="login_locked_out", username="lina").exists()


def test_token_scopes_and_revocation(region, api, sms_outbox):
    register(api, sms_outbox)
    token = token_for(api, sms_outbox, "lina", scopes=["cases:read"])
    assert api.get("/cases").status_code == 200
    r = api.post("/cases/online", {"item": HUJI, "organization": "x", "form": {}})
    assert r.status_code == 403 and r.json()["error"]["code"] == "insufficient_scope"
    assert (
        api.post(
            "/auth/tokens",
            {"username": "lina", "password": PASSWORD, "scopes": ["root"], "otp": "000000"},
        ).status_code
        == 400
    )
    from django.test import Client

    revoke = Client().delete(f"/api/v1/auth/tokens/{token['id']}", **api.headers)
    assert revoke.status_code == 204
    assert api.get("/cases").status_code == 401


def huji_form(user) -> dict:
    return {
        "applicant_name": user.person.name,
        "applicant_id_number": user.person.id_number,
        "contact_phone": user.person.phone,
        "proof_kind": "户籍证明",
        "purpose": "办理入学",
    }


def huji_apply_online(api, user):
    """``user`` (signed in) applies online for a 户籍事项证明 that 浙江省公安厅 (zj) decides;
    the API's answer."""
    from tongban.catalog.models import ServiceItem

    form = huji_form(user)
    schema = ServiceItem.objects.get(basic_code=HUJI).form_schema
    form["proof_kind"] = next(f for f in schema if f["name"] == "proof_kind")["choices"][0]
    return api.post(
        "/cases/online",
        {
            "item": HUJI,
            "organization": org_of(api, HUJI, "zj"),
            "form": form,
            "materials": materials_payload(("M01", "M02")),
        },
    )


def org_of(api, item, node):
    return next(
        i["organization"]
        for i in api.get(f"/items/{item}").json()["implementations"]
        if i["node"] == node
    )


def test_online_application_is_vouched_for_by_the_home_node(region, api, sms_outbox):
    user = register(api, sms_outbox)
    token_for(api, sms_outbox, "lina")
    # 有无犯罪记录证明 requires L3: refused at submission with a clear message
    r = api.post(
        "/cases/online",
        {
            "item": CRIMINAL,
            "organization": org_of(api, CRIMINAL, "zj"),
            "form": {},
            "materials": materials_payload(("M01",)),
        },
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "assurance_too_low"
    assert "L3" in r.json()["error"]["message"] and not Case.objects.exists()
    # 户籍事项证明 (L2) decided by 浙江省公安厅: recorded here, vouched for in the envelope
    r = huji_apply_online(api, user)
    assert r.status_code == 201, r.content
    case = Case.objects.get()
    assert (case.channel, case.perspective, case.handling_node) == ("online", "origin", "zj")
    envelope = json.loads(decrypt_at_rest(OutboxMessage.objects.get(type="case.submit").envelope))
    subject = envelope["signed"]["subject"]
    assert subject["assurance"] == "L2" and subject["method"] == "password+sms_otp"
    assert subject["authenticated_by"] == {"node": "sh", "home_node": "sh", "account": str(user.pk)}
    # the form's 身份证号 is encrypted at rest and masked when shown
    assert case.form_data["applicant_id_number"].startswith("sm4gcm:")
    assert r.json()["form"]["applicant_id_number"].startswith("3102**")
    assert api.get("/cases").json()["count"] == 1


def test_forged_identity_assertions_are_refused_and_logged(region, api):
    from tongban.exchange.envelopes import Blob

    number = "11310118TESTCASE0000009"
    envelope = region.case_submit_envelope(number=number)
    body = envelope["signed"]["body"]
    body["case"]["channel"] = "online"
    subject = envelope["signed"]["subject"] | {
        "authenticated_by": {"node": "zj", "home_node": "js"}
    }
    blobs = [
        Blob(content=PDF + code.encode(), media_type="application/pdf")
        for code in ("M01", "M02", "M03", "M04", "M05")
    ]
    forged = region.envelope(
        type="case.submit", correlation=number, seq=1, body=body, subject=subject, blobs=blobs
    )
    r = api.post("/exchange/inbox", raw=json.dumps(forged).encode())
    assert r.status_code == 409
    assert (r.json()["signed"]["status"], r.json()["signed"]["code"]) == (
        "refused",
        "forged_assertion",
    )
    assert not Case.objects.exists() and InboxMessage.objects.get().status == "refused"
    assert SecurityEvent.objects.filter(kind="forged_assertion", username="node:zj").exists()
    # a window that is not the sender's own
    number2 = "11310118TESTCASE0000010"
    envelope = region.case_submit_envelope(number=number2)
    envelope_subject = envelope["signed"]["subject"]
    envelope_subject["authenticated_by"]["window"] = {"code": "sh-310118-01"}
    forged = region.envelope(
        type="case.submit",
        correlation=number2,
        seq=1,
        body=envelope["signed"]["body"],
        subject=envelope_subject,
        blobs=blobs,
    )
    r = api.post("/exchange/inbox", raw=json.dumps(forged).encode())
    assert r.json()["signed"]["code"] == "forged_assertion"


def enterprise_code() -> str:
    prefix = "91310118MA1K0001"
    return prefix + "0" + uscc.calc_check_digit(prefix + "00")


def test_enterprise_agents_act_within_their_authorization(region, api, sms_outbox):
    enterprise_registry_seed()  # sh's 企业登记信息: 李娜 represents 上海青禾
    register(api, sms_outbox, "rep")  # 李娜
    code = enterprise_code()
    assert uscc.is_valid(code)
    token_for(api, sms_outbox, "rep")
    r = api.post("/enterprises", {"code": "91310118MA1K00010X", "name": "x"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_uscc"
    r = api.post("/enterprises", {"code": code})
    assert r.status_code == 202 and r.json()["status"] == "confirmed", r.content
    agent_id = id_number("31011019900307123")
    r = api.post(
        f"/enterprises/{code}/agents",
        {
            "name": "张伟",
            "id_number": agent_id,
            "items": [SCOPE_CHANGE],
            "expires_at": utc(days=-1).isoformat(),
        },
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_expiry"
    r = api.post(
        f"/enterprises/{code}/agents",
        {
            "name": "张伟",
            "id_number": agent_id,
            "items": [SCOPE_CHANGE],
            "expires_at": utc(days=30).isoformat(),
        },
    )
    assert r.status_code == 201, r.content
    authorization_id = r.json()["id"]
    rep_headers = api.headers

    # the agent registers online (same person as authorized, L2): a phone proves nothing
    # about who holds the 身份证号 the authorization names, so it cannot act yet
    agent = register(api, sms_outbox, "zhangwei", "张伟", agent_id, "13905731234")
    token_for(api, sms_outbox, "zhangwei")
    assert api.get("/enterprises").json() == []
    from tongban.catalog.models import ServiceItem

    item = ServiceItem.objects.get(basic_code=SCOPE_CHANGE)
    form = {
        f["name"]: ("上海青禾数字科技有限公司" if f["type"] == "text" else "")
        for f in item.form_schema
    }
    form.update({f["name"]: code for f in item.form_schema if f["type"] == "uscc"})
    form.update({f["name"]: "13905731234" for f in item.form_schema if f["type"] == "phone"})
    form.update({f["name"]: f["choices"][0] for f in item.form_schema if f["type"] == "select"})
    form.update({f["name"]: "技术开发" for f in item.form_schema if f["type"] == "textarea"})
    form.update({f["name"]: "2026-11-20" for f in item.form_schema if f["type"] == "date"})
    form.update({f["name"]: "100" for f in item.form_schema if f["type"] in ("decimal", "integer")})
    form = {k: v for k, v in form.items() if v}
    materials = materials_payload(tuple(m.code for m in item.materials.filter(required=True)))
    org = org_of(api, SCOPE_CHANGE, "zj")
    apply = {
        "item": SCOPE_CHANGE,
        "organization": org,
        "form": form,
        "materials": materials,
        "enterprise": code,
    }
    r = api.post("/cases/online", apply)
    assert r.status_code == 403 and not Case.objects.exists()
    # verified face to face at a window (L3): now the authorization is theirs
    agent.assurance = "L3"
    agent.save(update_fields=["assurance"])
    r = api.post("/cases/online", apply)
    assert r.status_code == 201, r.content
    case = Case.objects.get()
    assert case.enterprise_code == code and case.applicant_name == "张伟"
    assertion = json.loads(decrypt_at_rest(OutboxMessage.objects.get(type="case.submit").envelope))[
        "signed"
    ]["subject"]
    assert (
        assertion["acting_for"]["role"] == "agent"
        and assertion["acting_for"]["authorization"]["id"] == authorization_id
    )
    # not authorized for another item
    r = api.post("/cases/online", {**apply, "item": "000301001000"})
    assert r.status_code == 403
    # the legal representative sees the enterprise's case; a stranger does not
    api.headers = rep_headers
    assert api.get(f"/cases/{case.number}").status_code == 200
    api.headers = {}
    stranger = register(
        api, sms_outbox, "stranger", "陈静", id_number("31010419870221368"), "13955161234"
    )
    token_for(api, sms_outbox, stranger.username)
    assert api.get(f"/cases/{case.number}").status_code == 404
    # after revocation the agent can neither apply nor see the case
    api.headers = rep_headers
    from django.test import Client

    assert (
        Client()
        .delete(f"/api/v1/enterprises/{code}/agents/{authorization_id}", **rep_headers)
        .status_code
        == 204
    )
    assert AgentAuthorization.objects.get().revoked_at is not None
    token_for(api, sms_outbox, "zhangwei")
    r = api.post("/cases/online", apply)
    assert r.status_code == 403 and Case.objects.count() == 1
    assert SecurityEvent.objects.filter(kind="agent_not_authorized").exists()
    assert api.get(f"/cases/{case.number}").status_code == 404


def test_in_person_verification_at_a_window_raises_the_account_to_l3(region, api, sms_outbox):
    from tests.factories import JIAXING_AMR, establishment_form, user_with

    user = register(api, sms_outbox)  # L2, home node sh
    clerk = user_with("qingpu.clerk", role="clerk", window=region.window("sh-310118-01"))
    api.login(clerk)
    r = api.post(
        "/cases",
        {
            "window": "sh-310118-01",
            "item": "000301001000",
            "organization": region.org(JIAXING_AMR).code,
            "applicant": {
                "name": "李娜",
                "id_number": user.person.id_number,
                "phone": "13801761234",
            },
            "form": establishment_form(),
            "materials": materials_payload(),
        },
    )
    assert r.status_code == 201, r.content
    user.refresh_from_db()
    assert user.assurance == "L3"
    assert SecurityEvent.objects.filter(kind="assurance_raised", user=user).exists()


def test_sms_codes_are_rate_limited(region, api, sms_outbox, settings):
    settings.TONGBAN_OTP_MIN_INTERVAL_SECONDS = 60
    settings.TONGBAN_OTP_MAX_PER_HOUR = 5
    register(api, sms_outbox)  # one "register" code
    assert api.post("/auth/tokens", {"username": "lina", "password": PASSWORD}).status_code == 202
    r = api.post("/auth/tokens", {"username": "lina", "password": PASSWORD})
    assert r.status_code == 429 and r.json()["error"]["code"] == "otp_too_frequent"
    assert len([m for m in sms_outbox if "验证码" in m[1]]) == 2


def test_window_only_items_are_not_applied_for_online(region, api, sms_outbox):
    from tongban.catalog.models import ServiceItem

    register(api, sms_outbox)
    token_for(api, sms_outbox, "lina")
    proxy = ServiceItem.objects.filter(mode="proxy").first()
    organization = proxy.implementations.first().organization_id
    r = api.post(
        "/cases/online", {"item": proxy.basic_code, "organization": organization, "form": {}}
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "window_only"
    assert not Case.objects.exists()
