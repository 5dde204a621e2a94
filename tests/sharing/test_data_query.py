"""Purpose-bound data queries (data.query → data.answer, docs/data-sharing.md §5): the
asking node refuses what its catalog does not authorize, the source answers only the
authorized fields in a signed record and records the use, the asker verifies it.

In-process the node is sh: sh's datasets are answered locally through the same code,
other nodes' are asked over the exchange (their envelopes signed with their real keys)."""

from __future__ import annotations

import json

import pytest

from tests.factories import QINGPU_AMR, id_number, materials_payload, user_with
from tests.pages.test_identity_pages import application, outbox, resident, sign_in, texts
from tongban.audit.models import AuditLeaf
from tongban.exchange.models import InboxMessage, OutboxMessage
from tongban.exchange.services import inbox_receive
from tongban.gm import sm2
from tongban.gm.canonical import canonical_json
from tongban.identity.pii import decrypt_at_rest
from tongban.identity.services import person_upsert
from tongban.sharing import query as dq
from tongban.sharing.consent import data_consent_sign
from tongban.sharing.models import DataQuery
from tongban.sharing.providers import sample_record_put
from tongban.sharing.selectors import SharingRefused
from tongban.sharing.services import SEED_FILE, sharing_catalog_store

__all__ = ["outbox"]
FUND = "000530001000"  # 异地购房提取住房公积金
SH_FUND = "11310000956166603H"  # 上海市公积金管理中心 (sh)
HZ_FUND = "11330100719311328D"  # 杭州住房公积金管理中心 (zj)
PURPOSE = "核验购房提取条件"
PERSON_ID = id_number("33042119900307123")
ESTATE = {
    "has_property": True,
    "property_address": "上海市青浦区示例苑1号楼101室（示例）",
    "certificate_number": "沪（2026）青字不动产权第1000001号（示例）",
    "area_m2": "89.50",
    "registered_on": "2026-10-18",
}


def catalog_with(*extra: dict) -> dict:
    section = json.loads(SEED_FILE.read_text(encoding="utf-8"))
    section["authorizations"] += list(extra)
    return section


def authorization(dataset: str, organization: str, fields: list[str], **kw) -> dict:
    return {
        "dataset": dataset,
        "item": FUND,
        "organization": organization,
        "fields": fields,
        "purpose": kw.get("purpose", PURPOSE),
        "legal_basis": kw.get("legal_basis", "《住房公积金管理条例》第二十四条"),
        "consent_required": kw.get("consent_required", False),
        "sample": True,
    }


@pytest.fixture
def sharing(region):
    """The shipped sample catalog plus authorizations for sh's and zj's 公积金中心, and
    the person's sample row in sh's 不动产登记信息."""
    sharing_catalog_store(
        section=catalog_with(
            authorization("sh.real_estate", SH_FUND, ["has_property", "property_address"]),
            authorization("js.marriage", SH_FUND, ["marital_status", "spouse_name"]),
            authorization(
                "sh.household",
                SH_FUND,
                ["name", "address"],
                purpose="核验户籍信息",
                legal_basis="",
                consent_required=True,
            ),
            authorization("sh.real_estate", HZ_FUND, ["has_property", "property_address"]),
        )
    )
    person_upsert(name="张伟", id_number=PERSON_ID, home_node="zj")
    subject = {"id_type": "111", "id_number": PERSON_ID}
    sample_record_put(dataset_code="sh.real_estate", subject=subject, data=ESTATE)
    sample_record_put(
        dataset_code="sh.household",
        subject=subject,
        data={"name": "张伟", "address": "上海市青浦区示例路1号（示例）", "gender": "男"},
    )
    return region


def subject() -> dict:
    return {"id_type": "111", "id_number": PERSON_ID}


def send(**kw):
    args = {
        "dataset_code": "sh.real_estate",
        "subject": subject(),
        "fields": ["has_property", "property_address"],
        "purpose": PURPOSE,
        "item_code": FUND,
        "organization_code": SH_FUND,
        "case_number": "TEST-CASE-1",
    }
    return dq.data_query_send(**{**args, **kw})


def verifies(answer: dict, public_key: str) -> bool:
    return sm2.verify_b64(
        public_key, canonical_json(answer["record"]), answer["signature"]["value"]
    )


