"""Every case step yields a signed document that says what happened (收件凭证, 受理回执,
补正告知书, 不予受理通知书, 不予许可决定书, the declared result, 办结通知书); results draw on
the form, the applicant, the enterprise and what the official confirms; documents travel
between nodes with the case messages and are refused when they do not verify."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from urllib.parse import unquote

import pytest
from django.utils import timezone

from tests.api.test_cases_api import NUMBER, application, clerk, official, received
from tests.factories import PDF, PNG, QINGPU_AMR, id_number, user_with, zj_event
from tongban.cases.models import Case
from tongban.catalog.composition import result_extra_sources
from tongban.catalog.models import Implementation, ServiceItem
from tongban.catalog.results import ResultDeclarationError, result_declaration_clean
from tongban.catalog.services import DATA_DIR
from tongban.documents import formats
from tongban.documents.dates import date_cn, datetime_cn
from tongban.documents.models import IssuedDocument
from tongban.documents.pdf_reading import pdf_printed_text
from tongban.exchange.models import OutboxMessage
from tongban.identity.pii import decrypt_at_rest
from tongban.licences.models import Licence

__all__ = ["clerk", "official"]  # fixtures, used by name

HOUSEHOLD = "000501001000"  # 户籍事项证明
SCOPE_CHANGE = "000302001000"  # 内资有限公司经营范围变更登记
FUND = "000530001000"  # 异地购房提取住房公积金
PLACE = re.compile(r"\s+")


def pdf_text(response) -> str:
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "application/pdf" and response.content.startswith(b"%PDF")
    printed = pdf_printed_text(response.content)
    return PLACE.sub("", "".join(line for page in printed.lines for line in page))


def facts(document: IssuedDocument) -> dict:
    return {f["label"]: f["value"] for f in document.record["facts"]}


def disposition_name(response) -> str:
    header = response["Content-Disposition"]
    match = re.search(r"filename\*=utf-8''([^;]+)", header, re.IGNORECASE)
    assert match, header
    return unquote(match.group(1))


def local_case(region, api, clerk, item_code: str, org_name: str, form: dict) -> Case:
    """A case taken at the sh (青浦) window for an sh organization (decided here)."""
    item = ServiceItem.objects.get(basic_code=item_code)
    org = Implementation.objects.get(item=item, organization__name=org_name).organization
    materials = [
        {
            "material_code": m.code,
            "filename": f"{m.name}.{'pdf' if 'pdf' in m.file_types else 'png'}",
            "content_base64": base64.b64encode(
                PDF + m.code.encode() if "pdf" in m.file_types else PNG
            ).decode(),
        }
        for m in item.materials.all()
        if m.required
    ]
    body = application(region, item=item_code, form=form, materials=materials)
    body["organization"] = org.code
    response = api.login(clerk).post("/cases", body)
    assert response.status_code == 201, response.content
    return Case.objects.get(number=response.json()["number"])


# --- 收件凭证 --------------------------------------------------------------------------


def test_the_window_hands_over_a_receipt_naming_itself_the_materials_and_the_time(
    region, api, clerk
):
    response = api.login(clerk).post("/cases", application(region))
    number = response.json()["number"]
    case = Case.objects.get(number=number)
    (receipt,) = IssuedDocument.objects.filter(case_number=number)
    assert receipt.kind == "intake_receipt" and receipt.is_local
    assert receipt.issuer_name == case.receiving_window.organization.name
    said = facts(receipt)
    window = "青浦区行政服务中心长三角“一网通办”综合服务专窗"
    assert said["收件窗口"] == window and said["收件人员"] == "qingpu.clerk"
    assert said["收件时间"] == f"{datetime_cn(case.submitted_at)}（北京时间）"
    assert re.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日 \d\d:\d\d（北京时间）", said["收件时间"])
    assert said["办理机构"] == "嘉兴市市场监督管理局"
    assert "1. 公司登记（备案）申请书：M01.pdf（" in said["已收材料"] and " B）" in said["已收材料"]
    assert said["已收材料"].count("\n") == 4 and "我的办件" in said["进度查询"]
    assert receipt.record["subject"]["name"] == "李娜"
    assert receipt.record["subject"]["id_masked"].startswith("3102**")
    # the deciding node gets a copy with the application
    envelope = json.loads(decrypt_at_rest(OutboxMessage.objects.get(type="case.submit").envelope))
    (sent,) = envelope["signed"]["body"]["documents"]
    assert sent["record"] == receipt.record and sent["signature"] == receipt.signature
    # listed on the case, printable, with a Chinese file name carrying the case number
    (listed,) = api.get(f"/cases/{number}").json()["documents"]
    assert listed["kind"] == "intake_receipt" and listed["pdf"].endswith("/intake.pdf")
    pdf = api.get(f"/cases/{number}/documents/intake.pdf")
    text = pdf_text(pdf)
    for words in ("收件凭证", window, number, "已收材料", datetime_cn(case.submitted_at)):
        assert PLACE.sub("", words) in text, words
    assert disposition_name(pdf) == f"收件凭证_{number}.pdf"
    ofd = api.get(f"/cases/{number}/documents/intake_receipt.ofd")
    assert ofd.status_code == 200 and ofd.content.startswith(b"PK")
    assert disposition_name(ofd) == f"收件凭证_{number}.ofd"
    # another window's clerk sees neither the case nor its documents
    stranger = user_with("huangpu.clerk", role="clerk", window=region.window("sh-310101-01"))
    assert api.login(stranger).get(f"/cases/{number}/documents/intake.pdf").status_code == 404


# --- the deciding authority's notices -----------------------------------------------------


def test_notices_state_the_reason_and_refusals_say_how_to_appeal(region, api, official):
    supplement, refused, denied = (received(region, api, f"{NUMBER[:-1]}{i}") for i in "123")
    api.login(official)
    api.post(
        f"/cases/{supplement}/request-supplements",
        {"missing": [{"material_code": "M02", "note": "需全体股东签字"}], "note": "请一次补齐"},
    )
    (notice,) = IssuedDocument.objects.filter(case_number=supplement)
    assert notice.kind == "supplement_notice" and notice.issuer_name == QINGPU_AMR
    assert facts(notice)["需补正的材料"] == "1. 公司章程：需全体股东签字"
    assert facts(notice)["收件窗口"] == "嘉善县长三角“一网通办”综合服务专窗"
    assert "一次性告知" in notice.record["body"]

    api.post(f"/cases/{refused}/refuse", {"reason": "企业名称与已登记企业重名"})
    notice, conclusion = IssuedDocument.objects.filter(case_number=refused).order_by("id")
    assert (notice.kind, conclusion.kind) == ("refusal_notice", "conclusion_notice")
    assert facts(notice)["不予受理理由"] == "企业名称与已登记企业重名"
    assert "六十日内向上海市青浦区人民政府申请行政复议" in notice.record["body"]
    assert "六个月内依法向有管辖权的人民法院提起行政诉讼" in notice.record["body"]
    assert facts(conclusion)["办理结论"] == "不予受理"
    assert facts(conclusion)["出具文书"] == "《不予受理通知书》"

    api.post(f"/cases/{denied}/accept", {"note": "材料齐全"})
    api.post(f"/cases/{denied}/deny", {"reason": "经营范围含需前置审批项目"})
    receipt, decision, _conclusion = IssuedDocument.objects.filter(case_number=denied).order_by(
        "id"
    )
    assert receipt.kind == "acceptance_receipt" and facts(receipt)["受理意见"] == "材料齐全"
    assert facts(receipt)["承诺办结期限"].startswith(
        str(Case.objects.get(number=denied).deadline.year)
    )
    assert decision.kind == "denial_decision" and decision.doc_number.startswith(
        "青浦区市场监管局〔"
    )
    text = pdf_text(api.get(f"/cases/{denied}/documents/denial.pdf"))
    for words in ("不予许可决定书", "经营范围含需前置审批项目", "行政复议", "行政诉讼", "张伟"):
        assert words in text, words
    # every step went to the receiving node with its documents
    bodies = [
        json.loads(decrypt_at_rest(m.envelope))["signed"]["body"]
        for m in OutboxMessage.objects.filter(type="case.event", correlation=denied).order_by("seq")
    ]
    kinds = [[d["record"]["kind"] for d in b.get("documents", [])] for b in bodies]
    assert kinds == [[], ["acceptance_receipt"], ["denial_decision", "conclusion_notice"]]


# --- results -------------------------------------------------------------------------------


def test_establishment_issues_the_business_licence_with_every_face_field(region, api, official):
    received(region, api)
    api.login(official).post(f"/cases/{NUMBER}/accept", {})
    approved = api.post(f"/cases/{NUMBER}/approve", {}).json()
    code = approved["result"]["document"]["uscc"]
    licence = Licence.objects.get(case_number=NUMBER)
    assert (
        licence.licence_type.name == "营业执照"
        and licence.holder_name == "上海青禾数字科技有限公司"
    )
    from tongban.licences.services import licence_values

    face = licence_values(licence)
    assert face["licence_number"] == code and face["registered_capital"] == "500万元人民币"
    assert face["established_on"] == timezone.localdate().isoformat()
    decision = IssuedDocument.objects.get(case_number=NUMBER, kind="approval_decision")
    assert decision.title == "准予设立登记通知书"
    assert decision.record["subject"] == {
        "name": "上海青禾数字科技有限公司",
        "id_masked": code,
        "label": "名称",
        "id_label": "统一社会信用代码",
    }
    said = facts(decision)
    assert said["类型"] == "有限责任公司（自然人投资或控股）" and said["法定代表人"] == "张伟"
    assert said["注册资本"] == "500万元人民币" and said["成立日期"] == date_cn(timezone.localdate())
    assert said["住所"] == "上海市青浦区华新镇华腾路1288号" and said["登记机关"] == QINGPU_AMR
    assert said["证照标识"] == licence.identifier
    assert decision.record["licence"] == {"identifier": licence.identifier, "issuer_node": "sh"}
    # the old result URL prints this decision; the case lists it and the 办结通知书
    text = pdf_text(api.get(f"/cases/{NUMBER}/documents/result.pdf"))
    for words in ("准予设立登记通知书", code, "上海青禾数字科技有限公司", "营业执照", QINGPU_AMR):
        assert words in text, words
    listed = [d["kind"] for d in api.get(f"/cases/{NUMBER}").json()["documents"]]
    assert listed == ["acceptance_receipt", "approval_decision", "conclusion_notice"]
    conclusion = IssuedDocument.objects.get(case_number=NUMBER, kind="conclusion_notice")
    assert "营业执照》已签发" in facts(conclusion)["电子证照"]


def test_a_household_certificate_states_the_matter_person_content_and_validity(region, api, clerk):
    form = {
        "applicant_name": "李娜",
        "applicant_id_number": id_number("31022919880512456"),
        "contact_phone": "13801761234",
        "proof_kind": "曾用名",
        "purpose": "办理不动产登记",
    }
    case = local_case(region, api, clerk, HOUSEHOLD, "上海市公安局", form)
    police = user_with("sh.police", role="official", organization=region.org("上海市公安局"))
    api.login(police).post(f"/cases/{case.number}/accept", {})
    # the item says what the official enters: the approve body's "result" keys
    declared = api.get(f"/items/{HOUSEHOLD}").json()["result"]
    assert declared["kind"] == "certificate" and declared["valid_days"] == 90
    assert [i["key"] for i in declared["official_inputs"]] == ["content"]
    # the content is what the official confirms: without it nothing is issued
    refused = api.post(f"/cases/{case.number}/approve", {})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "invalid_result_inputs"
    assert "证明内容" in refused.json()["error"]["message"]
    assert Case.objects.get(pk=case.pk).status == "accepted"
    assert not IssuedDocument.objects.filter(case_number=case.number, kind="certificate").exists()
    content = "李娜曾用名李丽娜，1998年3月变更为现名"
    approved = api.post(f"/cases/{case.number}/approve", {"result": {"content": content}})
    assert approved.status_code == 200, approved.content
    certificate = IssuedDocument.objects.get(case_number=case.number, kind="certificate")
    assert certificate.title == "户籍事项证明" and certificate.issuer_name == "上海市公安局"
    assert certificate.record["subject"]["name"] == "李娜"
    said = facts(certificate)
    assert said["证明事项"] == "曾用名" and said["证明内容"] == content
    assert said["出具机关"] == "上海市公安局" and said["用途"] == "办理不动产登记"
    assert (
        certificate.record["valid_until"]
        == (timezone.localdate() + dt.timedelta(days=90)).isoformat()
    )
    assert content in certificate.record["body"] and "特此证明" in certificate.record["body"]
    text = pdf_text(api.get(f"/cases/{case.number}/documents/certificate.pdf"))
    for words in ("户籍事项证明", "曾用名", "李娜", content, "上海市公安局", "有效期至"):
        assert words in text, words
    assert approved.json()["result"]["document"]["facts"] == certificate.record["facts"]


def test_a_scope_change_issues_a_new_licence_version_stating_before_and_after(
    region, api, clerk, official
):
    received(region, api)
    api.login(official).post(f"/cases/{NUMBER}/accept", {})
    code = api.post(f"/cases/{NUMBER}/approve", {}).json()["result"]["document"]["uscc"]
    first = Licence.objects.get(case_number=NUMBER)
    form = {
        "company_name": "上海青禾数字科技有限公司",
        "uscc": code,
        "contact_name": "李娜",
        "contact_phone": "13801761234",
        "new_business_scope": "技术服务、技术开发；人工智能应用软件开发",
        "resolution_date": timezone.localdate().isoformat(),
    }
    case = local_case(region, api, clerk, SCOPE_CHANGE, QINGPU_AMR, form)
    api.login(official).post(f"/cases/{case.number}/accept", {})
    # everything the official would confirm defaults from the current licence
    approved = api.post(f"/cases/{case.number}/approve", {})
    assert approved.status_code == 200, approved.content
    new = Licence.objects.get(case_number=case.number)
    first.refresh_from_db()
    assert (first.status, new.version, new.family) == ("superseded", 2, first.family)
    from tongban.licences.services import licence_values

    face = licence_values(new)
    assert face["business_scope"] == form["new_business_scope"]
    assert face["company_name"] == "上海青禾数字科技有限公司" and face["licence_number"] == code
    assert face["address"] == "上海市青浦区华新镇华腾路1288号"
    decision = IssuedDocument.objects.get(case_number=case.number, kind="approval_decision")
    said = facts(decision)
    assert decision.record["subject"]["id_masked"] == code
    assert said["变更事项"] == "经营范围" and said["变更前经营范围"] == "技术服务、技术开发"
    assert said["变更后经营范围"] == form["new_business_scope"]
    assert said["变更日期"] == date_cn(timezone.localdate())
    assert "第2版" in said["电子证照"]


def test_a_fund_withdrawal_states_the_amount_the_official_approves(region, api, clerk):
    form = {
        "applicant_name": "李娜",
        "applicant_id_number": id_number("31022919880512456"),
        "contact_phone": "13801761234",
        "house_region": "320509",
        "amount": "120000",
        "bank_account": "6222020200112233445",
    }
    case = local_case(region, api, clerk, FUND, "上海市公积金管理中心", form)
    fund = user_with("sh.fund", role="official", organization=region.org("上海市公积金管理中心"))
    api.login(fund).post(f"/cases/{case.number}/accept", {})
    bad = api.post(f"/cases/{case.number}/approve", {"result": {"amount": "十万"}})
    assert bad.status_code == 400 and "核准金额" in bad.json()["error"]["message"]
    assert (
        api.post(f"/cases/{case.number}/approve", {"result": {"amount": "100000"}}).status_code
        == 200
    )
    decision = IssuedDocument.objects.get(case_number=case.number, kind="approval_decision")
    assert decision.title == "住房公积金提取核准通知书"
    assert facts(decision)["核准金额"] == "100000.00元"
    assert "核准金额100000.00元" in decision.record["body"]


# --- documents between nodes ---------------------------------------------------------------


def _zj_document(region, number: str, **changes) -> dict:
    record = {
        "format": formats.DOCUMENT_FORMAT,
        "id": formats.document_id_new("zj"),
        "kind": "acceptance_receipt",
        "title": "受理回执",
        "doc_number": "",
        "case_number": number,
        "issuer": {"node": "zj", "code": "11330400495313809E", "name": "嘉兴市市场监督管理局"},
        "issued_at": timezone.localtime().isoformat(timespec="seconds"),
        "subject": {"name": "李娜", "id_masked": "3102**********4567"},
        "facts": [{"label": "受理机构", "value": "嘉兴市市场监督管理局"}],
        "body": "",
        "valid_until": None,
        "licence": None,
    }
    signature = region.signer("zj")(
        formats.statement("zj", record["id"], formats.record_digest(record))
    )
    record.update(changes)
    return {"record": record, "signature": signature}


def test_documents_from_the_deciding_node_are_kept_and_forged_ones_refused(region, api, clerk):
    number = api.login(clerk).post("/cases", application(region)).json()["number"]
    forged = _zj_document(region, number, title="准予许可决定书")  # changed after signing
    event = zj_event(region, number, 1, "accept", "accepted", documents=[forged])
    response = api.post("/exchange/inbox", raw=json.dumps(event).encode())
    assert response.status_code == 409 and response.json()["signed"]["status"] == "refused"
    assert Case.objects.get(number=number).status == "submitted"
    assert not IssuedDocument.objects.filter(case_number=number, is_local=False).exists()

    genuine = _zj_document(region, number)
    event = zj_event(region, number, 2, "accept", "accepted", documents=[genuine])
    response = api.post("/exchange/inbox", raw=json.dumps(event).encode())
    assert response.json()["signed"]["status"] == "accepted", response.content
    copy = IssuedDocument.objects.get(case_number=number, is_local=False)
    assert copy.kind == "acceptance_receipt" and copy.issuer_node == "zj"
    assert Case.objects.get(number=number).status == "accepted"
    text = pdf_text(api.get(f"/cases/{number}/documents/acceptance.pdf"))
    assert "嘉兴市市场监督管理局" in text and number in text
    # a document about another case is refused too
    other = _zj_document(region, "11330400TESTOTHER000001")
    event = zj_event(region, number, 3, "deny", "denied", documents=[other], reason="x")
    assert api.post("/exchange/inbox", raw=json.dumps(event).encode()).status_code == 409


# --- declarations ------------------------------------------------------------------------


def test_every_item_declares_a_result_the_registry_can_issue():
    catalog = json.loads((DATA_DIR / "catalog_2026Q4.json").read_text(encoding="utf-8"))
    registry = json.loads(
        (DATA_DIR.parents[1] / "licences" / "data" / "licence_types.json").read_text("utf-8")
    )
    types = {t["name"]: t for t in registry["types"]}
    by_code = {item["basic_code"]: item for item in catalog["items"]}
    for item in catalog["items"]:
        # a relay's or bundle's own result may draw on its stages' or parts' outputs
        declaration = result_declaration_clean(item, extra=result_extra_sources(item, by_code))
        assert declaration["kind"] != "none" and declaration["title"], item["name"]
        if declaration["kind"] == "licence":
            fields = {f["key"]: f for f in types[declaration["licence"]["type"]]["fields"]}
            assert set(declaration["licence"]["fields"]) <= set(fields), item["name"]
            required = {k for k, f in fields.items() if f["required"] and not f.get("same_as")}
            assert required <= set(declaration["licence"]["fields"]), item["name"]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"kind": "award"}, "kind must be"),
        ({"facts": [{"label": "x", "from": "form:nope"}]}, "no field 'nope'"),
        ({"facts": [{"label": "x", "from": "official:nope"}]}, "no official input"),
        ({"body": "兹证明{applicant:name"}, "malformed template"),
        ({"valid_days": 0}, "valid_days"),
        ({"licence": {"type": "营业执照"}}, "only a licence result"),
    ],
)
def test_a_bad_declaration_is_refused_with_what_is_wrong(change, message):
    item = {
        "basic_code": "000000000001",
        "form": [{"name": "purpose"}],
        "result": {"kind": "certificate", "title": "证明", "facts": [], **change},
    }
    with pytest.raises(ResultDeclarationError, match=message):
        result_declaration_clean(item)


# --- the case page ---------------------------------------------------------------------


def test_the_case_page_offers_the_receipt_and_asks_the_official_for_the_content(
    region, api, clerk, client
):
    form = {
        "applicant_name": "李娜",
        "applicant_id_number": id_number("31022919880512456"),
        "contact_phone": "13801761234",
        "proof_kind": "亲属关系",
        "purpose": "继承公证",
    }
    case = local_case(region, api, clerk, HOUSEHOLD, "上海市公安局", form)
    client.force_login(clerk)
    page = client.get(f"/cases/{case.number}/").content.decode()
    assert "收件凭证已出具" in page and f"/api/v1/cases/{case.number}/documents/intake.pdf" in page
    police = user_with("sh.police", role="official", organization=region.org("上海市公安局"))
    client.force_login(police)
    assert "收件凭证已出具" not in client.get(f"/cases/{case.number}/").content.decode()
    client.post(
        f"/cases/{case.number}/actions/accept/", {"accept-note": "", "accept-confirm": "on"}
    )
    page = client.get(f"/cases/{case.number}/").content.decode()
    assert 'name="approve-result-content"' in page and "出具《户籍事项证明》所需的信息" in page
    # left empty: refused with the field named, nothing issued, the page keeps what was typed
    response = client.post(
        f"/cases/{case.number}/actions/approve/",
        {"approve-note": "核查属实", "approve-confirm": "on", "approve-result-content": ""},
    )
    assert response.status_code == 400 and "证明内容" in response.content.decode()
    assert Case.objects.get(pk=case.pk).status == "accepted"
    content = "李娜与李建国系父女关系"
    response = client.post(
        f"/cases/{case.number}/actions/approve/",
        {"approve-note": "", "approve-confirm": "on", "approve-result-content": content},
        follow=True,
    )
    assert Case.objects.get(pk=case.pk).status == "approved"
    page = response.content.decode()
    assert content in page and "户籍事项证明" in page
    assert f"/api/v1/cases/{case.number}/documents/result.pdf" in page
    certificate = IssuedDocument.objects.get(case_number=case.number, kind="certificate")
    assert facts(certificate)["证明内容"] == content


@pytest.mark.parametrize(
    "kind, text, value",
    [
        ("decimal", "120000", "120000.00"),
        ("decimal", "-0", "0.00"),
        ("decimal", "1e99", None),
        ("decimal", "NaN", None),
        ("decimal", "-5", None),
        ("integer", "12", "12"),
        ("integer", "１２", None),
        ("integer", "²", None),
        ("date", "2026-12-01", "2026-12-01"),
        ("date", "2026-13-01", None),
        ("text", "一行\n两行", None),
        ("textarea", "一行\n两行", "一行\n两行"),
        ("select", "二级", "二级"),
        ("select", "五级", None),
    ],
)
def test_official_inputs_are_checked_by_type(kind, text, value):
    from tongban.cases.issuance import _input_value

    spec = {"choices": ["一级", "二级"]}
    if value is None:
        with pytest.raises(ValueError):
            _input_value(kind, text, spec)
    else:
        assert _input_value(kind, text, spec) == value
