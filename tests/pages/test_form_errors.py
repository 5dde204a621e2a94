"""Forms that report every error at once and keep the files (this node is sh).

Window intake, online application, registration and the enterprise forms: one
submit with several mistakes gets every mistake back, each next to its field and
listed in the summary; files that passed their checks are kept as a draft (with
their SM3) and become the case's materials on the successful submit; irreversible
decisions need a ticked confirmation; a GET on a POST-only address is sent to the
page instead of a 405.
"""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone

from tests.factories import (
    ESTABLISHMENT,
    JIAXING_AMR,
    PDF,
    PNG,
    QINGPU_AMR,
    enterprise_registry_seed,
    establishment_form,
    id_number,
    user_with,
)
from tests.pages.test_identity_pages import (
    HOUSEHOLD_PROOF,
    ZJ_POLICE,
    application,
    outbox,  # noqa: F401 — the SMS fixture
    register_data,
    resident,
    sign_in,
)
from tests.pages.test_pages import receive_from_zj
from tongban.cases import drafts
from tongban.cases.models import ApplicationDraft, Case, CaseMaterial, CaseStatus, DraftFile
from tongban.gm.sm3 import sm3_hex
from tongban.identity.demo_accounts import ENTERPRISES
from tongban.identity.models import Enterprise

pytestmark = pytest.mark.django_db

WINDOW = "sh-310118-01"
APPLY_URL = f"/window/apply/{ESTABLISHMENT}/"
NUMBER = "11310118FORMTEST000000000000000120261121310001"


def html(response) -> str:
    return response.content.decode()


def texts(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html(response)))


def invalid(response, field_id: str) -> bool:
    """The field is marked invalid (aria-invalid) where it is, not only in the banner."""
    page = html(response)
    return bool(
        re.search(rf'<(input|select|textarea)[^>]*aria-invalid="true"[^>]*id="{field_id}"', page)
        or re.search(rf'<(input|select|textarea)[^>]*id="{field_id}"[^>]*aria-invalid="true"', page)
    )


def summary_links(response) -> set[str]:
    block = re.search(r'<div class="form-errors".*?</div>', html(response), re.S)
    assert block, "no error summary"
    return set(re.findall(r'href="#([^"]+)"', block.group(0)))


def pdf(name: str, marker: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PDF + marker.encode(), "application/pdf")


def draft_token(response) -> str:
    match = re.search(r'name="draft" value="([^"]+)"', html(response))
    assert match, "no draft token in the form"
    return match.group(1)


@pytest.fixture
def clerk(region):
    return user_with("qingpu.clerk", role="clerk", window=region.window(WINDOW))


def window_data(region, **overrides) -> dict:
    data = {
        "window": WINDOW,
        "organization": region.org(JIAXING_AMR).code,
        "applicant_name": "张伟",
        "applicant_id_number": id_number(),
        "applicant_phone": "13905731234",
        "identity_verified": "on",
        **{f"f_{k}": v for k, v in establishment_form().items()},
    }
    data.update(overrides)
    return data


# --- window intake ---------------------------------------------------------------------------


