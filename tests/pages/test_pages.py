"""The server-rendered pages, through the Django test client (this node is sh).

Cases reach the pages the way they do in production: a clerk applies through
the window form, or a peer's signed case.submit arrives at the inbox.
"""

from __future__ import annotations

import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from tests.factories import (
    ESTABLISHMENT,
    JIAXING_AMR,
    PDF,
    PNG,
    QINGPU_AMR,
    establishment_form,
    id_number,
    user_with,
)
from tongban.cases.models import Case, CaseStatus
from tongban.exchange.models import OutboxMessage
from tongban.identity.services import person_upsert

pytestmark = pytest.mark.django_db

WINDOW = "sh-310118-01"
APPLY_URL = f"/window/apply/{ESTABLISHMENT}/"
NUMBER = "11310118PAGETEST000000000000000120261121310001"


# --- helpers --------------------------------------------------------------------------


def html(response) -> str:
    return response.content.decode()


def texts(response) -> str:
    """The page's text without tags (whitespace collapsed), for wording checks."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html(response)))


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def apply_data(region, *, organization=JIAXING_AMR, applicant_id=None, files=None, **overrides):
    data = {
        "window": WINDOW,
        "organization": region.org(organization).code,
        "applicant_name": "张伟",
        "applicant_id_number": applicant_id or id_number(),
        "applicant_phone": "13905731234",
        "identity_verified": "on",
        **{f"f_{k}": v for k, v in establishment_form().items()},
    }
    if files is None:
        files = {
            code: SimpleUploadedFile(f"{code}.pdf", PDF + code.encode(), "application/pdf")
            for code in ("M01", "M02", "M03", "M04", "M05")
        }
    data.update({f"m_{code}": f for code, f in files.items()})
    data.update(overrides)
    return data


@pytest.fixture
def clerk(region):
    return user_with("qingpu.clerk", role="clerk", window=region.window(WINDOW))


@pytest.fixture
def official(region):
    return user_with("qingpu.official", role="official", organization=region.org(QINGPU_AMR))


def receive_from_zj(client, region, number=NUMBER, **kw) -> Case:
    """zj's window sends a 内资有限公司设立登记 decided by 青浦 (a handling case here)."""
    envelope = region.case_submit_envelope(number=number, **kw)
    response = client.post(
        "/api/v1/exchange/inbox", json.dumps(envelope), content_type="application/json"
    )
    assert response.status_code == 200, response.content
    return Case.objects.get(number=number)


# --- public pages -------------------------------------------------------------------------


def test_home_search_and_item_detail(client, region):
    home = client.get("/")
    assert home.status_code == 200
    assert "长三角一网通办" in texts(home)
    assert 'lang="zh-Hans"' in html(home)
    assert "<script" not in html(home) and 'style="' not in html(home)  # CSP: nothing inline

    found = client.get("/items/", {"q": "营业执照"})
    assert found.status_code == 200
    assert "内资有限公司设立登记" in texts(found)
    second = client.get("/items/", {"page": "2"})
    assert (
        "第 2 / 3 页" in texts(second) and "?page=3" in html(second) and "?page=1" in html(second)
    )
    none = client.get("/items/", {"q": "不存在的事项名称"})
    assert "没有找到符合条件的事项" in texts(none)

    detail = client.get(f"/items/{ESTABLISHMENT}/")
    page = texts(detail)
    assert detail.status_code == 200
    assert "公司章程" in page and QINGPU_AMR in page and JIAXING_AMR in page
    assert "窗口收件" not in page.split("事项检索", 2)[-1]  # anonymous: no intake button
    assert client.get("/items/999999999999/").status_code == 404