def sh_public_key() -> str:
    from tongban.directory.models import LocalSigningKey

    return LocalSigningKey.objects.get(active=True).public_key


# --- asked and answered here --------------------------------------------------------------


def test_a_local_dataset_is_answered_with_only_the_authorized_fields_signed(sharing):
    leaves = AuditLeaf.objects.filter(kind="data_use").count()
    query = send()
    query.refresh_from_db()
    assert query.status == "answered" and query.answered_at is not None
    answer = dq.data_query_answer_of(query)
    record = answer["record"]
    assert record["found"] is True and record["source"]["node"] == "sh"
    assert {f["key"]: f["value"] for f in record["fields"]} == {
        "has_property": True,
        "property_address": ESTATE["property_address"],
    }
    assert "certificate_number" not in json.dumps(answer, ensure_ascii=False)
    assert record["legal_basis"] and record["purpose"] == PURPOSE
    assert verifies(answer, sh_public_key())
    # stored encrypted; the use is in this node's audit log without the 身份证号
    assert PERSON_ID not in query.subject_encrypted + query.answer_encrypted
    assert AuditLeaf.objects.filter(kind="data_use").count() > leaves
    entries = b"".join(bytes(e) for e in AuditLeaf.objects.values_list("entry", flat=True))
    assert PERSON_ID.encode() not in entries
    assert b"data.query" in entries


def test_a_subject_not_in_the_dataset_is_not_found(sharing):
    query = send(subject={"id_type": "111", "id_number": id_number("31010119800101001")})
    query.refresh_from_db()
    assert query.status == "not_found"
    assert dq.data_query_answer_of(query)["record"]["fields"] == []


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"fields": ["has_property", "certificate_number"]}, "fields_not_authorized"),
        ({"purpose": "随便看看"}, "purpose_mismatch"),
        ({"item_code": "000301001000"}, "item_not_authorized"),
        ({"dataset_code": "sh.nothing"}, "unknown_dataset"),
    ],
)
def test_what_the_catalog_does_not_authorize_is_refused_at_once(sharing, change, code):
    with pytest.raises(SharingRefused) as refused:
        send(**change)
    assert refused.value.code == code and refused.value.status == 403
    if code == "fields_not_authorized":
        assert refused.value.details["fields"] == ["certificate_number"]
    assert not DataQuery.objects.exists()
    assert not OutboxMessage.objects.filter(type="data.query").exists()


def test_a_consent_required_dataset_needs_the_persons_consent(sharing):
    ask = {"dataset_code": "sh.household", "fields": ["name", "address"], "purpose": "核验户籍信息"}
    with pytest.raises(SharingRefused) as refused:
        send(**ask)
    assert refused.value.code == "consent_required"
    assert not DataQuery.objects.exists()

    def consent(**kw):
        return data_consent_sign(
            case_number=kw.get("case_number", "TEST-CASE-1"),
            dataset="sh.household",
            fields=["name", "address"],
            purpose="核验户籍信息",
            item={"code": FUND, "name": "异地购房提取住房公积金"},
            requester={"node": "sh", "organization": SH_FUND, "organization_name": "公积金"},
            subject=subject(),
            channel="online",
        )

    with pytest.raises(SharingRefused) as refused:
        send(**ask, consent=consent(case_number="ANOTHER-CASE"))
    assert refused.value.code == "consent_invalid"
    given = consent()
    query = send(**ask, consent=given)
    query.refresh_from_db()
    assert query.status == "answered" and query.consent_id == given["document"]["id"]
    assert dq.data_query_answer_of(query)["record"]["consent_id"] == query.consent_id
    with pytest.raises(SharingRefused) as refused:  # a consent answers one query
        send(**ask, consent=given)
    assert refused.value.code == "consent_invalid"


# --- asked of another node ------------------------------------------------------------------


