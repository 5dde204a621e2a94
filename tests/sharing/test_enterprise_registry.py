"""Enterprises rooted in their registry (issue 11 §4, docs/data-sharing.md §7): a claim to
represent an enterprise is confirmed only by the registering authority's 企业登记信息, and
an agent authorization is a document signed by the legal representative's home node that
the deciding node verifies and checks against the registry."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from stdnum.cn import uscc

from tests.factories import PDF, enterprise_registry_seed, user_with
from tongban.cases.models import Case
from tongban.exchange.envelopes import Blob, iso
from tongban.exchange.models import InboxMessage
from tongban.identity.demo_accounts import AGENTS, ENTERPRISES, PERSONS, WENZHOU_RESIDENT
from tongban.identity.models import AgentAuthorization, Enterprise, SecurityEvent
from tongban.identity.services import (
    AGENT_AUTHORIZATION_FORMAT,
    RegistryRecord,
    agent_authorize,
    enterprise_register,
    person_id_digest,
    person_upsert,
)
from tongban.sharing.enterprise_registry import (
    AgentAuthorizationInvalid,
    agent_authorization_check,
    enterprise_claim_start,
    registry_node_for,
)
from tongban.sharing.models import DataQuery, EnterpriseClaim
from tongban.sharing.samples import REGISTRY_ONLY

ESTABLISHMENT = "000301001000"  # 内资有限公司设立登记 (decided by 青浦区市场监管局 at sh)
QINGPU_COMPANY, QINGPU_CODE = REGISTRY_ONLY[0][0], REGISTRY_ONLY[0][1]
CLOSED_CODE = REGISTRY_ONLY[1][1]


def credit_code(prefix16: str) -> str:
    return prefix16 + "0" + uscc.calc_check_digit(prefix16 + "00")


def resident(person: tuple, *, assurance="L2"):
    username, name, number, phone = person
    return user_with(
        username,
        person=person_upsert(name=name, id_number=number, phone=phone, home_node="sh"),
        assurance=assurance,
    )


@pytest.fixture
def registry(region):
    enterprise_registry_seed()  # the sharing catalog and sh's sample register
    return region


def test_the_registry_node_is_read_from_the_uscc_and_the_directory(region):
    assert registry_node_for(ENTERPRISES["sh"][1]) == "sh"
    assert registry_node_for(ENTERPRISES["zj"][1]) == "zj"
    assert registry_node_for(ENTERPRISES["js"][1]) == "js"
    assert registry_node_for(ENTERPRISES["ah"][1]) == "ah"
    assert registry_node_for(credit_code("91110105MA0000A1")) is None  # 北京: outside
    assert registry_node_for("bad") is None


def test_a_code_one_does_not_represent_is_refused(registry):
    """顾俊 names 上海青禾 (valid code, in the register) — its legal representative is 李娜."""
    gujun = resident(AGENTS["sh"])
    claim = enterprise_claim_start(user=gujun, uscc=ENTERPRISES["sh"][1])
    assert claim.status == EnterpriseClaim.Status.REFUSED
    assert claim.reason == "登记机关记录的法定代表人不是您"
    assert not Enterprise.objects.exists()
    event = SecurityEvent.objects.get(kind="enterprise_claim_mismatch")
    logged = json.dumps(event.details)
    assert event.username == gujun.username
    assert AGENTS["sh"][2] not in logged and PERSONS["sh"][2] not in logged
    query = DataQuery.objects.get()
    assert (query.use, query.dataset_code, query.item_code, query.purpose) == (
        "enterprise_identity",
        "sh.enterprise",
        "platform:enterprise_identity",
        "法人身份核验",
    )
    assert claim.query_id == query.pk


def test_a_registry_confirmed_registration_creates_the_enterprise_named_by_the_registry(
    registry, api
):
    lina = resident(PERSONS["sh"])
    api.login(lina)
    r = api.post("/enterprises", {"code": ENTERPRISES["sh"][1].lower(), "name": "我随便写的"})
    assert r.status_code == 202, r.content
    body = r.json()
    assert (body["status"], body["name"], body["registry_node"]) == (
        "confirmed",
        ENTERPRISES["sh"][0],
        "sh",
    )
    enterprise = Enterprise.objects.get()
    assert enterprise.name == ENTERPRISES["sh"][0]  # the registry's, not the typed one
    assert enterprise.legal_representative_id == lina.person_id
    # the register read her 身份证号: a use in her data-use log, with its purpose
    from tongban.sharing.models import DataUseRecord

    use = DataUseRecord.objects.get(purpose="法人身份核验")
    assert use.dataset_code == "sh.enterprise" and "法定代表人身份证件号码" in use.fields
    assert [c["status"] for c in api.get("/enterprises/claims").json()] == ["confirmed"]
    assert [e["code"] for e in api.get("/enterprises").json()] == [ENTERPRISES["sh"][1]]
    # once registered, a second claim is refused at once
    r = api.post("/enterprises", {"code": ENTERPRISES["sh"][1]})
    assert r.status_code == 409 and r.json()["error"]["code"] == "enterprise_exists"


def test_a_made_up_code_and_a_deregistered_enterprise_are_refused(registry, api):
    lina = resident(PERSONS["sh"])
    api.login(lina)
    made_up = credit_code("91310118MA1K9999")  # checksum-valid, 青浦, not registered
    r = api.post("/enterprises", {"code": made_up})
    assert r.status_code == 202 and r.json()["status"] == "refused"
    assert r.json()["reason"] == "企业不在登记机关的登记信息中"
    r = api.post("/enterprises", {"code": CLOSED_CODE})
    assert r.json()["status"] == "refused" and "注销" in r.json()["reason"]
    r = api.post("/enterprises", {"code": "91310118MA1K00010X"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_uscc"
    r = api.post("/enterprises", {"code": credit_code("91110105MA0000A1")})
    assert r.status_code == 400 and r.json()["error"]["code"] == "registry_unknown"
    assert not Enterprise.objects.exists()


def test_another_provinces_registry_is_asked_by_data_query(registry):
    """张伟 (zj) at this node names a zj-registered company: the claim waits for zj."""
    zhangwei = resident(PERSONS["zj"])
    claim = enterprise_claim_start(user=zhangwei, uscc=ENTERPRISES["zj"][1])
    assert claim.status == EnterpriseClaim.Status.PENDING and claim.registry_node == "zj"
    from tongban.exchange.models import OutboxMessage

    message = OutboxMessage.objects.get(type="data.query")
    assert message.recipient == "zj"
    # asking again while it is pending starts nothing new
    assert enterprise_claim_start(user=zhangwei, uscc=ENTERPRISES["zj"][1]).pk == claim.pk
    assert not Enterprise.objects.exists()


def test_enterprises_are_created_only_from_a_registry_record(registry):
    lina = resident(PERSONS["sh"])
    with pytest.raises(TypeError):
        enterprise_register(user=lina, code=ENTERPRISES["sh"][1], name="x")  # type: ignore[call-arg]
    with pytest.raises(Exception, match="法定代表人不是您"):
        enterprise_register(
            user=lina,
            registry=RegistryRecord(
                uscc=ENTERPRISES["sh"][1],
                name="x",
                legal_representative_id=AGENTS["sh"][2],
                status="存续",
                source="test",
            ),
        )
    assert not Enterprise.objects.exists()


def test_the_portal_page_shows_the_claim_and_has_no_typed_name(registry, client):
    gujun = resident(AGENTS["sh"])
    client.force_login(gujun)
    page = client.get("/me/enterprises/").content.decode()
    assert 'name="reg-name"' not in page
    r = client.post("/me/enterprises/register/", {"reg-code": ENTERPRISES["sh"][1]}, follow=True)
    page = r.content.decode()
    assert "登记机关记录的法定代表人不是您" in page and "未通过" in page
    assert not Enterprise.objects.exists()


# --- agent authorizations ------------------------------------------------------------------


def _zj_document(region, *, agent_id, items=(), expires=None, representative_id=None, **over):
    document = {
        "format": AGENT_AUTHORIZATION_FORMAT,
        "id": 7,
        "enterprise": {"uscc": QINGPU_CODE, "name": QINGPU_COMPANY},
        "legal_representative": {
            "name": WENZHOU_RESIDENT[1],
            "id_sm3": person_id_digest(QINGPU_CODE, representative_id or WENZHOU_RESIDENT[2]),
        },
        "agent": {"name": "沈佳", "id_sm3": person_id_digest(QINGPU_CODE, agent_id)},
        "items": list(items),
        "expires_at": iso(expires or dt.datetime.now(dt.UTC) + dt.timedelta(days=30)),
        "issued_by": "zj",
        "issued_at": iso(dt.datetime.now(dt.UTC)),
        **over,
    }
    from tongban.gm.canonical import canonical_json

    return {"document": document, "signature": region.signer("zj")(canonical_json(document))}


def _acting_for(signed) -> dict:
    return {
        "code": QINGPU_CODE,
        "name": QINGPU_COMPANY,
        "role": "agent",
        "authorization": {"id": 7, "items": [], "expires_at": "", **signed},
    }


def _check(acting_for, agent_id, item=ESTABLISHMENT):
    agent_authorization_check(
        acting_for,
        sender="zj",
        applicant_id_number=agent_id,
        item_code=item,
        case_number="11310118TESTCASE0000077",
        organization_code="11310118046585438B",
    )


def test_the_deciding_node_verifies_the_signed_authorization_and_the_registry(registry):
    from tongban.sharing.models import DataUseRecord

    agent_id = AGENTS["zj"][2]
    _check(_acting_for(_zj_document(registry, agent_id=agent_id)), agent_id)  # holds
    # this node is the registry: the legal representative's data was used, and logged
    use = DataUseRecord.objects.get() if DataUseRecord.objects.exists() else None
    assert use is None or use.purpose == "核验经办人授权"
    bad = {
        "altered after signing": lambda s: s["document"].update(items=["000000000001"]) or s,
        "another signer": lambda s: (
            s | {"signature": registry.signer("js")(b"x") | {"kid": s["signature"]["kid"]}}
        ),
        "unknown key": lambda s: s | {"signature": s["signature"] | {"kid": "zj-nope"}},
        "no document": lambda s: {},
    }
    for what, change in bad.items():
        signed = change(_zj_document(registry, agent_id=agent_id))
        with pytest.raises(AgentAuthorizationInvalid):
            _check(_acting_for(signed), agent_id)
        assert what
    cases = {
        "agent is not the applicant": (_zj_document(registry, agent_id=agent_id), PERSONS["zj"][2]),
        "item not covered": (
            _zj_document(registry, agent_id=agent_id, items=["000302001000"]),
            agent_id,
        ),
        "expired": (
            _zj_document(
                registry,
                agent_id=agent_id,
                expires=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1),
            ),
            agent_id,
        ),
        "another legal representative": (
            _zj_document(registry, agent_id=agent_id, representative_id=PERSONS["zj"][2]),
            agent_id,
        ),
    }
    for what, (signed, applicant) in cases.items():
        with pytest.raises(AgentAuthorizationInvalid):
            _check(_acting_for(signed), applicant)
        assert what
    # the legal representative role carries no authorization to check
    _check({"code": QINGPU_CODE, "role": "legal_representative", "authorization": None}, agent_id)


def test_a_forged_authorization_refuses_the_case_submit(registry, api):
    agent_id = AGENTS["zj"][2]
    number = "11310118TESTCASE0000078"
    envelope = registry.case_submit_envelope(number=number, applicant_id=agent_id)
    signed = _zj_document(registry, agent_id=agent_id)
    signed["document"]["items"] = ["000302001000"]  # widened after signing
    subject = envelope["signed"]["subject"] | {"acting_for": _acting_for(signed)}
    blobs = [
        Blob(content=PDF + code.encode(), media_type="application/pdf")
        for code in ("M01", "M02", "M03", "M04", "M05")
    ]
    forged = registry.envelope(
        type="case.submit",
        correlation=number,
        seq=1,
        body=envelope["signed"]["body"],
        subject=subject,
        blobs=blobs,
    )
    r = api.post("/exchange/inbox", raw=json.dumps(forged).encode())
    assert r.status_code == 409
    assert r.json()["signed"]["code"] == "agent_authorization_invalid"
    assert not Case.objects.exists() and InboxMessage.objects.get().status == "refused"
    # the same envelope with the document as signed is accepted
    number = "11310118TESTCASE0000079"
    envelope = registry.case_submit_envelope(number=number, applicant_id=agent_id)
    subject = envelope["signed"]["subject"] | {
        "acting_for": _acting_for(_zj_document(registry, agent_id=agent_id))
    }
    good = registry.envelope(
        type="case.submit",
        correlation=number,
        seq=1,
        body=envelope["signed"]["body"],
        subject=subject,
        blobs=blobs,
    )
    r = api.post("/exchange/inbox", raw=json.dumps(good).encode())
    assert r.status_code == 200, r.content
    assert r.json()["signed"]["status"] == "accepted", r.json()
    assert Case.objects.filter(number=number).exists()


def test_agent_authorize_signs_the_document_with_this_nodes_key(registry):
    lina = resident(PERSONS["sh"], assurance="L3")
    enterprise_claim_start(user=lina, uscc=ENTERPRISES["sh"][1])
    authorization = agent_authorize(
        user=lina,
        enterprise_code=ENTERPRISES["sh"][1],
        agent_name=AGENTS["sh"][1],
        agent_id_number=AGENTS["sh"][2],
        item_codes=[],
        expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=30),
    )
    signed = AgentAuthorization.objects.get(pk=authorization.pk).signed
    document = signed["document"]
    assert document["format"] == "tongban-agent-authorization/1"
    assert document["issued_by"] == "sh" and document["enterprise"]["uscc"] == ENTERPRISES["sh"][1]
    assert AGENTS["sh"][2] not in json.dumps(signed)  # digests, not numbers
    from tongban.directory.signing import peer_public_key
    from tongban.gm import sm2
    from tongban.gm.canonical import canonical_json

    key = peer_public_key("sh", signed["signature"]["kid"])
    assert sm2.verify_b64(key, canonical_json(document), signed["signature"]["value"])


# --- over a live region: the 温州 / 青浦 chain ---------------------------------------------


@pytest.mark.e2e
def test_a_wenzhou_legal_representative_of_a_qingpu_company_authorizes_an_agent(live_region):
    """林晓 (温州, zj) registers his 青浦 (sh) company at zj — sh's register confirms him —
    and authorizes 沈佳 at zj; 沈佳 applies online at zj for the sh item changing the
    company's 经营范围; sh verifies the signed authorization and its own register."""
    from tests.e2e.test_region_flow1 import wait_for
    from tests.e2e.test_region_identity import org, pdfs
    from tongban.identity.demo_accounts import DEMO_PASSWORD
    from tongban.region import ApiClient

    scope_change = "000302001000"  # 内资有限公司经营范围变更登记 (青浦区市场监管局)
    zj = live_region.url("zj")
    sms = lambda: live_region.last_sms_code("zj")  # noqa: E731
    owner = ApiClient(zj, WENZHOU_RESIDENT[0], DEMO_PASSWORD, otp=sms)
    # a code he does not represent (the demo sh company) is refused by sh's register
    r = owner.post("/enterprises", {"code": ENTERPRISES["sh"][1]})
    assert r.status_code == 202 and r.json()["registry_node"] == "sh", r.text

    def claim(code):
        return next((c for c in owner.get("/enterprises/claims").json() if c["code"] == code), {})

    refused = wait_for(
        lambda: (
            claim(ENTERPRISES["sh"][1]).get("status") not in (None, "pending")
            and claim(ENTERPRISES["sh"][1])
        ),
        what="sh's answer to the claim",
    )
    assert (refused["status"], refused["reason"]) == ("refused", "登记机关记录的法定代表人不是您")
    # his own company: confirmed, named as sh registered it
    r = owner.post("/enterprises", {"code": QINGPU_CODE, "name": "随便"})
    assert r.status_code == 202, r.text
    confirmed = wait_for(
        lambda: claim(QINGPU_CODE).get("status") == "confirmed" and claim(QINGPU_CODE),
        what="sh's confirmation",
    )
    assert confirmed["name"] == QINGPU_COMPANY
    assert [e["name"] for e in owner.get("/enterprises").json()] == [QINGPU_COMPANY]
    # he authorizes 沈佳 (L3 at zj) for the 经营范围 change
    r = owner.post(
        f"/enterprises/{QINGPU_CODE}/agents",
        {
            "name": AGENTS["zj"][1],
            "id_number": AGENTS["zj"][2],
            "items": [scope_change],
            "expires_at": (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat(),
        },
    )
    assert r.status_code == 201, r.text
    agent = ApiClient(zj, AGENTS["zj"][0], DEMO_PASSWORD, otp=sms)
    item = agent.get(f"/items/{scope_change}").json()
    values = {
        "text": QINGPU_COMPANY,
        "uscc": QINGPU_CODE,
        "phone": AGENTS["zj"][3],
        "textarea": "智能装备研发、销售",
        "date": "2026-11-20",
        "decimal": "100",
        "integer": "1",
    }
    form = {
        f["name"]: (f["choices"][0] if f["type"] == "select" else values[f["type"]])
        for f in item["form"]
        if f["type"] in values or f["type"] == "select"
    }
    r = agent.post(
        "/cases/online",
        {
            "item": scope_change,
            "organization": org(agent, scope_change, "上海市青浦区市场监督管理局"),
            "form": form,
            "materials": pdfs(*[m["code"] for m in item["materials"] if m["required"]]),
            "enterprise": QINGPU_CODE,
        },
    )
    assert r.status_code == 201, r.text
    number = r.json()["number"]
    official = ApiClient(live_region.url("sh"), "qingpu.official", DEMO_PASSWORD)
    wait_for(lambda: official.get(f"/cases/{number}").status_code == 200, what="the case at sh")
    acting = official.get(f"/cases/{number}").json()["identity_assertion"]["acting_for"]
    assert acting["code"] == QINGPU_CODE and acting["role"] == "agent"
    document = acting["authorization"]["document"]
    assert document["issued_by"] == "zj" and document["items"] == [scope_change]
    assert AGENTS["zj"][2] not in json.dumps(acting) and WENZHOU_RESIDENT[2] not in json.dumps(
        acting
    )
