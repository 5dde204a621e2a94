"""An SMS code proves a phone, not a person (ADR 0010).

Reproductions of the cross-node identity leak: someone registers with another
person's name and 身份证号 and their own phone, reaches L2, and — directly or
through single sign-on at another node — tries to see or use what others recorded
under that 身份证号: cases, materials, licences, enterprises, agent authorizations,
licence uses. This node is sh; peers sign with their real keys.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client
from django.utils import timezone

from tests.api.test_licences_api import issue
from tests.factories import PDF, id_number, user_with
from tongban.cases.models import Case
from tongban.exchange.envelopes import Blob
from tongban.identity import sms
from tongban.identity.federation import UPSTREAM, Provider, federated_user
from tongban.identity.models import AgentAuthorization, Enterprise, Person, SecurityEvent, User
from tongban.identity.services import person_upsert
from tongban.licences.models import WalletEntry

VICTIM_ID_PREFIX = "31011519880512457"  # a 上海 resident (home node sh)
JS_ID_PREFIX = "32058419930818246"  # a 江苏 resident (home node js)
ZJ_ID_PREFIX = "33042119900307123"  # a 浙江 resident (home node zj)
PASSWORD = "Attacker-Phone-2026"
ATTACKER_PHONE = "13700000001"
WINDOW_PHONE = "13905731234"  # the phone the 嘉善 window recorded (tests.factories)


@pytest.fixture(autouse=True)
def sms_outbox(settings):
    settings.TONGBAN_SMS_BACKEND = "tongban.identity.sms.LocmemBackend"
    sms._backend.cache_clear()
    sms.LocmemBackend.outbox.clear()
    yield sms.LocmemBackend.outbox
    sms._backend.cache_clear()


def api_post(client: Client, path: str, body: dict, token: str = ""):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.post(
        "/api/v1" + path, json.dumps(body), content_type="application/json", **headers
    )


def api_get(client: Client, path: str, token: str):
    return client.get("/api/v1" + path, HTTP_AUTHORIZATION=f"Bearer {token}")


def register_l2(
    client: Client, outbox, *, username: str, name: str, number: str, phone=ATTACKER_PHONE
) -> str:
    """Self-registration with a phone (by default the attacker's own), verified by SMS;
    returns an API token."""
    r = api_post(
        client,
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
    code = outbox[-1][1].split("验证码为 ")[1][:6]
    r = api_post(client, "/auth/register/verify", {"username": username, "code": code})
    assert r.json()["assurance"] == "L2"
    r = api_post(client, "/auth/tokens", {"username": username, "password": PASSWORD})
    assert r.status_code == 202 and r.json()["otp_required"], r.content
    code = outbox[-1][1].split("验证码为 ")[1][:6]
    r = api_post(client, "/auth/tokens", {"username": username, "password": PASSWORD, "otp": code})
    assert r.status_code == 201, r.content
    return r.json()["token"]


def received_window_case(region, client, *, number: str, applicant_id: str) -> Case:
    """A case the 嘉善 window (zj) took in person for ``applicant_id``, decided here."""
    envelope = region.case_submit_envelope(number=number, applicant_id=applicant_id)
    r = client.post("/api/v1/exchange/inbox", json.dumps(envelope), content_type="application/json")
    assert r.status_code == 200, r.content
    return Case.objects.get(number=number)


def received_online_case(region, client, *, number: str, applicant_id: str, sender: str, account):
    """A case applied for online at ``sender`` (the applicant's home node) by ``account``."""
    base = region.case_submit_envelope(number=number, applicant_id=applicant_id)
    body = base["signed"]["body"]
    body["case"]["channel"] = "online"
    body["case"].pop("window", None)
    subject = base["signed"]["subject"] | {
        "method": "password+sms_otp",
        "authenticated_by": {"node": sender, "home_node": sender, "account": str(account)},
    }
    blobs = [
        Blob(content=PDF + code.encode(), media_type="application/pdf")
        for code in ("M01", "M02", "M03", "M04", "M05")
    ]
    envelope = region.envelope(
        sender=sender,
        type="case.submit",
        correlation=number,
        seq=1,
        body=body,
        subject=subject,
        blobs=blobs,
    )
    r = client.post("/api/v1/exchange/inbox", json.dumps(envelope), content_type="application/json")
    assert r.status_code == 200, r.content
    return Case.objects.get(number=number)


def provider_of(key: str) -> Provider:
    """What sso_complete hands to federated_user once the ID token has verified."""
    issuer = "http://127.0.0.1:9999" if key == UPSTREAM else "http://127.0.0.1:8002/o"
    return Provider(
        key=key,
        issuer=issuer,
        authorize_url="",
        token_url="",
        jwks={},
        client_id="tongban-sh",
        client_secret="",
        name=key,
        assurance_cap="L3",
    )


# --- one home node per person -------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "code"),
    [
        (ZJ_ID_PREFIX, "register_at_home_node"),  # a 浙江 resident registering at sh
        (JS_ID_PREFIX, "register_at_home_node"),
        ("11010119850101234", "not_a_region_resident"),  # outside the region
    ],
)
def test_registration_is_only_at_the_home_node_of_the_id_number(region, prefix, code):
    client = Client()
    people = Person.objects.count()
    r = api_post(
        client,
        "/auth/register",
        {
            "username": "intruder",
            "name": "张伟",
            "id_number": id_number(prefix),
            "phone": ATTACKER_PHONE,
            "password": PASSWORD,
        },
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == code
    if code == "register_at_home_node":
        home = {"33": "zj", "32": "js"}[prefix[:2]]
        assert r.json()["error"]["details"]["home_node"] == home
        assert r.json()["error"]["details"]["register_url"].endswith("/register/")
    assert not User.objects.filter(username="intruder").exists()
    assert Person.objects.count() == people
    # the page says the same, next to nothing else changing
    page = client.post(
        "/register/",
        {
            "name": "张伟",
            "id_number": id_number(prefix),
            "phone": ATTACKER_PHONE,
            "username": "intruder",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert page.status_code in (400, 403) and not User.objects.filter(username="intruder").exists()


def test_sso_from_a_node_that_is_not_the_id_numbers_home_is_refused(region):
    provider = provider_of("js")
    claims = {
        "sub": "7",
        "name": "张伟",
        "cn_ric": id_number(ZJ_ID_PREFIX),  # a 浙江 resident vouched for by js
        "acr": "L3",
        "home_node": "js",
    }
    with pytest.raises(Exception) as refused:
        federated_user(provider=provider, claims=claims)
    assert getattr(refused.value, "code", "") == "sso_not_home_node"
    assert not User.objects.filter(federated_subject="7").exists()
    # the same person vouched for by their real home node is accepted
    ok = federated_user(provider=provider, claims={**claims, "cn_ric": id_number(JS_ID_PREFIX)})
    assert ok.federated_issuer == provider.issuer and ok.assurance == "L3"


def test_this_node_vouches_only_for_residents_by_their_id_number(region):
    from tongban.identity.oidc_provider import ResidentClaimsValidator

    class Request:
        def __init__(self, user):
            self.user = user

    # a record that claims home sh for a 浙江 身份证号 (as older registrations could)
    wrong = person_upsert(name="张伟", id_number=id_number(ZJ_ID_PREFIX), home_node="sh")
    user = user_with("zhangwei", person=wrong, assurance="L2")
    assert ResidentClaimsValidator().get_additional_claims(Request(user)) == {}
    right = person_upsert(name="李娜", id_number=id_number(VICTIM_ID_PREFIX), home_node="sh")
    resident = user_with("lina", person=right, assurance="L2")
    claims = ResidentClaimsValidator().get_additional_claims(Request(resident))
    assert claims["home_node"] == "sh" and claims["acr"] == "L2"


def test_an_online_assertion_for_another_provinces_resident_is_refused(region):
    client = Client()
    number = "11310118TESTCASE0000077"
    base = region.case_submit_envelope(number=number, applicant_id=id_number(ZJ_ID_PREFIX))
    body = base["signed"]["body"]
    body["case"]["channel"] = "online"
    subject = base["signed"]["subject"] | {
        "method": "password+sms_otp",
        "authenticated_by": {"node": "js", "home_node": "js", "account": "9"},
    }
    blobs = [
        Blob(content=PDF + code.encode(), media_type="application/pdf")
        for code in ("M01", "M02", "M03", "M04", "M05")
    ]
    envelope = region.envelope(
        sender="js",
        type="case.submit",
        correlation=number,
        seq=1,
        body=body,
        subject=subject,
        blobs=blobs,
    )
    r = client.post("/api/v1/exchange/inbox", json.dumps(envelope), content_type="application/json")
    assert r.status_code == 409 and r.json()["signed"]["code"] == "forged_assertion"
    assert not Case.objects.exists()


# --- records need a proven identity -------------------------------------------------------


def test_self_registration_with_sms_unlocks_nothing_recorded_by_others(region, sms_outbox):
    """Register as the victim with one's own phone: no case, material, licence,
    enterprise or authorization recorded under the 身份证号 becomes visible or usable."""
    client = Client()
    victim_id = id_number(VICTIM_ID_PREFIX)
    # the impostor registers first, with their own phone: the records arrive later
    token = register_l2(client, sms_outbox, username="impostor", name="张伟", number=victim_id)
    impostor = User.objects.get(username="impostor")
    assert impostor.assurance == "L2"
    case = received_window_case(
        region, client, number="11310118TESTCASE0000081", applicant_id=victim_id
    )
    material = case.materials.first()
    police = user_with("police.official", role="official", organization=region.org("上海市公安局"))

    class Api:  # what tests/api/test_licences_api.issue expects
        def login(self, user):
            from tongban.identity.services import api_token_create

            self.token = api_token_create(user=user, name="t")[1]
            return self

        def post(self, path, body):
            return api_post(client, path, body, self.token)

    licence = issue(Api(), police, region, holder_id=victim_id, name="张伟")
    assert WalletEntry.objects.filter(identifier=licence["identifier"]).exists()
    victim = Person.objects.get(id_number_index=case.applicant_id_index)
    boss = user_with(
        "boss",
        person=person_upsert(name="顾俊", id_number=id_number("31010119910304531")),
        assurance="L3",
    )
    enterprise = Enterprise.objects.create(
        code="91310118MA1K00010Y"[:17] + "0",
        name="张伟的公司",
        legal_representative=victim,
        home_node="sh",
    )
    other = Enterprise.objects.create(
        code="91310118MA1K00020Y"[:17] + "0",
        name="顾俊的公司",
        legal_representative=boss.person,
        home_node="sh",
    )
    AgentAuthorization.objects.create(
        enterprise=other,
        agent=victim,
        item_codes=[],
        granted_by=boss,
        expires_at=timezone.now() + dt.timedelta(days=30),
    )

    impostor.refresh_from_db()
    assert impostor.person_id == victim.pk

    listing = api_get(client, "/cases", token).json()
    assert listing["count"] == 0 and listing["results"] == []
    assert api_get(client, f"/cases/{case.number}", token).status_code == 404
    assert (
        api_get(client, f"/cases/{case.number}/materials/{material.pk}", token).status_code == 404
    )
    assert api_get(client, "/wallet", token).json()["results"] == []
    assert api_get(client, f"/wallet/{licence['identifier']}", token).status_code == 404
    r = api_post(
        client, f"/wallet/{licence['identifier']}/presentations", {"fields": ["holder_name"]}, token
    )
    assert r.status_code == 404
    assert api_get(client, "/wallet/uses", token).json()["results"] == []
    assert api_get(client, "/enterprises", token).json() == []
    r = api_post(
        client,
        f"/enterprises/{enterprise.code}/agents",
        {
            "name": "李四",
            "id_number": id_number("31010419870221368"),
            "items": [],
            "expires_at": (timezone.now() + dt.timedelta(days=5)).isoformat(),
        },
        token,
    )
    assert r.status_code in (403, 404) and not enterprise.authorizations.exists()

    # the pages say the same, with the way to a proven identity
    web = Client()
    web.force_login(impostor)
    page = web.get("/me/cases/")
    assert page.status_code == 200 and case.number not in page.content.decode()
    assert "当面核验" in page.content.decode()
    assert web.get(f"/cases/{case.number}/").status_code == 404
    wallet = web.get("/me/licences/").content.decode()
    assert licence["identifier"] not in wallet and "当面核验" in wallet
    assert web.get(f"/me/licences/{licence['identifier']}/").status_code == 404
    assert enterprise.name not in web.get("/me/enterprises/").content.decode()

    # a window clerk's face-to-face check of the real person does not raise the
    # impostor's account: it was registered with another phone
    from tongban.identity.services import account_raise_in_person

    clerk = user_with("clerk", role="clerk", window=region.window("sh-310118-01"))
    account_raise_in_person(
        person=victim, phone="13905731234", by=clerk, window=region.window("sh-310118-01")
    )
    impostor.refresh_from_db()
    assert impostor.assurance == "L2"


def test_a_proven_identity_sees_what_was_recorded_under_the_id_number(region, sms_outbox):
    client = Client()
    victim_id = id_number(VICTIM_ID_PREFIX)
    case = received_window_case(
        region, client, number="11310118TESTCASE0000082", applicant_id=victim_id
    )
    # registering with another phone than the one the window recorded is refused outright
    r = api_post(
        client,
        "/auth/register",
        {
            "username": "impostor",
            "name": "张伟",
            "id_number": victim_id,
            "phone": ATTACKER_PHONE,
            "password": PASSWORD,
        },
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "registration_refused"
    # the person registers with their own phone — still only L2: a phone is not a person
    token = register_l2(
        client, sms_outbox, username="lina", name="张伟", number=victim_id, phone=WINDOW_PHONE
    )
    assert api_get(client, "/cases", token).json()["count"] == 0
    # checked face to face at a window, with the phone the account was registered with
    from tongban.identity.services import account_raise_in_person

    clerk = user_with("clerk", role="clerk", window=region.window("sh-310118-01"))
    person = Person.objects.get(id_number_index=case.applicant_id_index)
    account_raise_in_person(
        person=person, phone=WINDOW_PHONE, by=clerk, window=region.window("sh-310118-01")
    )
    assert User.objects.get(username="lina").assurance == "L3"
    assert SecurityEvent.objects.filter(kind="assurance_raised").exists()
    assert api_get(client, "/cases", token).json()["count"] == 1
    assert api_get(client, f"/cases/{case.number}", token).status_code == 200


def test_a_federated_account_sees_only_what_its_home_node_vouched_for_it(region):
    client = Client()
    resident_id = id_number(JS_ID_PREFIX)
    vouched = received_online_case(
        region,
        client,
        number="11310118TESTCASE0000083",
        applicant_id=resident_id,
        sender="js",
        account=7,
    )
    taken_at_window = received_window_case(
        region, client, number="11310118TESTCASE0000084", applicant_id=resident_id
    )
    other_account = received_online_case(
        region,
        client,
        number="11310118TESTCASE0000085",
        applicant_id=resident_id,
        sender="js",
        account=8,
    )
    provider = provider_of("js")
    claims = {"sub": "7", "name": "张伟", "cn_ric": resident_id, "acr": "L2", "home_node": "js"}
    user = federated_user(provider=provider, claims=claims)
    assert user.assurance == "L2"
    web = Client()
    web.force_login(user)
    listing = web.get("/me/cases/").content.decode()
    assert vouched.number in listing
    assert taken_at_window.number not in listing and other_account.number not in listing
    assert web.get(f"/cases/{taken_at_window.number}/").status_code == 404
    # vouched for at L3 (checked in person at home): every case under the 身份证号
    user = federated_user(provider=provider, claims={**claims, "acr": "L3"})
    user.refresh_from_db()
    assert user.assurance == "L2"  # an existing federated account keeps its recorded level
    User.objects.filter(pk=user.pk).update(assurance="L3")
    web.force_login(User.objects.get(pk=user.pk))
    listing = web.get("/me/cases/").content.decode()
    assert all(c.number in listing for c in (vouched, taken_at_window, other_account))


def test_the_national_platform_takes_an_unproven_local_account_back(region, sms_outbox):
    client = Client()
    victim_id = id_number(VICTIM_ID_PREFIX)
    register_l2(client, sms_outbox, username="impostor", name="张伟", number=victim_id)
    provider = provider_of(UPSTREAM)
    user = federated_user(
        provider=provider, claims={"sub": "x1", "name": "张伟", "cn_ric": victim_id, "acr": "L3"}
    )
    assert user.username == "impostor" and user.assurance == "L3"
    assert not user.has_usable_password()  # whoever opened it with a phone is out
    r = api_post(client, "/auth/tokens", {"username": "impostor", "password": PASSWORD})
    assert r.status_code == 401


def test_an_online_licence_choice_needs_a_proven_identity(region, sms_outbox):
    from tongban.cases.services import case_submit_online
    from tongban.errors import DomainError

    client = Client()
    register_l2(
        client, sms_outbox, username="lina", name="李娜", number=id_number(VICTIM_ID_PREFIX)
    )
    user = User.objects.get(username="lina")
    with pytest.raises(DomainError) as refused:
        case_submit_online(
            user=user,
            item_code="000501001000",
            organization_code=region.org("上海市公安局").code,
            form_data={},
            files=[],
            licences=[{"material_code": "M01", "identifier": "x"}],
            licence_consent=True,
        )
    assert refused.value.code == "identity_not_proven"
    assert not Case.objects.exists()


# --- a valid 身份证号 whose area code is younger than its holder ----------------------------


def test_an_id_number_with_an_area_code_created_after_the_birth_year_is_valid(region):
    from tongban.identity.residence import id_number_is_valid, id_number_warnings
    from tongban.identity.services import person_fields_clean

    number = "320509199003309354"  # 吴江区 (2012), born 1990, correct check digit
    assert id_number_is_valid(number)
    assert id_number_warnings(number) == ["area_code_assigned_after_birth_year"]
    assert person_fields_clean(name="吴江", id_number=number, phone="13913550000")[1] == number
    assert not id_number_is_valid("320509199003309355")  # wrong check digit
    assert not id_number_is_valid("320599199003309354"[:17] + "X")  # unknown area code
    assert not id_number_is_valid("320509209901019354")  # born in the future


# --- 当面核验 at a window, without an application ---------------------------------------


def test_a_clerk_checks_an_account_face_to_face_only_with_its_registered_phone(region, sms_outbox):
    client = Client()
    number = id_number(VICTIM_ID_PREFIX)
    register_l2(client, sms_outbox, username="lina", name="张伟", number=number)
    clerk = user_with("clerk", role="clerk", window=region.window("sh-310118-01"))
    web = Client()
    web.force_login(clerk)
    page = web.get("/window/identity/")
    assert page.status_code == 200 and "当面核验账号" in page.content.decode()
    # every error at once, nothing changed
    bad = web.post("/window/identity/", {"window": "sh-310118-01", "id_number": "1", "phone": "2"})
    text = bad.content.decode()
    assert bad.status_code == 400 and "请先当面核对身份证原件" in text
    # the phone someone else would give does not match the account's
    wrong = web.post(
        "/window/identity/",
        {
            "window": "sh-310118-01",
            "id_number": number,
            "phone": "13905731234",
            "checked": "on",
        },
    )
    assert wrong.status_code == 404 and "没有以该身份证号和手机号码注册" in wrong.content.decode()
    assert User.objects.get(username="lina").assurance == "L2"
    assert SecurityEvent.objects.filter(kind="in_person_check_unmatched").exists()
    # a window that is not the clerk's
    other = web.post(
        "/window/identity/",
        {"window": "sh-310101-01", "id_number": number, "phone": ATTACKER_PHONE, "checked": "on"},
    )
    assert other.status_code == 400 and User.objects.get(username="lina").assurance == "L2"
    ok = web.post(
        "/window/identity/",
        {"window": "sh-310118-01", "id_number": number, "phone": ATTACKER_PHONE, "checked": "on"},
        follow=True,
    )
    assert ok.status_code == 200 and "实名等级为“当面核验”" in ok.content.decode()
    assert User.objects.get(username="lina").assurance == "L3"
    event = SecurityEvent.objects.filter(kind="assurance_raised").get()
    assert event.details["by"] == "clerk" and event.details["window"] == "sh-310118-01"
    # a resident cannot reach the page
    resident = Client()
    resident.force_login(User.objects.get(username="lina"))
    assert resident.get("/window/identity/").status_code == 403