def test_anonymous_is_sent_to_login_and_logout_needs_post(client, region):
    response = client.get("/window/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert client.get("/login/").status_code == 200
    assert client.get("/logout/").status_code == 405


def test_a_person_may_not_open_the_window_console(client, region):
    person = person_upsert(name="李娜", id_number=id_number("31022919880512456"))
    client.force_login(user_with("lina", person=person))
    response = client.get("/window/")
    assert response.status_code == 403
    assert "没有权限" in texts(response)


# --- window intake ----------------------------------------------------------------------


def test_clerk_applies_for_an_item_decided_in_zhejiang(client, region, clerk):
    client.force_login(clerk)
    form = client.get(APPLY_URL)
    assert form.status_code == 200
    page = html(form)
    assert JIAXING_AMR + "（浙江）" in page and QINGPU_AMR + "（上海）" in page
    assert 'accept=".pdf,application/pdf"' in page and 'type="file"' in page
    assert "已当面核验身份" in page

    response = client.post(APPLY_URL, apply_data(region), follow=True)
    assert response.redirect_chain and response.redirect_chain[0][1] == 302
    case = Case.objects.get()
    assert response.redirect_chain[0][0] == f"/cases/{case.number}/"
    assert case.perspective == "origin" and case.handling_organization.name == JIAXING_AMR
    shown = " ".join(messages_of(response))
    assert case.number in shown and f"已转送 {JIAXING_AMR}" in shown
    assert f"已转送 {JIAXING_AMR}" in texts(response)
    outbox = OutboxMessage.objects.get(correlation=case.number)
    assert (outbox.type, outbox.recipient) == ("case.submit", "zj")
    # the case page masks the identifiers
    page = html(response)
    assert id_number() not in page and case.applicant_id_masked in page
    assert "13905731234" not in page

    console = client.get("/window/")
    assert case.number in html(console)
    assert case.number not in html(client.get("/window/", {"status": "approved"}))


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"applicant_id_number": "330421199003071230"}, "applicant_id_number", "身份证号码无效"),
        ({"applicant_phone": "12345"}, "applicant_phone", "手机号码格式不正确"),
        ({"f_registered_capital": "五百"}, "f_registered_capital", "应为数字"),
        ({"identity_verified": ""}, "identity_verified", "请先当面核验申请人身份"),
    ],
)
def test_invalid_application_is_shown_again_with_the_error(
    client, region, clerk, change, field, message
):
    client.force_login(clerk)
    data = apply_data(region, **change)
    if not change.get("identity_verified", True):
        del data["identity_verified"]
    response = client.post(APPLY_URL, data)
    assert response.status_code == 400
    assert message in texts(response)
    assert f'id="id_{field}"' in html(response)
    assert re.search(
        rf'<(input|select|textarea)[^>]*aria-invalid="true"[^>]*id="id_{field}"|'
        rf'<(input|select|textarea)[^>]*id="id_{field}"[^>]*aria-invalid="true"',
        html(response),
    )
    # entered values are kept
    assert "上海青禾数字科技有限公司" in html(response)
    assert Case.objects.count() == 0 and OutboxMessage.objects.count() == 0


def test_wrong_file_type_is_refused_and_nothing_is_created(client, region, clerk):
    client.force_login(clerk)
    files = {
        code: SimpleUploadedFile(f"{code}.pdf", PDF + code.encode(), "application/pdf")
        for code in ("M02", "M03", "M04", "M05")
    }
    files["M01"] = SimpleUploadedFile("申请书.pdf", PNG, "application/pdf")  # a PNG in disguise
    response = client.post(APPLY_URL, apply_data(region, files=files))
    assert response.status_code == 400
    assert "只接受 PDF 文件" in texts(response)
    # next to its field, not only in the banner
    assert re.search(r'<input[^>]*aria-invalid="true"[^>]*id="id_m_M01"', html(response))
    assert Case.objects.count() == 0 and OutboxMessage.objects.count() == 0


def test_missing_required_material_is_refused(client, region, clerk):
    client.force_login(clerk)
    files = {
        code: SimpleUploadedFile(f"{code}.pdf", PDF + code.encode(), "application/pdf")
        for code in ("M01", "M02", "M03", "M04")
    }
    response = client.post(APPLY_URL, apply_data(region, files=files))
    assert response.status_code == 400
    assert re.search(r'<input[^>]*aria-invalid="true"[^>]*id="id_m_M05"', html(response))
    assert Case.objects.count() == 0


def test_service_refusal_without_field_is_shown_on_top(client, region, clerk):
    """An organization that does not handle the item: the service's message, nothing created."""
    client.force_login(clerk)
    data = apply_data(region)
    data["organization"] = region.org("上海市公安局").code  # not among the choices
    response = client.post(APPLY_URL, data)
    assert response.status_code == 400
    assert Case.objects.count() == 0


# --- the deciding authority -------------------------------------------------------------