def test_a_query_to_another_node_goes_out_and_its_signed_answer_is_recorded(sharing):
    official = user_with(
        "fund.official", role="official", organization=sharing.org("上海市公积金管理中心")
    )
    query = send(
        dataset_code="js.marriage",
        fields=["marital_status", "spouse_name"],
        requested_by=official,
    )
    assert query.status == "pending" and query.source_node == "js"
    message = OutboxMessage.objects.get(type="data.query", recipient="js")
    signed = json.loads(decrypt_at_rest(message.envelope))["signed"]
    assert signed["body"]["query_id"] == query.query_id
    assert signed["body"]["subject"] == subject()
    assert PERSON_ID not in json.dumps(signed["subject"]) + json.dumps(signed["purpose"])

    record = {
        "format": dq.ANSWER_FORMAT,
        "query_id": query.query_id,
        "dataset": "js.marriage",
        "dataset_name": "婚姻登记信息",
        "sample": True,
        "source": {"node": "js", "organization": "11320509640048643Q", "organization_name": "x"},
        "requester": {"node": "sh", "organization": SH_FUND},
        "item": FUND,
        "case": "TEST-CASE-1",
        "purpose": PURPOSE,
        "legal_basis": "《住房公积金管理条例》第二十四条",
        "consent_id": "",
        "subject_sm3": dq.subject_digest(subject()),
        "found": True,
        "fields": [
            {"key": "marital_status", "label": "婚姻状况", "value": "已婚"},
            {"key": "spouse_name", "label": "配偶姓名", "value": "王建国"},
        ],
        "answered_at": "2026-12-01T10:00:00.000Z",
    }

    def answer(record):
        signature = sharing.signer("js")(canonical_json(record))
        envelope = sharing.envelope(
            sender="js",
            type="data.answer",
            correlation=record["query_id"],
            seq=1,
            body={"query_id": record["query_id"], "record": record, "signature": signature},
        )
        return inbox_receive(envelope=envelope)

    # an answer carrying a field that was not asked for is not trusted
    extra = {"key": "spouse_id_number", "label": "配偶身份号码", "value": "x"}
    result = answer({**record, "fields": [*record["fields"], extra]})
    assert result.body["signed"]["status"] == "accepted"
    query.refresh_from_db()
    assert query.status == "failed" and query.refusal_code == "answer_invalid"

    query = send(dataset_code="js.marriage", fields=["marital_status", "spouse_name"])
    result = answer({**record, "query_id": query.query_id})
    assert result.body["signed"]["status"] == "accepted", result.body
    query.refresh_from_db()
    assert query.status == "answered"
    stored = dq.data_query_answer_of(query)
    assert stored["record"]["fields"][0]["value"] == "已婚"


def test_a_refusal_by_the_source_settles_the_query_with_its_code(sharing):
    from tongban.exchange.handlers import run_delivery_hooks

    query = send(dataset_code="js.marriage", fields=["marital_status", "spouse_name"])
    message = OutboxMessage.objects.get(type="data.query")
    run_delivery_hooks(
        message, {"status": "refused", "code": "purpose_mismatch", "message": "目的不符"}
    )
    query.refresh_from_db()
    assert query.status == "refused" and query.refusal_code == "purpose_mismatch"
    assert "目的" in dq.refusal_label(query.refusal_code)


# --- answered here for another node -----------------------------------------------------------


def incoming_query(sharing, *, fields, seq=1, organization=HZ_FUND, purpose=PURPOSE) -> dict:
    body = {
        "query_id": f"q-{seq}",
        "dataset": "sh.real_estate",
        "fields": fields,
        "purpose": purpose,
        "item": FUND,
        "organization": organization,
        "use": "case",
        "case": "ZJ-CASE-1",
        "subject": subject(),
        "consent": None,
        "asked_at": "2026-12-01T10:00:00.000Z",
    }
    return sharing.envelope(
        sender="zj", type="data.query", correlation=f"q-{seq}", seq=1, body=body
    )


def test_the_source_answers_another_node_with_a_signed_record(sharing):
    result = inbox_receive(
        envelope=incoming_query(sharing, fields=["has_property", "property_address"])
    )
    assert result.body["signed"]["status"] == "accepted", result.body
    message = OutboxMessage.objects.get(type="data.answer", recipient="zj")
    body = json.loads(decrypt_at_rest(message.envelope))["signed"]["body"]
    assert body["record"]["requester"] == {"node": "zj", "organization": HZ_FUND}
    assert [f["key"] for f in body["record"]["fields"]] == ["has_property", "property_address"]
    assert verifies(body, sh_public_key())