def test_window_reports_every_error_at_once_and_keeps_the_good_files(client, region, clerk):
    client.force_login(clerk)
    form = client.get(APPLY_URL)
    page = html(form)
    # every required material is marked the same way, e-licence or not (M03, M05 have one)
    for code in ("M01", "M02", "M03", "M04", "M05"):
        assert re.search(rf'<label for="id_m_{code}" class="required"', page), code
    assert not re.search(r'<label for="id_m_M06" class="required"', page)

    first = client.post(
        APPLY_URL,
        window_data(
            region,
            applicant_id_number="330421199003071230",  # wrong check digit
            applicant_phone="12345",
            f_registered_capital="五百",
            m_M01=pdf("申请书.pdf", "M01"),
            m_M02=pdf("公司章程.pdf", "M02" + "x" * 10_800),
            m_M03=SimpleUploadedFile("身份证.pdf", b"not a file type at all", "application/pdf"),
            m_M04=SimpleUploadedFile("任职文件.pdf", PNG, "application/pdf"),  # a PNG: accepted
        ),
    )
    assert first.status_code == 400
    text = texts(first)
    # one answer: the applicant, the form and every file
    for message in (
        "身份证号码无效",
        "手机号码格式不正确",
        "应为数字",
        "只接受",
        "请上传“住所使用证明”",
    ):
        assert message in text, message
    for field in (
        "id_applicant_id_number",
        "id_applicant_phone",
        "id_f_registered_capital",
        "id_m_M03",
        "id_m_M05",
    ):
        assert invalid(first, field), field
        assert field in summary_links(first), field
    for field in ("id_m_M01", "id_m_M02", "id_m_M04"):
        assert not invalid(first, field), field
    # the files that passed are kept, with their name and size, and can be replaced
    assert "已上传" in text and "公司章程.pdf" in text and "10.6 KB" in text and "更换" in text
    assert "申请书.pdf" in text and "任职文件.pdf" in text
    token = draft_token(first)
    draft = ApplicationDraft.objects.get(token=token)
    kept = {f.material_code: f for f in draft.files.all()}
    assert set(kept) == {"M01", "M02", "M04"}
    assert kept["M01"].sm3 == sm3_hex(PDF + b"M01")
    assert Case.objects.count() == 0
    # entered values are kept too
    assert "上海青禾数字科技有限公司" in html(first)

    # the second round sends only what was wrong or missing, and replaces M01
    second = client.post(
        APPLY_URL,
        window_data(
            region,
            draft=token,
            m_M01=pdf("申请书（签字）.pdf", "M01 signed"),
            m_M03=pdf("身份证.pdf", "M03"),
            m_M05=pdf("住所.pdf", "M05"),
        ),
    )
    assert second.status_code == 302, texts(second)[:3000]
    case = Case.objects.get()
    materials = {m.material_code: m for m in CaseMaterial.objects.filter(case=case)}
    assert set(materials) == {"M01", "M02", "M03", "M04", "M05"}
    assert materials["M01"].filename == "申请书（签字）.pdf"
    assert materials["M01"].sm3 == sm3_hex(PDF + b"M01 signed")
    assert materials["M02"].sm3 == kept["M02"].sm3 and materials["M02"].filename == "公司章程.pdf"
    assert materials["M04"].media_type == "image/png"
    assert not ApplicationDraft.objects.filter(token=token).exists()
    # the stored file of a material is still there (the draft's files became the case's)
    assert client.get(f"/cases/{case.number}/materials/{materials['M02'].pk}/").status_code == 200


def test_a_draft_belongs_to_the_clerk_who_made_it(client, region, clerk):
    client.force_login(clerk)
    first = client.post(
        APPLY_URL, window_data(region, applicant_phone="1", m_M01=pdf("a.pdf", "1"))
    )
    token = draft_token(first)
    other = user_with("qingpu.clerk2", role="clerk", window=region.window(WINDOW))
    client.force_login(other)
    response = client.post(APPLY_URL, window_data(region, draft=token, applicant_phone="1"))
    assert response.status_code == 400
    assert draft_token(response) != token and "a.pdf" not in texts(response)
    assert "请上传“公司登记（备案）申请书”" in texts(response)


def test_window_asks_for_the_applicant_once(client, region):
    clerk = user_with("huangpu.clerk", role="clerk", window=region.window("sh-310101-01"))
    client.force_login(clerk)
    url = f"/window/apply/{HOUSEHOLD_PROOF}/"
    page = html(client.get(url))
    for name in ("f_applicant_name", "f_applicant_id_number", "f_contact_phone"):
        assert f'name="{name}"' not in page
    response = client.post(
        url,
        {
            "window": "sh-310101-01",
            "organization": region.org(ZJ_POLICE).code,
            "applicant_name": "李娜",
            "applicant_id_number": id_number("31022919880512456"),
            "applicant_phone": "13801761234",
            "identity_verified": "on",
            "f_proof_kind": "亲属关系",
            "f_purpose": "办理继承公证",
            "m_M01": pdf("身份证.pdf", "1"),
            "m_M02": pdf("户口簿.pdf", "2"),
        },
    )
    assert response.status_code == 302, texts(response)[:3000]
    case = Case.objects.get()
    assert case.form_data["applicant_name"] == "李娜"
    assert case.form_data["contact_phone"].startswith("sm4gcm:")  # from the applicant block


