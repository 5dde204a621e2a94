"""用证 (免证办) at one node (sh) through the HTTP API and the exchange inbox:
a case uses a licence instead of a paper material, under a signed consent,
within the recognition matrix."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from tests.api.test_licences_api import DRIVING, deliver_to_wallet, peer_licence
from tests.factories import id_number, materials_payload, user_with
from tongban.cases.models import Case, CaseMaterial
from tongban.exchange.models import InboxMessage, OutboxMessage
from tongban.gm.canonical import canonical_json
from tongban.identity.pii import decrypt_at_rest
from tongban.identity.services import person_upsert
from tongban.licences import formats
from tongban.licences.models import LicenceCounter, LicenceType, LicenceUse

FUND = "000530001000"  # 异地购房提取住房公积金 (M02 不动产权证书)
MEDICAL = "000510001000"  # 异地就医登记备案 (M02 社会保障卡)
SH_ID = "31010419850612001"
WINDOWS = {"zj": "zj-330421-01", "ah": "ah-340100-01", "js": "js-320509-01"}


def type_code(name: str) -> str:
    return LicenceType.objects.get(name=name).code


def sample_fields(name: str) -> dict:
    return {
        f["key"]: ("2020-01-01" if f["kind"] == "date" else f"示例{f['label']}")
        for f in LicenceType.objects.get(name=name).fields
        if not f.get("same_as")  # validity dates on the face follow valid_from/valid_to
    }


@pytest.fixture
def resident(region):
    person = person_upsert(name="陈静", id_number=id_number(SH_ID), home_node="sh")
    user = user_with("chenjing", person=person, assurance="L3")
    user.assurance = "L3"
    user.save(update_fields=["assurance"])
    return user


def issue_at_sh(api, region, *, type_name: str, org_name: str, holder_id: str) -> str:
    official = user_with(
        f"issuer-{type_code(type_name)[-6:]}", role="official", organization=region.org(org_name)
    )
    response = api.login(official).post(
        "/licences",
        {
            "type": type_code(type_name),
            "organization": region.org(org_name).code,
            "holder": {"name": "陈静", "id_number": holder_id},
            "fields": sample_fields(type_name),
        },
    )
    assert response.status_code == 201, response.content
    return response.json()["identifier"]


def org_code(api, item: str, node: str) -> str:
    from tongban.catalog.models import Implementation

    return (
        Implementation.objects.filter(item__basic_code=item, organization__node__node_id=node)
        .values_list("organization_id", flat=True)
        .first()
    )


def fund_form() -> dict:
    return {
        "applicant_name": "陈静",
        "applicant_id_number": id_number(SH_ID),
        "contact_phone": "13801761234",
        "house_region": "320509",
        "amount": "120000",
        "bank_account": "6222020000000000001",
    }


def apply_fund(api, resident, *, node: str, identifier: str, consent: bool = True):
    return api.login(resident).post(
        "/cases/online",
        {
            "item": FUND,
            "organization": org_code(api, FUND, node),
            "form": fund_form(),
            "materials": materials_payload(("M01", "M03")),
            "licences": [{"material_code": "M02", "identifier": identifier}],
            "licence_consent": consent,
        },
    )


def test_a_local_case_uses_a_licence_instead_of_paper(region, api, resident):
    identifier = issue_at_sh(
        api,
        region,
        type_name="不动产权证书",
        org_name="上海市黄浦区行政服务中心",
        holder_id=id_number(SH_ID),
    )
    response = apply_fund(api, resident, node="sh", identifier=identifier)
    assert response.status_code == 201, response.content
    detail = response.json()
    licence_material = next(m for m in detail["materials"] if m["material_code"] == "M02")
    assert licence_material["licence"]["state"] == "verified"
    assert licence_material["licence"]["state_label"] == "免交（电子证照）"

    # the deciding official sees the licence's data instead of a scan
    official = user_with(
        "fund.official", role="official", organization=region.org("上海市公积金管理中心")
    )
    seen = api.login(official).get(f"/cases/{detail['number']}").json()
    fields = next(m for m in seen["materials"] if m["material_code"] == "M02")["licence"]["fields"]
    assert {f["key"] for f in fields} >= {"holder_name", "licence_number"}
    holder_id = next(f["value"] for f in fields if f["key"] == "holder_id")
    assert "*" in holder_id  # masked for staff

    # the holder's history names the case
    uses = api.login(resident).get("/wallet/uses").json()["results"]
    assert [(u["identifier"], u["case_number"]) for u in uses] == [(identifier, detail["number"])]
    events = set(LicenceCounter.objects.values_list("event", flat=True))
    assert {"issue", "share", "use"} <= events


def test_consent_is_required_and_nothing_is_created_without_it(region, api, resident):
    identifier = issue_at_sh(
        api,
        region,
        type_name="不动产权证书",
        org_name="上海市黄浦区行政服务中心",
        holder_id=id_number(SH_ID),
    )
    response = apply_fund(api, resident, node="sh", identifier=identifier, consent=False)
    assert response.status_code == 400 and response.json()["error"]["code"] == "consent_required"
    # someone else's licence, or a made-up one
    response = apply_fund(api, resident, node="sh", identifier=identifier[:-1] + "0")
    assert response.status_code == 400 and response.json()["error"]["code"] == "licence_not_found"
    assert not Case.objects.exists() and not LicenceUse.objects.exists()


def test_a_type_not_recognized_for_the_purpose_is_refused_with_a_clear_message(
    region, api, resident
):
    identifier = issue_at_sh(
        api,
        region,
        type_name="社会保障卡",
        org_name="上海市人力资源和社会保障局",
        holder_id=id_number(SH_ID),
    )
    form = {
        "applicant_name": "陈静",
        "applicant_id_number": id_number(SH_ID),
        "contact_phone": "13801761234",
        "insured_region": "310000",
        "settle_region": "340100",
        "filing_type": "异地长期居住",
        "start_date": "2026-12-01",
    }
    body = {
        "item": MEDICAL,
        "form": form,
        "materials": materials_payload(("M01",)),
        "licences": [{"material_code": "M02", "identifier": identifier}],
        "licence_consent": True,
    }
    response = api.login(resident).post(
        "/cases/online", {**body, "organization": org_code(api, MEDICAL, "ah")}
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "licence_not_recognized" and "社会保障卡" in error["message"]
    assert not Case.objects.exists()
    # recognized in Zhejiang: the case goes there with the signed consent
    response = api.post("/cases/online", {**body, "organization": org_code(api, MEDICAL, "zj")})
    assert response.status_code == 201, response.content
    envelope = json.loads(decrypt_at_rest(OutboxMessage.objects.get(type="case.submit").envelope))
    (ref,) = envelope["signed"]["body"]["case"]["licences"]
    consent = ref["consent"]["document"]
    assert consent["licence"] == identifier and consent["requester"]["node"] == "zj"
    assert consent["granted_by"] == {
        "node": "sh",
        "channel": "online",
        "window": None,
        "officer": "",
    }
    assert CaseMaterial.objects.get(material_code="M02").licence_state == "consented"


def consent_from(
    region,
    *,
    signer: str,
    identifier: str,
    holder_id: str,
    case: str,
    requester: str,
    channel: str = "window",
    expires=None,
) -> dict:
    now = timezone.now()
    document = {
        "format": formats.CONSENT_FORMAT,
        "id": f"c-{now.timestamp()}-{signer}-{case}"[:36],
        "licence": identifier,
        "issuer_node": "sh",
        "holder": {"id_type": "111", "id_number": holder_id},
        "case": case,
        "item": {"code": FUND, "name": "异地购房提取住房公积金"},
        "material": {"code": "M02", "name": "不动产权证书或购房合同"},
        "purpose": "government_service",
        "requester": {"node": requester, "organization": "x", "organization_name": "y"},
        "granted_by": {
            "node": signer,
            "channel": channel,
            "window": {"code": WINDOWS.get(signer, "-"), "name": "专窗"},
            "officer": "沈晓燕",
        },
        "granted_at": now.isoformat(),
        "expires_at": (expires or now + dt.timedelta(days=30)).isoformat(),
    }
    return {"document": document, "signature": region.signer(signer)(canonical_json(document))}


def send_fetch(region, client, *, sender: str, consent: dict, identifier: str, case: str, seq=1):
    envelope = region.envelope(
        sender=sender,
        type="licence.fetch",
        correlation=case,
        seq=seq,
        body={"case": case, "material_code": "M02", "identifier": identifier, "consent": consent},
    )
    return client.post(
        "/api/v1/exchange/inbox", json.dumps(envelope), content_type="application/json"
    )


def test_the_issuing_node_serves_a_licence_only_under_valid_consent(region, api, client):
    holder_id = id_number(SH_ID)
    identifier = issue_at_sh(
        api,
        region,
        type_name="不动产权证书",
        org_name="上海市黄浦区行政服务中心",
        holder_id=holder_id,
    )
    good = dict(signer="zj", identifier=identifier, holder_id=holder_id, requester="zj")
    bad = [
        ("requester", consent_from(region, **{**good, "requester": "js"}, case="C1")),
        (
            "holder",
            consent_from(
                region, **{**good, "holder_id": id_number("33042119900307123")}, case="C2"
            ),
        ),
        (
            "expired",
            consent_from(
                region, **good, case="C3", expires=timezone.now() - dt.timedelta(seconds=1)
            ),
        ),
        (
            "online from a node that is not the holder's home",
            consent_from(region, **good, case="C4", channel="online"),
        ),
        ("another case", consent_from(region, **good, case="C-other")),
    ]
    for index, (why, consent) in enumerate(bad):
        case = f"C{index + 1}" if why != "another case" else "C5"
        response = send_fetch(
            region, client, sender="zj", consent=consent, identifier=identifier, case=case
        )
        assert response.status_code == 409, why
        assert response.json()["signed"]["code"] == "consent_invalid", why
    # a window consent naming a window that is not the signing node's
    consent = consent_from(region, **good, case="C8")
    consent["document"]["granted_by"]["window"] = {"code": "sh-310101-01", "name": "黄浦"}
    consent["signature"] = region.signer("zj")(canonical_json(consent["document"]))
    response = send_fetch(
        region, client, sender="zj", consent=consent, identifier=identifier, case="C8"
    )
    assert response.json()["signed"]["code"] == "consent_invalid"
    forged = consent_from(region, **good, case="C6")
    forged["document"]["holder"]["id_number"] = holder_id  # unchanged, but re-signed by ah:
    forged["signature"] = region.signer("ah")(canonical_json(forged["document"]))
    response = send_fetch(
        region, client, sender="zj", consent=forged, identifier=identifier, case="C6"
    )
    assert response.json()["signed"]["code"] == "consent_invalid"
    assert not LicenceUse.objects.exists()
    assert not OutboxMessage.objects.filter(type="licence.deliver").exists()

    consent = consent_from(region, **good, case="C7")
    response = send_fetch(
        region, client, sender="zj", consent=consent, identifier=identifier, case="C7"
    )
    assert response.status_code == 200, response.content
    delivery = json.loads(
        decrypt_at_rest(OutboxMessage.objects.get(type="licence.deliver").envelope)
    )
    body = delivery["signed"]["body"]
    assert body["identifier"] == identifier and body["status"] == "valid"
    assert LicenceUse.objects.get().case_number == "C7"
    # the same consent cannot be used twice
    again = send_fetch(
        region, client, sender="zj", consent=consent, identifier=identifier, case="C7", seq=2
    )
    assert again.json()["signed"]["code"] == "consent_invalid"


def test_the_issuing_node_refuses_a_type_not_recognized_by_the_requester(region, api, client):
    holder_id = id_number(SH_ID)
    identifier = issue_at_sh(
        api,
        region,
        type_name="社会保障卡",
        org_name="上海市人力资源和社会保障局",
        holder_id=holder_id,
    )
    consent = consent_from(
        region, signer="ah", identifier=identifier, holder_id=holder_id, case="A1", requester="ah"
    )
    response = send_fetch(
        region, client, sender="ah", consent=consent, identifier=identifier, case="A1"
    )
    assert response.status_code == 409 and response.json()["signed"]["code"] == "not_recognized"
    assert not LicenceUse.objects.exists()


def test_the_handling_node_verifies_what_the_issuer_delivers(region, api, client, resident):
    """A case from zj's window uses a 驾驶证 issued by zj; zj delivers it to sh."""
    holder_id = id_number(SH_ID)
    issued = peer_licence(region, holder_id=holder_id)
    case_number = "33CASE-LICENCE-1"
    from tongban.cases.models import Case as CaseModel

    envelope = region.case_submit_envelope(number=case_number, applicant_id=holder_id)
    assert (
        client.post(
            "/api/v1/exchange/inbox", json.dumps(envelope), content_type="application/json"
        ).status_code
        == 200
    )
    case = CaseModel.objects.get(number=case_number)
    # a licence-backed material waiting for the issuer (as the case.submit handler records it)
    from tongban.cases.services import licence_material_create

    ref = {
        "identifier": issued["identifier"],
        "type_name": "机动车驾驶证",
        "issuer_node": "zj",
        "consent": {},
    }
    licence_material_create(
        case, material_code="M09", name="驾驶证", ref=ref, state="requested", at=timezone.now()
    )

    def deliver(disclosures, seq):
        env = region.envelope(
            sender="zj",
            type="licence.deliver",
            correlation=case_number,
            seq=seq,
            body={
                "case": case_number,
                "material_code": "M09",
                "identifier": issued["identifier"],
                "licence": issued["licence"],
                "disclosures": disclosures,
                "status": "valid",
                "status_changed_at": timezone.now().isoformat(),
                "consent_id": "x",
            },
        )
        return client.post(
            "/api/v1/exchange/inbox", json.dumps(env), content_type="application/json"
        )

    tampered = list(issued["disclosures"])
    tampered[2] = formats.disclosure_make("licence_number", "000")
    assert deliver(tampered, 2).status_code == 200
    row = CaseMaterial.objects.get(material_code="M09")
    assert row.licence_state == "invalid" and "tampered" in row.licence_note
    row.licence_state = "requested"
    row.save()
    assert deliver(issued["disclosures"], 3).status_code == 200
    row.refresh_from_db()
    assert row.licence_state == "verified", row.licence_note
    assert LicenceType.objects.get(name="机动车驾驶证").code == DRIVING
    assert InboxMessage.objects.filter(type="licence.deliver").count() == 2
    # a wallet delivery for this holder works too (the same licence, via licence.issued)
    assert deliver_to_wallet(region, client, issued, holder_id).status_code == 200
