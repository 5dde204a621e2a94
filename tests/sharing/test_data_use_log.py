"""我的数据使用记录 (docs/data-sharing.md §6): uses reported into the audit log and to the
person's home node, the person's pages and API, flags to the data officer."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from django.utils import timezone

from tests.factories import id_number
from tongban.audit.models import AuditLeaf
from tongban.exchange.models import OutboxMessage
from tongban.gm.canonical import canonical_json
from tongban.identity.pii import blind_index, decrypt_at_rest
from tongban.sharing.data_use import data_use_report, subject_digest
from tongban.sharing.models import DataUseRecord

pytestmark = pytest.mark.django_db

SH_ID = id_number("31011519850412002")
ZJ_ID = id_number("33042119900307123")


def report(subject: str, **kw) -> str:
    values = {
        "kind": "data_query",
        "subject_id_number": subject,
        "used_at": timezone.now(),
        "user_node": "sh",
        "user_organization_code": "11310000002421386D",
        "user_organization_name": "上海市不动产登记局",
        "dataset_code": "js.marriage",
        "dataset_name": "婚姻登记信息",
        "fields": ["婚姻状况", "配偶姓名"],
        "case_number": "SH2026120100001",
        "item_name": "异地购房提取住房公积金",
        "purpose": "核验购房提取条件",
        "legal_basis": "《住房公积金管理条例》第二十四条",
    }
    values.update(kw)
    return data_use_report(**values)


def test_a_local_use_is_a_leaf_without_the_id_number_and_a_record(region):
    use_id = report(SH_ID)
    leaf = AuditLeaf.objects.get(kind="data_use")
    assert SH_ID.encode() not in bytes(leaf.entry)
    entry = json.loads(bytes(leaf.entry))
    assert entry["subject"] == subject_digest(use_id=use_id, id_number=SH_ID)
    assert entry["purpose"] == "核验购房提取条件" and entry["use_id"] == use_id
    record = DataUseRecord.objects.get(use_id=use_id)
    assert record.person_index == blind_index(SH_ID)
    assert record.audit_index == leaf.index and bytes(record.audit_entry) == bytes(leaf.entry)
    assert not OutboxMessage.objects.filter(type="data.use").exists()


def test_a_use_of_another_provinces_resident_goes_to_the_home_node(region):
    use_id = report(ZJ_ID)
    assert not DataUseRecord.objects.exists()
    message = OutboxMessage.objects.get(type="data.use")
    assert message.recipient == "zj"
    body = json.loads(decrypt_at_rest(message.envelope))["signed"]["body"]
    leaf = AuditLeaf.objects.get(kind="data_use")
    assert body["audit"]["index"] == leaf.index
    assert base64.b64decode(body["audit"]["entry"]) == bytes(leaf.entry)
    assert body["use"]["use_id"] == use_id and body["subject"]["id_number"] == ZJ_ID
    assert canonical_json(json.loads(bytes(leaf.entry))) == bytes(leaf.entry)


def test_a_person_outside_the_region_gets_a_leaf_and_nothing_else(region):
    report(id_number("11010519491231002"))
    assert AuditLeaf.objects.filter(kind="data_use").count() == 1
    assert not DataUseRecord.objects.exists() and not OutboxMessage.objects.exists()


def test_a_use_without_purpose_is_a_programming_error(region):
    with pytest.raises(ValueError):
        report(SH_ID, purpose=" ")
    with pytest.raises(ValueError):
        report(SH_ID, kind="gossip")
    assert not AuditLeaf.objects.exists()


# --- the person's log: API and pages --------------------------------------------------------


@pytest.fixture
def people(region):
    from tests.factories import user_with
    from tongban.identity.services import person_upsert

    me = person_upsert(name="李娜", id_number=SH_ID, phone="13900001111", home_node="sh")
    other_id = id_number("31011519900101003")
    other = person_upsert(name="王强", id_number=other_id, phone="13900002222", home_node="sh")
    users = {
        "me": user_with("me", person=me, assurance="L3"),
        "other": user_with("other", person=other, assurance="L3"),
        "unproven": user_with(
            "unproven",
            person=person_upsert(
                name="赵敏", id_number=id_number("31011519920202004"), home_node="sh"
            ),
        ),
        "officer": user_with(
            "officer", role="data_officer", organization=region.org("上海市青浦区市场监督管理局")
        ),
        "other_officer": user_with(
            "other_officer",
            role="data_officer",
            organization=region.org("上海市松江区市场监督管理局"),
        ),
    }
    users["other_id"] = other_id
    return users


def _qingpu(region) -> dict:
    org = region.org("上海市青浦区市场监督管理局")
    return {"user_organization_code": org.code, "user_organization_name": org.name}


def test_the_api_lists_only_the_persons_own_uses_with_filters(region, people, api):
    old = report(SH_ID, used_at=timezone.now() - dt.timedelta(days=40), kind="licence_fetch")
    new = report(SH_ID, **_qingpu(region))
    report(people["other_id"])
    r = api.login(people["me"]).get("/me/data-uses")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["count"] == 2 and [u["use_id"] for u in body["results"]] == [new, old]
    assert body["results"][0]["purpose"] == "核验购房提取条件"
    assert body["results"][0]["proof"]["state"] == "pending"
    only = api.get("/me/data-uses", kind="licence_fetch").json()
    assert [u["use_id"] for u in only["results"]] == [old]
    recent = api.get("/me/data-uses", **{"from": str(timezone.localdate())}).json()
    assert [u["use_id"] for u in recent["results"]] == [new]
    by_org = api.get("/me/data-uses", organization="青浦").json()
    assert [u["use_id"] for u in by_org["results"]] == [new]
    bad = api.get("/me/data-uses", **{"from": "2026-13-01", "to": "x", "kind": "gossip"})
    assert bad.status_code == 400
    assert set(bad.json()["error"]["details"]["fields"]) == {"from", "to", "kind"}
    assert api.login(people["unproven"]).get("/me/data-uses").json()["count"] == 0
    assert api.login(people["officer"]).get("/me/data-uses").status_code == 403


def test_flag_goes_to_the_officer_who_answers_and_the_person_sees_it(region, people, api):
    from tongban.notices.models import Notice
    from tongban.sharing.models import DataUseFlag

    use_id = report(SH_ID, **_qingpu(region))
    other_use = report(people["other_id"], **_qingpu(region))
    me = api.login(people["me"])
    # bad input: localized, nothing changed
    r = me.post(f"/me/data-uses/{use_id}/flag", {"reason": "   "})
    assert r.status_code == 400 and r.json()["error"]["details"]["fields"]["reason"]
    assert not DataUseFlag.objects.exists()
    assert me.post(f"/me/data-uses/{other_use}/flag", {"reason": "x"}).status_code == 404
    r = me.post(f"/me/data-uses/{use_id}/flag", {"reason": "我没有办理过这项业务"})
    assert r.status_code == 200, r.content
    assert r.json()["flag"] == "open" and r.json()["flag_deadline"]
    assert me.post(f"/me/data-uses/{use_id}/flag", {"reason": "again"}).status_code == 409
    flag = DataUseFlag.objects.get()
    assert flag.deadline == DataUseRecord.objects.get(use_id=use_id).flag_deadline
    assert (flag.deadline - timezone.localdate()).days >= 19  # 15 working days
    # only the using organization's officer sees it
    assert api.login(people["other_officer"]).get("/data-officer/flags").json()["count"] == 0
    r = api.post(f"/data-officer/flags/{flag.flag_id}/answer", {"answer": "已核实"})
    assert r.status_code == 404
    officer = api.login(people["officer"])
    listed = officer.get("/data-officer/flags", status="open").json()
    assert [f["flag_id"] for f in listed["results"]] == [flag.flag_id]
    assert listed["results"][0]["overdue"] is False
    r = officer.post(f"/data-officer/flags/{flag.flag_id}/answer", {"answer": ""})
    assert r.status_code == 400 and "answer" in r.json()["error"]["details"]["fields"]
    r = officer.post(
        f"/data-officer/flags/{flag.flag_id}/answer", {"answer": "系您委托的经办人申请"}
    )
    assert r.status_code == 200 and r.json()["status"] == "answered"
    record = DataUseRecord.objects.get(use_id=use_id)
    assert record.flag == "answered" and record.flag_answer == "系您委托的经办人申请"
    assert Notice.objects.filter(recipient_index=blind_index(SH_ID)).exists()
    assert (
        api.login(people["me"])
        .post(f"/data-officer/flags/{flag.flag_id}/answer", {"answer": "x"})
        .status_code
        == 403
    )


def test_pages_list_filter_flag_and_export(region, people, client):
    import io

    from pypdf import PdfReader

    use_id = report(SH_ID, **_qingpu(region))
    report(SH_ID, kind="licence_fetch", used_at=timezone.now() - dt.timedelta(days=3))
    report(people["other_id"], purpose="他人的用途")
    client.force_login(people["me"])
    page = client.get("/me/data-use/")
    text = page.content.decode()
    assert page.status_code == 200 and "核验购房提取条件" in text and "他人的用途" not in text
    assert "待收录" in text and "提出异议" in text
    page = client.get("/me/data-use/", {"kind": "licence_fetch", "organization": "不动产"})
    text = page.content.decode()
    assert text.count('class="card data-use"') == 1
    assert 'value="不动产"' in text and 'value="licence_fetch" selected' in text
    bad = client.get("/me/data-use/", {"from": "2026-12-09", "to": "2026-12-01", "kind": "x"})
    assert bad.status_code == 400
    assert "截止日期不能早于起始日期" in bad.content.decode()
    assert "未知的使用方式" in bad.content.decode()
    csv_r = client.get("/me/data-use/export.csv", {"kind": "data_query"})
    assert csv_r.status_code == 200 and csv_r["Content-Type"].startswith("text/csv")
    lines = csv_r.content.decode("utf-8-sig").strip().splitlines()
    assert (
        len(lines) == 2 and "核验购房提取条件" in lines[1] and "他人" not in csv_r.content.decode()
    )
    pdf_r = client.get("/me/data-use/export.pdf")
    assert pdf_r.status_code == 200 and pdf_r.content.startswith(b"%PDF")
    pdf_text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf_r.content)).pages)
    assert "核验购房提取条件" in pdf_text and "婚姻登记信息" in pdf_text
    record = DataUseRecord.objects.get(use_id=use_id)
    # an empty reason: the page again with the error, nothing changed
    r = client.post(f"/me/data-use/{use_id}/flag/", {f"u{record.pk}-reason": ""})
    assert r.status_code == 400 and "请填写异议理由" in r.content.decode()
    assert DataUseRecord.objects.get(use_id=use_id).flag == ""
    r = client.post(f"/me/data-use/{use_id}/flag/", {f"u{record.pk}-reason": "不认识这个部门"})
    assert r.status_code == 302
    assert DataUseRecord.objects.get(use_id=use_id).flag == "open"
    # the officer's page: the flag, then answered
    client.force_login(people["officer"])
    page = client.get("/data-officer/")
    assert page.status_code == 200 and "不认识这个部门" in page.content.decode()
    from tongban.sharing.models import DataUseFlag

    flag = DataUseFlag.objects.get()
    r = client.post(f"/data-officer/flags/{flag.flag_id}/answer/", {f"f{flag.pk}-answer": ""})
    assert r.status_code == 400 and "请填写答复" in r.content.decode()
    r = client.post(
        f"/data-officer/flags/{flag.flag_id}/answer/", {f"f{flag.pk}-answer": "依法核验"}
    )
    assert r.status_code == 302
    client.force_login(people["me"])
    assert "依法核验" in client.get("/me/data-use/").content.decode()
    client.force_login(people["other"])
    assert client.post(f"/me/data-use/{use_id}/flag/", {"x": "y"}).status_code == 404


def test_a_recorded_use_gets_an_inclusion_proof_that_verifies(region, people, settings, tmp_path):
    from django.core.management import call_command

    from tongban.sharing.data_use import data_use_proofs_collect, proof_verify
    from tongban.sharing.data_use_selectors import proof_state

    use_id = report(SH_ID)
    record = DataUseRecord.objects.get(use_id=use_id)
    assert data_use_proofs_collect() == 0  # no checkpoint yet
    report(SH_ID)
    call_command("audit", "checkpoint")
    assert data_use_proofs_collect() == 2
    record.refresh_from_db()
    assert record.proof["size"] == 2 and proof_verify(record)
    assert proof_state(record)["state"] == "included"
    assert record.proof["witnesses"] == []
    # once the reporting node serves a cosigned checkpoint, the proof is taken again
    from tongban.audit.models import AuditCheckpoint
    from tongban.audit.witness import cosignature_line

    checkpoint = AuditCheckpoint.objects.order_by("-id").first()
    text = checkpoint.note.partition("\n\n")[0] + "\n"
    checkpoint.cosigned_note = checkpoint.note + cosignature_line(text=text)
    checkpoint.save(update_fields=["cosigned_note"])
    assert data_use_proofs_collect() == 0  # not yet: proofs are taken again after a while
    DataUseRecord.objects.update(proof_checked_at=timezone.now() - dt.timedelta(minutes=10))
    assert data_use_proofs_collect() == 2
    record.refresh_from_db()
    assert record.proof["witnesses"] == ["sh"] and proof_verify(record)
    assert "/witness " in record.proof["checkpoint"]
    # a rewritten entry no longer verifies against the stored proof
    record.audit_entry = bytes(record.audit_entry).replace(b"\xe6\xa0\xb8", b"\xe6\xa0\xb9")
    assert not proof_verify(record)


def test_a_data_use_envelope_is_checked_and_stored_once(region):
    from tongban.exchange.services import inbox_receive
    from tongban.sharing.data_use import use_entry

    use = {
        "use_id": "0192a4c0-0000-7000-8000-000000000001",
        "kind": "data_query",
        "used_at": "2026-12-01T08:00:00.000Z",
        "user_node": "zj",
        "user_organization_code": "",
        "user_organization_name": "杭州住房公积金管理中心",
        "dataset_code": "zj.housing_fund",
        "dataset_name": "住房公积金缴存信息",
        "fields": ["缴存状态"],
        "case_number": "",
        "item_name": "",
        "purpose": "核验缴存",
        "legal_basis": "",
        "consent_id": "c-1",
    }
    entry = canonical_json(
        use_entry(
            use=use,
            subject=subject_digest(use_id=use["use_id"], id_number=SH_ID),
            reporter_node="zj",
        )
    )
    body = {
        "use": use,
        "subject": {"id_type": "111", "id_number": SH_ID},
        "audit": {"index": 7, "entry": base64.b64encode(entry).decode()},
    }
    corr = f"data-use-{use['use_id']}"
    forged = dict(body, use=dict(use, purpose="另一个目的"))
    r = inbox_receive(
        envelope=region.envelope(type="data.use", correlation=corr, seq=1, body=forged)
    )
    assert r.body["signed"]["status"] == "refused"
    assert not DataUseRecord.objects.exists()
    r = inbox_receive(envelope=region.envelope(type="data.use", correlation=corr, seq=2, body=body))
    assert r.body["signed"]["status"] == "accepted", r.body
    record = DataUseRecord.objects.get()
    assert record.reporter_node == "zj" and record.audit_index == 7
    assert record.person_index == blind_index(SH_ID)


def test_a_licence_served_to_another_nodes_case_is_a_use_with_the_consent(region, api, client):
    from tests.api.test_licence_use_api import consent_from, issue_at_sh, send_fetch
    from tongban.licences.models import LicenceUse

    holder_id = id_number("31010419850612001")
    identifier = issue_at_sh(
        api,
        region,
        type_name="不动产权证书",
        org_name="上海市黄浦区行政服务中心",
        holder_id=holder_id,
    )
    consent = consent_from(
        region, signer="zj", identifier=identifier, holder_id=holder_id, requester="zj", case="C7"
    )
    r = send_fetch(region, client, sender="zj", consent=consent, identifier=identifier, case="C7")
    assert r.status_code == 200, r.content
    use = LicenceUse.objects.get()  # the wallet's 用证记录 is kept as before
    record = DataUseRecord.objects.get(kind="licence_fetch")
    assert record.person_index == blind_index(holder_id)
    assert record.user_node == "zj" and record.case_number == "C7"
    assert record.consent_id == use.consent_id and record.dataset_name == "不动产权证书"
    assert record.purpose and "持证人" in record.fields
    leaf = AuditLeaf.objects.get(index=record.audit_index)
    assert leaf.kind == "data_use" and holder_id.encode() not in bytes(leaf.entry)


def test_verifying_a_presentation_is_a_use_once_per_code(region, api, client):
    from tests.api.test_licences_api import SH_ID as HOLDER_PREFIX
    from tests.api.test_licences_api import issue, show
    from tests.factories import user_with
    from tongban.identity.services import person_upsert

    holder_id = id_number(HOLDER_PREFIX)
    holder = user_with(
        "chenjing",
        person=person_upsert(name="陈静", id_number=holder_id, home_node="sh"),
        assurance="L3",
    )
    police = user_with("police.official", role="official", organization=region.org("上海市公安局"))
    identifier = issue(api, police, region)["identifier"]
    text = show(api, holder, identifier)
    api.headers = {}
    assert api.post("/licences/verifications", {"qr_text": text}).status_code == 200
    assert api.post("/licences/verifications", {"qr_text": text}).status_code == 200
    record = DataUseRecord.objects.get(kind="licence_verification")
    assert record.person_index == blind_index(holder_id)
    assert record.user_organization_name.endswith("公众核验") and record.purpose
    assert record.fields and "身份证" not in "".join(record.fields)
    entry = json.loads(bytes(AuditLeaf.objects.get(index=record.audit_index).entry))
    assert entry["subject_by"] == "licence" and holder_id not in json.dumps(entry)
    # a staff member verifying on the page: their organization is the user
    client.force_login(police)
    text = show(api, holder, identifier)
    r = client.post("/verify/", {"qr_text": text})
    assert r.status_code == 200
    uses = DataUseRecord.objects.filter(kind="licence_verification").order_by("-used_at")
    assert uses.count() == 2 and uses[0].user_organization_name == "上海市公安局"


def test_the_pages_speak_english_when_asked(region, people, client):
    import re

    report(SH_ID, **_qingpu(region))
    client.cookies["tongban_language"] = "en"
    client.force_login(people["me"])
    text = client.get("/me/data-use/").content.decode()
    assert "My data-use log" in text and "Export CSV" in text and "Object" in text
    client.force_login(people["officer"])
    text = client.get("/data-officer/").content.decode()
    assert "Data-use objections" in text and "No objection awaits an answer." in text
    assert not re.search(r">[^<]*(答复|异议|数据使用)[^<]*<", text)