# --- online application: save a draft, resume it ---------------------------------------------


def test_online_draft_is_saved_listed_resumed_and_submitted(client, region, outbox):  # noqa: F811
    user = resident("lina")
    sign_in(client, user, outbox)
    url = f"/apply/{HOUSEHOLD_PROOF}/"
    data = application(HOUSEHOLD_PROOF, ZJ_POLICE, f_purpose="办理继承公证")
    del data["m_M02"]
    saved = client.post(url, {**data, "action": "save_draft"})
    assert saved.status_code == 302 and "?draft=" in saved["Location"]
    draft = ApplicationDraft.objects.get(user=user, saved=True)
    assert draft.expires_at > timezone.now() + dt.timedelta(days=29)
    assert "办理继承公证" not in draft.data_encrypted  # the answers are encrypted at rest

    # 我的草稿 on the item page
    item_page = texts(client.get(f"/items/{HOUSEHOLD_PROOF}/"))
    assert "我的草稿" in item_page and "已上传 2 份材料" in item_page

    resumed = client.get(saved["Location"])
    assert resumed.status_code == 200
    page = html(resumed)
    assert 'value="办理继承公证"' in page and "M01.pdf" in texts(resumed)
    assert draft_token(resumed) == draft.token

    submitted = client.post(
        url,
        {
            "draft": draft.token,
            "organization": data["organization"],
            "f_proof_kind": data["f_proof_kind"],
            "f_purpose": "办理继承公证",
            "m_M02": pdf("户口簿.pdf", "M02"),
        },
    )
    assert submitted.status_code == 302, texts(submitted)[:3000]
    case = Case.objects.get()
    assert set(case.materials.values_list("material_code", flat=True)) == {"M01", "M02", "M03"}
    assert not ApplicationDraft.objects.filter(pk=draft.pk).exists()


def test_online_form_reports_every_error_and_a_draft_can_be_discarded(client, region, outbox):  # noqa: F811
    user = resident("lina")
    sign_in(client, user, outbox)
    url = f"/apply/{HOUSEHOLD_PROOF}/"
    data = application(HOUSEHOLD_PROOF, ZJ_POLICE, f_proof_kind="", f_purpose="")
    data["m_M01"] = SimpleUploadedFile("x.pdf", b"plain text", "application/pdf")
    del data["m_M02"]
    response = client.post(url, data)
    assert response.status_code == 400
    for field in ("id_f_proof_kind", "id_f_purpose", "id_m_M01", "id_m_M02"):
        assert invalid(response, field), field
    client.post(url, {**data, "action": "save_draft", "f_purpose": "x"})
    draft = ApplicationDraft.objects.get(user=user, saved=True)
    gone = client.post(url, {"action": "discard_draft", "draft": draft.token})
    assert gone.status_code == 302
    assert not ApplicationDraft.objects.filter(pk=draft.pk).exists()


# --- registration and enterprises ---------------------------------------------------------------


def test_registration_reports_every_error_at_once(client, region):
    user_with("zhaomin")  # the username is taken
    response = client.post(
        "/register/",
        register_data(
            id_number="310101199001011230",
            phone="1381234",
            password1="12345678",
            password2="different-2026",
        ),
    )
    assert response.status_code == 400
    for field in ("id_id_number", "id_phone", "id_username", "id_password1", "id_password2"):
        assert invalid(response, field), field
        assert field in summary_links(response)


