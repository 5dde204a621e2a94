"""联办件 pages (this node is sh): one online application of 新生儿出生“一件事” becomes a
联办件 whose parts are cases; its page (/composites/<number>/) shows the parts, the
results collected and is the applicant's (and the window's) only; the form of a 联办
item reports every error at once and keeps the uploads; a member case's page says
which 联办件 and step it is, and a relay stage's approval asks for the stage's outputs."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.factories import PDF, id_number, user_with
from tests.pages.test_form_errors import html, invalid, texts
from tests.pages.test_identity_pages import (
    outbox,  # noqa: F401 — the SMS fixture
    resident,
    sign_in,
)
from tongban.cases import services
from tongban.cases.models import ApplicationDraft, Case, Composite, CompositeMember

pytestmark = pytest.mark.django_db

NEWBORN = "000550001000"
PENSION = "000520001000"
SH_HEALTH = "上海市卫生健康委员会"
SH_POLICE = "上海市公安局"
SH_HRSS = "上海市人力资源和社会保障局"
APPLY_URL = f"/apply/{NEWBORN}/"
MOTHER = id_number("31022919880512456")
FATHER = id_number("31010119850304531")


def pdf(name: str, marker: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PDF + marker.encode(), "application/pdf")


def newborn_data(region, **overrides) -> dict:
    data = {
        "organization": region.org(SH_HEALTH).code,
        "f_newborn_name": "李小禾",
        "f_newborn_sex": "女",
        "f_newborn_birth_date": "2026-11-20",
        "f_birth_hospital": "上海市第一妇婴保健院",
        "f_birth_region": "310000",
        "f_hukou_region": "310000",
        "f_father_id_number": FATHER,
        "f_mother_id_number": MOTHER,
        "f_settle_address": "上海市浦东新区高科西路1号",
        "f_bank": "工商银行",
        "f_contact_phone": "13801761234",
        "m_M01": pdf("身份证.pdf", "M01"),
        "m_M02": pdf("户口簿.pdf", "M02"),
    }
    data.update(overrides)
    return data


@pytest.fixture
def mother(region):
    return resident("lina", assurance="L3")


def apply_newborn(client, region, mother, outbox) -> Composite:  # noqa: F811
    sign_in(client, mother, outbox)
    response = client.post(APPLY_URL, newborn_data(region))
    assert response.status_code == 302, texts(response)[:3000]
    composite = Composite.objects.get()
    assert response["Location"] == f"/composites/{composite.number}/"
    return composite


def approve(client, official, number: str, **result) -> None:
    client.force_login(official)
    assert client.post(f"/cases/{number}/actions/accept/", {"accept-note": ""}).status_code == 302
    data = {"approve-note": "", "approve-confirm": "on"}
    data.update({f"approve-result-{k}": v for k, v in result.items()})
    response = client.post(f"/cases/{number}/actions/approve/", data)
    assert response.status_code == 302, texts(response)[:3000]
    assert Case.objects.get(number=number).status == "approved"


def test_one_form_makes_a_composite_whose_page_shows_every_part(client, region, mother, outbox):  # noqa: F811
    composite = apply_newborn(client, region, mother, outbox)
    page = client.get(f"/composites/{composite.number}/")
    assert page.status_code == 200
    text = texts(page)
    assert f"联办件 {composite.number} 已提交" in text  # the message after submitting
    for part in ("出生医学证明", "户口登记", "医保参保登记", "社会保障卡申领"):
        assert part in text, part
    assert "等待前序结果" in text and "0/4 个环节已办结" in text
    assert "上海市卫生健康委员会" in text and "个工作日" in text
    assert MOTHER not in html(page) and FATHER not in html(page)
    first = CompositeMember.objects.get(composite=composite, key="birth_certificate")
    assert f'href="/cases/{first.case_number}/"' in html(page)

    # 我的办件 lists the 联办件 with its derived status, and the member case under it
    mine = texts(client.get("/me/cases/"))
    assert composite.number in mine and "办理中" in mine and "0/4 个环节已办结" in mine
    assert f"联办件 {composite.number} 的环节（出生医学证明）" in mine

    # the member case's page: the box, linking back
    member = texts(client.get(f"/cases/{first.case_number}/"))
    assert f"联办件 {composite.number} 的第 1 环节（出生医学证明）" in member

    # in English
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    english = texts(client.get(f"/composites/{composite.number}/"))
    for words in ("Joint case · bundle", "Progress", "0 of 4 steps concluded", "Depends on"):
        assert words in english, words
    member = texts(client.get(f"/cases/{first.case_number}/"))
    assert f"Step 1 (出生医学证明) of joint case {composite.number}" in member


def test_the_composite_page_is_the_applicants_only(client, region, mother, outbox):  # noqa: F811
    composite = apply_newborn(client, region, mother, outbox)
    url = f"/composites/{composite.number}/"
    stranger = resident("wangfang", name="王芳", id_prefix="32058419930818246", phone="13913551234")
    client.force_login(stranger)
    assert client.get(url).status_code == 404
    clerk = user_with("huangpu.clerk", role="clerk", window=region.window("sh-310101-01"))
    client.force_login(clerk)
    assert client.get(url).status_code == 404
    client.logout()
    assert client.get(url).status_code == 302  # to the login page
    client.force_login(mother)
    assert client.get("/composites/NO-SUCH-NUMBER/").status_code == 404


def test_parts_approved_one_by_one_collect_their_results(client, region, mother, outbox):  # noqa: F811
    composite = apply_newborn(client, region, mother, outbox)

    def member(key):
        return CompositeMember.objects.get(composite=composite, key=key)

    health = user_with("sh.health", role="official", organization=region.org(SH_HEALTH))
    approve(client, health, member("birth_certificate").case_number, gender="女")
    police = user_with("sh.police", role="official", organization=region.org(SH_POLICE))
    hukou = member("hukou").case_number
    client.force_login(police)
    page = texts(client.get(f"/cases/{hukou}/"))
    assert f"联办件 {composite.number} 的第 2 环节（户口登记）" in page
    assert "前序环节的结果" in page and "证照编号" in page  # the 出生医学证明's number
    approve(client, police, hukou, child_id_number=id_number("31011520261120002"))
    medical = user_with("sh.medical", role="official", organization=region.org("上海市医疗保障局"))
    approve(client, medical, member("medical_insurance").case_number, insurance_number="YB001")
    hrss = user_with("sh.hrss", role="official", organization=region.org(SH_HRSS))
    approve(client, hrss, member("social_card").case_number, card_number="SB310000001")

    client.force_login(mother)
    response = client.get(f"/composites/{composite.number}/")
    text = texts(response)
    assert "4/4 个环节已办结" in text and "已办结" in text
    assert "SB310000001" in text
    assert "31011520261120002" not in html(response)  # the newborn's number, masked
    # 办理结果: each part's result document, linked to its member case's download
    for key in ("birth_certificate", "hukou", "medical_insurance", "social_card"):
        number = member(key).case_number
        assert f"/api/v1/cases/{number}/documents/result.pdf" in html(response), key
    link = re.search(r'href="(/api/v1/cases/[^"]+/documents/result\.pdf)"', html(response))
    download = client.get(link.group(1))
    assert download.status_code == 200 and download.content.startswith(b"%PDF")


def test_a_refused_part_shows_its_reason_and_the_parts_it_stops(client, region, mother, outbox):  # noqa: F811
    composite = apply_newborn(client, region, mother, outbox)
    health = user_with("sh.health", role="official", organization=region.org(SH_HEALTH))
    first = composite.members.get(key="birth_certificate").case_number
    services.case_refuse(user=health, number=first, reason="分娩记录与出生医院不符")
    client.force_login(mother)
    text = texts(client.get(f"/composites/{composite.number}/"))
    assert "不予受理（已办结）" in text
    assert "未获准予的理由 分娩记录与出生医院不符" in text
    assert text.count("已终止") == 3 and "因“出生医学证明办理”未获准予，本环节不再启动" in text
    assert "尚无办理结果" in text


def test_a_member_case_where_the_composite_is_not_kept_finds_its_step_in_the_catalog(
    client,
    region,
    mother,
    outbox,  # noqa: F811
):
    composite = apply_newborn(client, region, mother, outbox)
    first = composite.members.get(key="birth_certificate").case_number
    number = composite.number
    composite.delete()  # as at a member's node: the 联办件 is kept where it was applied for
    health = user_with("sh.health", role="official", organization=region.org(SH_HEALTH))
    client.force_login(health)
    response = client.get(f"/cases/{first}/")
    text = texts(response)
    assert f"联办件 {number} 的第 1 环节（出生医学证明）" in text
    assert "该联办件共 4 个环节" in text
    assert f'href="/composites/{number}/"' not in html(response)


def test_the_form_of_a_composite_item_reports_every_error_and_keeps_uploads(
    client,
    region,
    mother,
    outbox,  # noqa: F811
):
    sign_in(client, mother, outbox)
    form = client.get(APPLY_URL)
    assert form.status_code == 200
    bad = newborn_data(
        region,
        f_newborn_name="",
        f_father_id_number="310101198503045310",  # wrong check digit
        f_hukou_region="",
        m_M02=SimpleUploadedFile("户口簿.pdf", b"not a pdf at all", "application/pdf"),
    )
    response = client.post(APPLY_URL, bad)
    assert response.status_code == 400
    for field in ("id_f_newborn_name", "id_f_father_id_number", "id_f_hukou_region", "id_m_M02"):
        assert invalid(response, field), field
    assert "身份证.pdf" in texts(response)  # the good file is kept (已上传 …)
    token = re.search(r'name="draft" value="([^"]+)"', html(response)).group(1)
    assert not Composite.objects.exists() and not Case.objects.exists()

    fixed = newborn_data(region, draft=token, m_M02=pdf("户口簿.pdf", "M02"))
    del fixed["m_M01"]  # kept from the first try
    done = client.post(APPLY_URL, fixed)
    assert done.status_code == 302, texts(done)[:3000]
    composite = Composite.objects.get()
    first = Case.objects.get(number=composite.members.get(key="birth_certificate").case_number)
    assert set(first.materials.values_list("material_code", flat=True)) >= {"M01", "M02"}
    assert not ApplicationDraft.objects.filter(token=token).exists()


def test_window_intake_of_a_relay_and_the_stage_approval_form(client, region):
    clerk = user_with("huangpu.clerk", role="clerk", window=region.window("sh-310101-01"))
    client.force_login(clerk)
    # a 联办 item's materials are uploaded: no 亮证码 in their place (a plain item has it)
    assert 'name="l_M01"' not in html(client.get(f"/window/apply/{NEWBORN}/"))
    assert 'name="l_M01"' in html(client.get("/window/apply/000501006000/"))
    applicant = id_number("31022919880512456")
    response = client.post(
        f"/window/apply/{PENSION}/",
        {
            "window": "sh-310101-01",
            "organization": region.org(SH_HRSS).code,
            "applicant_name": "李娜",
            "applicant_id_number": applicant,
            "applicant_phone": "13801761234",
            "identity_verified": "on",
            "f_applicant_name": "李娜",
            "f_applicant_id_number": applicant,
            "f_contact_phone": "13801761234",
            "f_from_region": "310000",
            "f_new_employer": "上海青禾数字科技有限公司",
            "m_M01": pdf("参保缴费凭证.pdf", "M01"),
        },
    )
    assert response.status_code == 302, texts(response)[:3000]
    composite = Composite.objects.get()
    assert response["Location"] == f"/composites/{composite.number}/"
    page = texts(client.get(response["Location"]))
    assert "出具联系函" in page and "转出地" in page and "接续办" in page
    window = texts(client.get("/window/"))
    assert composite.number in window and "0/3 个环节已办结" in window

    official = user_with("sh.hrss", role="official", organization=region.org(SH_HRSS))
    first = composite.members.get(key="contact_letter").case_number
    services.case_accept(user=official, number=first, note="")
    client.force_login(official)
    # 审批待办 marks the row of a 联办件's stage with its role
    row = re.search(
        rf"<tr[^>]*>(?:(?!</tr>).)*{first}(?:(?!</tr>).)*</tr>", html(client.get("/work/")), re.S
    )
    assert row and "联办件 · 转入地" in row.group(0)
    stage = client.get(f"/cases/{first}/")
    text = texts(stage)
    assert f"联办件 {composite.number} 的第 1 环节（转入地）" in text
    # the approval asks for the stage's outputs, titled by the stage's own document
    assert 'name="approve-result-letter_number"' in html(stage)
    assert "出具《基本养老保险关系转移接续联系函》所需的信息" in text


def test_the_composite_lists_have_their_own_pager(client, api, region, monkeypatch):
    """我的办件 and the window's list page the 联办件 (``composite_page``) apart from the
    cases (``page``)."""
    from tests.api.test_composites import pension_application
    from tongban.portal import composite_views

    monkeypatch.setattr(composite_views, "COMPOSITE_PAGE_SIZE", 2)
    clerk = user_with("huangpu.clerk", role="clerk", window=region.window("sh-310101-01"))
    api.login(clerk)
    numbers = [api.post("/cases", pension_application(region)).json()["number"] for _ in range(3)]
    applicant = resident("lina", assurance="L3")  # the same 身份证号: their 联办件 too

    def cards(url, **query):
        page = html(client.get(url, query))
        return re.search(r'<section class="composite-list".*?</section>', page, re.S).group(0)

    for user, url in ((clerk, "/window/"), (applicant, "/me/cases/")):
        client.force_login(user)
        first = cards(url)
        assert numbers[2] in first and numbers[1] in first and numbers[0] not in first, url
        assert "第 1 / 2 页" in first and "composite_page=2" in first
        second = cards(url, composite_page="2", page="1")
        assert numbers[0] in second and numbers[2] not in second, url
        assert "composite_page=1" in second and "page=1" in second  # the cases' page kept
        # a page past the end shows the last one; a bad number the first
        assert numbers[0] in cards(url, composite_page="9")
        assert numbers[2] in cards(url, composite_page="x")