@pytest.mark.parametrize(
    ("kw", "code"),
    [
        ({"fields": ["has_property", "area_m2"]}, "fields_not_authorized"),
        ({"fields": ["has_property"], "purpose": "别的目的"}, "purpose_mismatch"),
        ({"fields": ["has_property"], "organization": SH_FUND}, "item_not_authorized"),
    ],
)
def test_the_source_refuses_an_unauthorized_query_with_its_code(sharing, kw, code):
    leaves = AuditLeaf.objects.filter(kind="data_use").count()
    result = inbox_receive(envelope=incoming_query(sharing, **kw))
    assert result.http_status == 409
    assert result.body["signed"]["status"] == "refused"
    assert result.body["signed"]["code"] == code
    assert not OutboxMessage.objects.filter(type="data.answer").exists()
    assert AuditLeaf.objects.filter(kind="data_use").count() == leaves
    assert InboxMessage.objects.get(type="data.query").status == "refused"


# --- 数据核验 on a case: automatic at arrival, and by the official (API) -----------------------

SH_ID = id_number("31010419850612001")


@pytest.fixture
def applicant(sharing):
    person = person_upsert(name="陈静", id_number=SH_ID, home_node="sh", phone="13801761234")
    user = user_with("chenjing", person=person, assurance="L3")
    sample_record_put(
        dataset_code="sh.real_estate",
        subject={"id_type": "111", "id_number": SH_ID},
        data=ESTATE,
    )
    sample_record_put(
        dataset_code="sh.household",
        subject={"id_type": "111", "id_number": SH_ID},
        data={"name": "陈静", "address": "上海市青浦区示例路2号（示例）"},
    )
    return user


def apply_fund(api, user, **extra):
    return api.login(user).post(
        "/cases/online",
        {
            "item": FUND,
            "organization": SH_FUND,
            "form": {
                "applicant_name": "陈静",
                "applicant_id_number": SH_ID,
                "contact_phone": "13801761234",
                "house_region": "310118",
                "amount": "120000",
                "bank_account": "6222020000000000001",
            },
            "materials": materials_payload(("M01", "M03")),
            **extra,
        },
    )


def test_a_case_without_the_deed_is_checked_by_itself_and_the_official_sees_it(
    sharing, applicant, api
):
    r = apply_fund(api, applicant, data_consents=["sh.household"])
    assert r.status_code == 201, r.text
    number = r.json()["number"]
    queries = {q.dataset_code: q for q in DataQuery.objects.filter(reference=number)}
    assert set(queries) == {"sh.real_estate", "js.marriage", "sh.household"}
    assert queries["sh.real_estate"].material_code == "M02"
    assert queries["sh.real_estate"].status == "answered"  # sh's own dataset: at once
    assert (
        queries["js.marriage"].status == "pending" and queries["js.marriage"].material_code == "M04"
    )
    assert queries["sh.household"].status == "answered" and queries["sh.household"].consent_id
    assert OutboxMessage.objects.filter(type="data.query", recipient="js").count() == 1

    official = user_with(
        "sh.fund.official", role="official", organization=sharing.org("上海市公积金管理中心")
    )
    body = api.login(official).get(f"/cases/{number}/data-checks").json()
    assert body["can_start"] is True
    checks = {c["dataset"]: c for c in body["checks"]}
    estate = checks["sh.real_estate"]
    assert estate["signature_verified"] is True and estate["source_node"] == "sh"
    assert estate["source_organization_name"] == "上海市不动产登记局"
    assert {f["label"]: f["value"] for f in estate["fields"]} == {
        "是否登记有房产": True,
        "不动产坐落": ESTATE["property_address"],
    } or {f["key"] for f in estate["fields"]} == {"has_property", "property_address"}
    assert {m["material_code"]: m["replaced"] for m in body["materials"]} == {
        "M02": True,
        "M04": False,
    }
    assert {o["dataset"] for o in body["options"]} >= {"sh.real_estate", "js.marriage"}