def test_enterprise_forms_report_every_error_at_once(client, region, outbox):  # noqa: F811
    user = resident("lina", assurance="L3")  # the register's legal representative
    enterprise_registry_seed()
    sign_in(client, user, outbox)
    bad = client.post("/me/enterprises/register/", {"reg-code": "91310115MA1K4LXR0X"})
    assert bad.status_code == 400
    assert invalid(bad, "id_reg-code")

    code = ENTERPRISES["sh"][1]  # in the sample register
    ok = client.post("/me/enterprises/register/", {"reg-code": code})
    assert ok.status_code == 302
    enterprise = Enterprise.objects.get(code=code)
    prefix = f"a{enterprise.pk}"
    response = client.post(
        f"/me/enterprises/{code}/agents/",
        {
            f"{prefix}-agent_name": "沈佳",
            f"{prefix}-agent_id_number": "330421199003071230",
            f"{prefix}-expires_on": (timezone.localdate() - dt.timedelta(days=1)).isoformat(),
        },
    )
    assert response.status_code == 400
    for field in ("agent_id_number", "expires_on", "items"):
        assert f"{prefix}-{field}" in html(response)
    text = texts(response)
    assert "身份证号码无效" in text and "授权有效期须晚于当前时间" in text
    assert "请选择授权事项" in text
    # a refresh of a POST-only address: the page, not a 405
    for path in ("/me/enterprises/register/", f"/me/enterprises/{code}/agents/"):
        answer = client.get(path)
        assert answer.status_code == 302 and answer["Location"] == "/me/enterprises/"


# --- irreversible decisions --------------------------------------------------------------------


def test_decisions_need_a_confirmation_and_a_get_goes_to_the_case(client, region):
    case = receive_from_zj(client, region, number=NUMBER)
    official = user_with("qingpu.official", role="official", organization=region.org(QINGPU_AMR))
    client.force_login(official)
    page = texts(client.get(f"/cases/{NUMBER}/"))
    assert "确认不予受理：办件将办结，不可撤回" in page
    refused = client.post(f"/cases/{NUMBER}/actions/refuse/", {"refuse-reason": "不在管辖范围"})
    assert refused.status_code == 400 and "请勾选确认" in texts(refused)
    case.refresh_from_db()
    assert case.status == CaseStatus.SUBMITTED

    answer = client.get(f"/cases/{NUMBER}/actions/refuse/")
    assert answer.status_code == 302 and answer["Location"].startswith(f"/cases/{NUMBER}/")

    client.post(f"/cases/{NUMBER}/actions/accept/", {"accept-note": ""})
    denied = client.post(f"/cases/{NUMBER}/actions/deny/", {"deny-reason": "材料不实"})
    assert denied.status_code == 400
    denied = client.post(
        f"/cases/{NUMBER}/actions/deny/", {"deny-reason": "材料不实", "deny-confirm": "on"}
    )
    assert denied.status_code == 302
    case.refresh_from_db()
    assert case.status == CaseStatus.DENIED


# --- drafts expire ---------------------------------------------------------------------------


def test_expired_drafts_are_purged_with_files_nobody_else_uses(client, region, clerk, settings):
    client.force_login(clerk)
    response = client.post(
        APPLY_URL,
        window_data(region, applicant_phone="1", m_M01=pdf("a.pdf", "only in a draft")),
    )
    draft = ApplicationDraft.objects.get(token=draft_token(response))
    stored = settings.TONGBAN_MEDIA_DIR / DraftFile.objects.get(draft=draft).storage_path
    assert stored.exists()
    assert draft.expires_at <= timezone.now() + drafts.WINDOW_DRAFT_LIFETIME
    assert drafts.draft_purge_expired() == 0
    ApplicationDraft.objects.filter(pk=draft.pk).update(expires_at=timezone.now())
    assert drafts.draft_purge_expired() == 1
    assert not ApplicationDraft.objects.filter(pk=draft.pk).exists() and not stored.exists()
    # an expired token is not used: the form starts a new draft
    again = client.post(APPLY_URL, window_data(region, draft=draft.token, applicant_phone="1"))
    assert draft_token(again) != draft.token


def test_a_kept_optional_file_can_be_removed(client, region, clerk):
    client.force_login(clerk)
    first = client.post(
        APPLY_URL, window_data(region, applicant_phone="1", m_M06=pdf("委托书.pdf", "M06"))
    )
    token = draft_token(first)
    assert "委托书.pdf" in texts(first) and 'name="drop_M06"' in html(first)
    assert 'name="drop_M01"' not in html(first)  # a required file is replaced, not removed
    second = client.post(
        APPLY_URL, window_data(region, applicant_phone="1", draft=token, drop_M06="1")
    )
    assert "委托书.pdf" not in texts(second)
    assert not DraftFile.objects.filter(draft__token=token).exists()
    call_command("drafts_purge", stdout=io.StringIO())