def test_official_sees_the_received_case_and_accepts_it(client, region, official):
    case = receive_from_zj(client, region)
    client.force_login(official)
    work = client.get("/work/")
    assert work.status_code == 200 and NUMBER in html(work)

    page = client.get(f"/cases/{NUMBER}/")
    text = texts(page)
    assert page.status_code == 200
    assert "当面核验（浙江 浙里办）" in text and "嘉善县长三角“一网通办”综合服务专窗" in text
    assert text.count("摘要已核验 ✓") == 5
    assert "企业名称" in text and "上海青禾数字科技有限公司" in text  # labels from form_schema
    assert case.applicant_id_number not in html(page)
    for label in ("受理", "不予受理", "一次性告知补正"):
        assert f">{label}</button>" in html(page)
    assert ">准予许可</button>" not in html(page)

    response = client.post(
        f"/cases/{NUMBER}/actions/accept/", {"accept-note": "材料齐全"}, follow=True
    )
    case.refresh_from_db()
    assert case.status == CaseStatus.ACCEPTED
    assert f"办件 {NUMBER} 已受理" in " ".join(messages_of(response))
    event = OutboxMessage.objects.filter(correlation=NUMBER, type="case.event").latest("seq")
    assert event.recipient == "zj"
    assert ">准予许可</button>" in html(response) and ">不予许可</button>" in html(response)
    # the acceptance receipt is now available as a PDF
    pdf = client.get(f"/cases/{NUMBER}/acceptance.pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert client.get(f"/cases/{NUMBER}/conclusion.pdf").status_code == 404

    unconfirmed = client.post(f"/cases/{NUMBER}/actions/approve/", {"approve-note": ""})
    assert unconfirmed.status_code == 400 and "请勾选确认" in texts(unconfirmed)
    case.refresh_from_db()
    assert case.status == CaseStatus.ACCEPTED
    approved = client.post(
        f"/cases/{NUMBER}/actions/approve/",
        {"approve-note": "", "approve-confirm": "on"},
        follow=True,
    )
    case.refresh_from_db()
    assert case.status == CaseStatus.APPROVED
    uscc = case.result.document["uscc"]
    assert uscc in texts(approved) and "统一社会信用代码" in texts(approved)
    result = client.get(f"/cases/{NUMBER}/result.pdf")
    assert result.status_code == 200 and result["Content-Type"] == "application/pdf"


def test_refuse_without_reason_changes_nothing(client, region, official):
    case = receive_from_zj(client, region)
    client.force_login(official)
    history = case.history.count()
    response = client.post(f"/cases/{NUMBER}/actions/refuse/", {"refuse-reason": "  "})
    assert response.status_code == 400
    assert "请填写理由" in texts(response)
    case.refresh_from_db()
    assert case.status == CaseStatus.SUBMITTED and case.history.count() == history
    # only the automatic "received" announcement; no decision went out
    assert OutboxMessage.objects.filter(correlation=NUMBER).count() == 1

    response = client.post(
        f"/cases/{NUMBER}/actions/refuse/",
        {"refuse-reason": "住所不在本机关管辖范围", "refuse-confirm": "on"},
        follow=True,
    )
    case.refresh_from_db()
    assert case.status == CaseStatus.REFUSED and case.decision_reason == "住所不在本机关管辖范围"
    assert "住所不在本机关管辖范围" in texts(response)
    assert client.get(f"/cases/{NUMBER}/conclusion.pdf")["Content-Type"] == "application/pdf"


def test_an_action_in_the_wrong_state_is_explained(client, region, official):
    receive_from_zj(client, region)
    client.force_login(official)
    response = client.post(
        f"/cases/{NUMBER}/actions/approve/",
        {"approve-note": "", "approve-confirm": "on"},
        follow=True,
    )
    assert "不能执行此操作" in " ".join(messages_of(response))
    assert Case.objects.get().status == CaseStatus.SUBMITTED


def test_official_requests_supplements(client, region, official):
    case = receive_from_zj(client, region)
    client.force_login(official)
    response = client.post(
        f"/cases/{NUMBER}/actions/request_supplements/",
        {
            "request_supplements-need_M02": "on",
            "request_supplements-why_M02": "章程缺少全体股东签字",
            "request_supplements-note": "请一次性补齐",
        },
        follow=True,
    )
    case.refresh_from_db()
    assert case.status == CaseStatus.SUPPLEMENT_REQUESTED
    assert case.supplement_request["missing"] == [
        {"material_code": "M02", "name": "公司章程", "note": "章程缺少全体股东签字"}
    ]
    text = texts(response)
    assert "待补正" in text and "章程缺少全体股东签字" in text
    assert (
        OutboxMessage.objects.filter(correlation=NUMBER, type="case.event").latest("seq").recipient
        == "zj"
    )


def test_request_supplements_needs_something_to_supply(client, region, official):
    case = receive_from_zj(client, region)
    client.force_login(official)
    response = client.post(
        f"/cases/{NUMBER}/actions/request_supplements/", {"request_supplements-note": "补正"}
    )
    assert response.status_code == 400
    assert "请列出需要补正的材料" in texts(response)
    case.refresh_from_db()
    assert case.status == CaseStatus.SUBMITTED


def test_another_organizations_official_gets_404(client, region):
    receive_from_zj(client, region)
    other = user_with(
        "songjiang.official", role="official", organization=region.org("上海市松江区市场监督管理局")
    )
    client.force_login(other)
    assert client.get(f"/cases/{NUMBER}/").status_code == 404
    response = client.post(f"/cases/{NUMBER}/actions/accept/", {"accept-note": ""})
    assert response.status_code == 404
    assert "页面不存在" in texts(response)
    assert Case.objects.get().status == CaseStatus.SUBMITTED
    assert client.get(f"/cases/{NUMBER}/acceptance.pdf").status_code == 404
    material = Case.objects.get().materials.first()
    assert client.get(f"/cases/{NUMBER}/materials/{material.pk}/").status_code == 404
    assert NUMBER not in html(client.get("/work/"))


def test_material_download_streams_the_stored_file(client, region, official):
    case = receive_from_zj(client, region)
    client.force_login(official)
    material = case.materials.get(material_code="M01")
    response = client.get(f"/cases/{NUMBER}/materials/{material.pk}/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert b"".join(response) == PDF + b"M01"
    assert "attachment" in response["Content-Disposition"]


# --- supplements at the window (origin side) --------------------------------------------


def test_clerk_supplies_what_zhejiang_asked_for(client, region, clerk):
    client.force_login(clerk)
    client.post(APPLY_URL, apply_data(region))
    case = Case.objects.get()
    now = timezone.now().isoformat()
    event = region.envelope(
        sender="zj",
        type="case.event",
        correlation=case.number,
        seq=1,
        body={
            "number": case.number,
            "event": "request_supplements",
            "from_status": "submitted",
            "to_status": "supplement_requested",
            "occurred_at": now,
            "actor": {"name": "钱程", "place": JIAXING_AMR, "node": "zj"},
            "reason": "请补充章程",
            "deadline": None,
            "legal_deadline": None,
            "deadline_provisional": False,
            "details": {
                "missing": [{"material_code": "M02", "name": "公司章程", "note": "缺少签字"}]
            },
        },
    )
    response = client.post(
        "/api/v1/exchange/inbox", json.dumps(event), content_type="application/json"
    )
    assert response.status_code == 200, response.content

    page = client.get(f"/cases/{case.number}/")
    text = texts(page)
    assert "待补正" in text and "缺少签字" in text and "钱程" in text
    assert 'name="supply-m_M02"' in html(page) and 'name="supply-m_M01"' not in html(page)

    empty = client.post(f"/cases/{case.number}/actions/supply/", {"supply-note": ""})
    assert empty.status_code == 400 and "请上传补正材料" in texts(empty)

    response = client.post(
        f"/cases/{case.number}/actions/supply/",
        {
            "supply-m_M02": SimpleUploadedFile("章程.pdf", PDF + b"signed", "application/pdf"),
            "supply-note": "已补签",
        },
        follow=True,
    )
    case.refresh_from_db()
    assert case.status == CaseStatus.SUBMITTED
    assert "补正材料已提交" in " ".join(messages_of(response))
    assert OutboxMessage.objects.filter(
        correlation=case.number, type="case.supplement", recipient="zj"
    ).exists()


# --- applicants ----------------------------------------------------------------------------


def test_a_person_sees_only_their_own_cases(client, region):
    mine = receive_from_zj(client, region)
    other_id = id_number("31022919880512456")
    receive_from_zj(client, region, number=NUMBER[:-1] + "2", applicant_id=other_id)
    person = person_upsert(name="张伟", id_number=id_number())
    client.force_login(user_with("zhangwei", person=person, assurance="L3"))
    response = client.get("/me/cases/")
    assert response.status_code == 200
    assert mine.number in html(response) and NUMBER[:-1] + "2" not in html(response)
    assert client.get(f"/cases/{mine.number}/").status_code == 200
    assert client.get(f"/cases/{NUMBER[:-1]}2/").status_code == 404
    assert "受理</button>" not in html(client.get(f"/cases/{mine.number}/"))


# --- languages -----------------------------------------------------------------------------


def test_english_switch(client, region, official):
    receive_from_zj(client, region)
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/items/"})
    assert response.status_code == 302 and response["Location"] == "/items/"
    items = client.get("/items/")
    assert 'lang="en"' in html(items)
    text = texts(items)
    assert "Find a service" in text and "事项检索" not in text

    client.force_login(official)
    page = client.get(f"/cases/{NUMBER}/")
    text = texts(page)
    assert "Submitted" in text and "Accept" in text and "Digest verified ✓" in text
    assert "Verified in person at" in text

    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    assert "事项检索" in texts(client.get("/items/"))


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("get", "/items/", {"q": "设立\x00登记"}),
        ("get", "/verify/licence/1.2\x00/", {}),
        ("post", "/login/", {"username": "a\x00b", "password": "x"}),
        ("post", "/register/", {"name": "张\x00伟", "id_number": "1", "phone": "1"}),
    ],
)
def test_nul_characters_in_pages_answer_400_and_change_nothing(client, region, method, path, data):
    from tongban.identity.models import SecurityEvent, User

    before = (User.objects.count(), SecurityEvent.objects.count())
    response = getattr(client, method)(path, data)
    assert response.status_code == 400
    assert "请求无效" in response.content.decode()
    assert (User.objects.count(), SecurityEvent.objects.count()) == before