def test_the_official_starts_a_check_and_an_unauthorized_one_is_refused(sharing, applicant, api):
    number = apply_fund(api, applicant).json()["number"]
    before = DataQuery.objects.count()
    official = user_with(
        "sh.fund.official", role="official", organization=sharing.org("上海市公积金管理中心")
    )
    api.login(official)
    path = f"/cases/{number}/data-checks"
    r = api.post(
        path,
        {"dataset": "sh.real_estate", "fields": ["has_property", "area_m2"], "purpose": PURPOSE},
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "fields_not_authorized"
    assert r.json()["error"]["details"]["fields"] == ["area_m2"]
    r = api.post(
        path, {"dataset": "sh.real_estate", "fields": ["has_property"], "purpose": "了解一下"}
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "purpose_mismatch"
    r = api.post(path, {"dataset": "sh.household", "fields": ["name"], "purpose": "核验户籍信息"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "consent_required"
    assert DataQuery.objects.count() == before
    r = api.post(
        path, {"dataset": "sh.real_estate", "fields": ["has_property"], "purpose": PURPOSE}
    )
    assert r.status_code == 201, r.text
    check = r.json()
    assert check["status"] == "answered" and check["signature_verified"] is True
    assert [f["key"] for f in check["fields"]] == ["has_property"]
    assert check["requested_by"] == "sh.fund.official"


def test_only_staff_handling_the_case_see_or_start_its_checks(sharing, applicant, api):
    number = apply_fund(api, applicant).json()["number"]
    path = f"/cases/{number}/data-checks"
    assert api.login(applicant).get(path).status_code == 404
    other = user_with("amr.official", role="official", organization=sharing.org(QINGPU_AMR))
    assert api.login(other).get(path).status_code == 404
    body = {"dataset": "sh.real_estate", "fields": ["has_property"], "purpose": PURPOSE}
    assert api.login(other).post(path, body).status_code == 404
    assert api.login(applicant).post(path, body).status_code == 404


def test_the_case_page_shows_the_checks_and_starts_one(sharing, applicant, api, client):
    number = apply_fund(api, applicant).json()["number"]
    official = user_with(
        "sh.fund.official", role="official", organization=sharing.org("上海市公积金管理中心")
    )
    client.force_login(official)
    page = client.get(f"/cases/{number}/").content.decode()
    assert "数据核验" in page and "不动产登记信息" in page and "上海市不动产登记局" in page
    assert ESTATE["property_address"] in page and "数源签名已核验" in page
    assert "免交（数据核验）" in page and "查询中" in page  # M04 asked of js, pending
    assert SH_ID not in page
    before = DataQuery.objects.count()
    r = client.post(
        f"/cases/{number}/data-checks/",
        {"dataset": "sh.real_estate", "fields": ["has_property"], "purpose": PURPOSE},
    )
    assert r.status_code == 302 and r["Location"].endswith("#data-checks")
    assert DataQuery.objects.count() == before + 1
    r = client.post(
        f"/cases/{number}/data-checks/",
        {"dataset": "sh.real_estate", "fields": ["area_m2"], "purpose": PURPOSE},
        follow=True,
    )
    assert "未获授权使用字段" in r.content.decode()
    assert DataQuery.objects.count() == before + 1
    # the applicant's own page has no such panel
    client.force_login(applicant)
    assert "发起数据核验" not in client.get(f"/cases/{number}/").content.decode()


def test_the_online_form_lets_a_data_check_replace_the_deed_and_asks_for_consent(
    sharing, client, outbox
):
    from tongban.cases.models import Case

    user = resident("lina", assurance="L3")
    subject = {"id_type": "111", "id_number": user.person.id_number}
    sample_record_put(dataset_code="sh.real_estate", subject=subject, data=ESTATE)
    sample_record_put(
        dataset_code="sh.household", subject=subject, data={"name": "李娜", "address": "示例"}
    )
    sign_in(client, user, outbox)
    page = texts(client.get(f"/apply/{FUND}/"))
    assert "数据共享核验" in page and "我的户籍人口基本信息" in page
    fields = application(FUND, "上海市公积金管理中心")
    fields.pop("m_M02", None)  # 不动产权证书: replaced by the check at this organization
    fields.pop("m_M04", None)  # 婚姻状况证明: likewise (asked of js)
    response = client.post(f"/apply/{FUND}/", {**fields, "dc_sh.household": "on"}, follow=True)
    case = Case.objects.get()
    assert response.redirect_chain[-1][0] == f"/cases/{case.number}/", texts(response)[-2000:]
    checks = {q.dataset_code: q.status for q in DataQuery.objects.filter(reference=case.number)}
    assert checks == {
        "sh.real_estate": "answered",
        "sh.household": "answered",
        "js.marriage": "pending",
    }


# --- the source: consent over the exchange, and a source system that cannot answer ------------


class SourceDown:
    """A provincial system behind the adapter contract that is down (docs/data-sharing.md §4)."""

    def __init__(self, dataset):
        self.dataset = dataset

    def lookup(self, subject, fields):
        from tongban.sharing.providers import ProviderUnavailable

        raise ProviderUnavailable("maintenance")


def zj_consent(sharing, **change) -> dict:
    import datetime as dt

    from django.utils import timezone

    from tongban.exchange.envelopes import iso

    now = timezone.now()
    document = {
        "format": "tongban-data-consent/1",
        "id": change.pop("id", "01a2c0de-0000-7000-8000-000000000001"),
        "case": "ZJ-CASE-1",
        "item": {"code": FUND, "name": "异地购房提取住房公积金"},
        "dataset": "sh.household",
        "fields": ["name", "address"],
        "purpose": "核验户籍信息",
        "requester": {"node": "zj", "organization": HZ_FUND, "organization_name": "杭州"},
        "subject": subject(),
        "granted_by": {"node": "zj", "channel": "online", "window": None, "officer": ""},
        "granted_at": iso(now),
        "expires_at": iso(now + dt.timedelta(days=30)),
        **change,
    }
    return {"document": document, "signature": sharing.signer("zj")(canonical_json(document))}


def household_query(sharing, consent, *, seq=1, correlation=None) -> dict:
    body = {
        "query_id": f"hq-{seq}",
        "dataset": "sh.household",
        "fields": ["name", "address"],
        "purpose": "核验户籍信息",
        "item": FUND,
        "organization": HZ_FUND,
        "use": "case",
        "case": "ZJ-CASE-1",
        "subject": subject(),
        "consent": consent,
        "asked_at": "2026-12-01T10:00:00.000Z",
    }
    correlation = correlation or (consent["document"]["id"] if consent else f"hq-{seq}")
    return sharing.envelope(
        sender="zj", type="data.query", correlation=correlation, seq=seq, body=body
    )


@pytest.fixture
def household_by_consent(sharing):
    sharing_catalog_store(
        section=catalog_with(
            authorization("sh.real_estate", HZ_FUND, ["has_property", "property_address"]),
            authorization(
                "sh.household",
                HZ_FUND,
                ["name", "address"],
                purpose="核验户籍信息",
                legal_basis="",
                consent_required=True,
            ),
        )
    )
    return sharing


def test_the_source_checks_the_consent_and_refuses_it_a_second_time(household_by_consent):
    sharing = household_by_consent

    def code(envelope):
        return inbox_receive(envelope=envelope).body["signed"].get("code") or "accepted"

    assert code(household_query(sharing, None)) == "consent_invalid"
    forged = zj_consent(sharing)
    forged["document"]["fields"] = ["name", "address", "gender"]  # changed after signing
    assert code(household_query(sharing, forged, correlation="c-forged")) == "consent_invalid"
    other = zj_consent(sharing, id="01a2c0de-0000-7000-8000-000000000002", case="ZJ-CASE-2")
    assert code(household_query(sharing, other)) == "consent_invalid"
    consent = zj_consent(sharing)
    assert code(household_query(sharing, consent)) == "accepted"
    answer = OutboxMessage.objects.get(type="data.answer")
    body = json.loads(decrypt_at_rest(answer.envelope))["signed"]["body"]
    assert body["record"]["consent_id"] == consent["document"]["id"]
    assert body["record"]["legal_basis"] == ""
    # the same consent again (the next message of its correlation): used
    assert code(household_query(sharing, consent, seq=2)) == "consent_invalid"
    assert OutboxMessage.objects.filter(type="data.answer").count() == 1


def test_a_source_system_that_cannot_answer_loses_no_query(sharing, settings):
    settings.TONGBAN_SHARING_PROVIDERS = {"sh.real_estate": f"{__name__}.SourceDown"}
    leaves = AuditLeaf.objects.filter(kind="data_use").count()
    from tongban.sharing.providers import ProviderUnavailable

    # over the exchange: nothing recorded, no receipt — the sender delivers it again
    envelope = incoming_query(sharing, fields=["has_property"])
    with pytest.raises(ProviderUnavailable):
        inbox_receive(envelope=envelope)
    assert not InboxMessage.objects.filter(type="data.query").exists()
    assert not OutboxMessage.objects.filter(type="data.answer").exists()
    assert AuditLeaf.objects.filter(kind="data_use").count() == leaves
    # once the system is back, the same envelope is answered
    settings.TONGBAN_SHARING_PROVIDERS = {}
    assert inbox_receive(envelope=envelope).body["signed"]["status"] == "accepted"
    # asked here: settled failed, to be asked again
    settings.TONGBAN_SHARING_PROVIDERS = {"sh.real_estate": f"{__name__}.SourceDown"}
    query = send()
    query.refresh_from_db()
    assert query.status == "failed" and query.refusal_code == "provider_unavailable"


def test_a_case_from_another_node_brings_its_consents_and_is_checked_on_arrival(
    household_by_consent,
):
    """sh (上海市公积金管理中心) decides a case received at zj's window, which carries the
    applicant's consent signed by zj (case.data_consents, exchange §10.2)."""
    from django.utils import timezone

    from tongban.catalog.models import Implementation
    from tongban.exchange.envelopes import Blob

    sharing = household_by_consent
    sharing_catalog_store(
        section=catalog_with(
            authorization("sh.real_estate", SH_FUND, ["has_property", "property_address"]),
            authorization(
                "sh.household",
                SH_FUND,
                ["name", "address"],
                purpose="核验户籍信息",
                legal_basis="",
                consent_required=True,
            ),
        )
    )
    impl = Implementation.objects.get(item__basic_code=FUND, organization_id=SH_FUND)
    number = f"{SH_FUND}1{FUND}20261201ZJ0001"
    consent = zj_consent(
        sharing,
        case=number,
        requester={"node": "sh", "organization": SH_FUND, "organization_name": "上海"},
        granted_by={
            "node": "zj",
            "channel": "window",
            "window": {"code": "zj-330421-01", "name": "嘉善专窗"},
            "officer": "沈晓燕",
        },
    )
    blobs = [
        Blob(content=b"%PDF-1.4\n%%EOF\n" + c.encode(), media_type="application/pdf")
        for c in ("M01", "M03")
    ]
    now = timezone.now().isoformat()
    body = {
        "case": {
            "number": number,
            "item": FUND,
            "implementation_code": impl.code,
            "organization": SH_FUND,
            "channel": "window",
            "window": {"code": "zj-330421-01", "name": "嘉善专窗"},
            "applicant": {"name": "张伟", "id_number": PERSON_ID, "phone": "13905731234"},
            "form": {
                "applicant_name": "张伟",
                "applicant_id_number": PERSON_ID,
                "contact_phone": "13905731234",
                "house_region": "310118",
                "amount": "80000",
                "bank_account": "6222020000000000002",
            },
            "submitted_at": now,
            "actor": {"name": "沈晓燕", "place": "嘉善县专窗", "node": "zj"},
            "materials": [
                {
                    "material_code": c,
                    "name": c,
                    "filename": f"{c}.pdf",
                    "media_type": "application/pdf",
                    "size": len(b.content),
                    "sm3": b.sm3,
                }
                for c, b in zip(("M01", "M03"), blobs, strict=True)
            ],
            "data_consents": [consent],
        }
    }
    subject_ = {
        "subject": {"name": "张伟", "id_type": "111", "id_number": PERSON_ID},
        "assurance": "L3",
        "method": "in_person",
        "authenticated_at": now,
        "authenticated_by": {"node": "zj", "window": {"code": "zj-330421-01"}},
    }
    envelope = sharing.envelope(
        type="case.submit", correlation=number, seq=1, body=body, subject=subject_, blobs=blobs
    )
    result = inbox_receive(envelope=envelope)
    assert result.body["signed"]["status"] == "accepted", result.body
    checks = {q.dataset_code: q for q in DataQuery.objects.filter(reference=number)}
    assert checks["sh.real_estate"].status == "answered"  # M02 left out: checked on arrival
    assert checks["sh.real_estate"].material_code == "M02"
    assert checks["sh.household"].status == "answered"  # with zj's window consent
    assert checks["sh.household"].consent_id == consent["document"]["id"]
    # M04's 婚姻登记信息 is not authorized for this organization here: not asked
    assert set(checks) == {"sh.real_estate", "sh.household"}
