"""电子证照 pages through the Django test client (this node is sh): the holder's
证照夹 and 亮证, public 核验 (paste, upload), the public status page, and the
issuing authority's pages. Licences are issued the way an official does it."""

from __future__ import annotations

import datetime as dt
import html as html_lib
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from tests.factories import PNG, id_number, user_with
from tongban.identity.services import person_upsert
from tongban.licences import services
from tongban.licences.models import Licence, LicenceStatus, VerificationRecord, WalletEntry
from tongban.licences.qr_images import qr_png

pytestmark = pytest.mark.django_db

DRIVING = "11100000000013338W003"  # 机动车驾驶证
SH_POLICE = "上海市公安局"
SH_ID = "31010419850612001"
OTHER_ID = "31010419900101002"
LICENCE_NUMBER = "310104198506120011"
ADDRESS = "上海市徐汇区漕溪北路88号"


def texts(response) -> str:
    body = re.sub(r"<[^>]+>", " ", response.content.decode())
    return re.sub(r"\s+", " ", html_lib.unescape(body))


def qr_text_of(response) -> str:
    match = re.search(r'<textarea id="qr-text"[^>]*>([^<]+)</textarea>', response.content.decode())
    assert match, "the 亮证 page shows the QR text in #qr-text"
    return html_lib.unescape(match.group(1)).strip()


def no_inline_code(response) -> None:
    """CSP: scripts only from static files, no inline styles."""
    page = response.content.decode()
    for tag in re.findall(r"<script[^>]*>", page):
        assert "src=" in tag, tag
    assert 'style="' not in page and "<style" not in page


def driving_fields(**overrides) -> dict:
    fields = {
        "licence_number": LICENCE_NUMBER,
        "address": ADDRESS,
        "birth_date": "1985-06-12",
        "first_issue_date": "2010-05-01",
        "vehicle_class": "C1",
        "valid_from": "2024-05-01",
        "valid_until": "2030-05-01",
    }
    fields.update(overrides)
    return fields


@pytest.fixture
def police(region):
    return user_with("police.official", role="official", organization=region.org(SH_POLICE))


@pytest.fixture
def holder(region):
    person = person_upsert(name="陈静", id_number=id_number(SH_ID), home_node="sh")
    return user_with("chenjing", person=person, assurance="L3")


@pytest.fixture
def other(region):
    person = person_upsert(name="王芳", id_number=id_number(OTHER_ID), home_node="sh")
    return user_with("wangfang", person=person, assurance="L3")


@pytest.fixture
def licence(region, police, holder) -> Licence:
    return services.licence_issue(
        user=police,
        type_code=DRIVING,
        organization_code=region.org(SH_POLICE).code,
        holder={"name": "陈静", "id_number": id_number(SH_ID)},
        fields=driving_fields(),
    )


def show(client, holder, identifier, fields=("holder_name", "licence_number"), ttl="180"):
    client.force_login(holder)
    response = client.post(
        f"/me/licences/{identifier}/show/", {"fields_shown": list(fields), "ttl": ttl}
    )
    assert response.status_code == 200, texts(response)
    return response


def verify_text(client, text, **extra):
    return client.post("/verify/", {"qr_text": text, **extra})


# --- the wallet --------------------------------------------------------------------------


def test_wallet_list_detail_and_a_code_that_verifies(client, licence, holder):
    client.force_login(holder)
    listing = client.get("/me/licences/")
    page = texts(listing)
    assert listing.status_code == 200
    assert "机动车驾驶证" in page and SH_POLICE in page and "有效" in page
    assert f"/me/licences/{licence.identifier}/" in listing.content.decode()
    assert "证照夹" in texts(client.get("/"))  # the nav link for a signed-in resident
    no_inline_code(listing)

    detail = client.get(f"/me/licences/{licence.identifier}/")
    page = texts(detail)
    assert detail.status_code == 200
    assert "陈静" in page and ADDRESS in page and "C1" in page
    full_id = id_number(SH_ID)
    assert full_id not in detail.content.decode()  # masked
    assert full_id[:4] + "**********" + full_id[-4:] in page
    assert "暂无用证记录" in page
    pdf = client.get(f"/me/licences/{licence.identifier}/pdf/")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

    form = client.get(f"/me/licences/{licence.identifier}/show/")
    assert form.status_code == 200
    checked = re.findall(r'<input[^>]+name="fields_shown"[^>]*>', form.content.decode())
    defaults = {re.search(r'value="([^"]+)"', tag).group(1) for tag in checked if "checked" in tag}
    # the 证号 of a 驾驶证 is the 身份证号: never shown by default, masked unless ticked
    assert defaults == {"holder_name"}
    assert re.search(r'<input[^>]+name="mask_unshown"[^>]+checked', form.content.decode())
    assert 'value="180"' in form.content.decode()

    shown = show(client, holder, licence.identifier)
    page = texts(shown)
    assert 'src="data:image/svg+xml' in shown.content.decode()
    assert "licence-show.js" in shown.content.decode()
    assert "陈静" in page and LICENCE_NUMBER in page
    assert shown["Cache-Control"].startswith("private") or "no-store" in shown["Cache-Control"]
    no_inline_code(shown)
    text = qr_text_of(shown)
    assert text.startswith("TB1:")

    client.logout()  # a verifier needs no account
    result = verify_text(client, text)
    page = texts(result)
    assert result.status_code == 200
    assert 'data-verdict="valid"' in result.content.decode()
    assert "陈静" in page and LICENCE_NUMBER in page
    assert ADDRESS not in page and "C1" not in page  # not chosen, not disclosed
    assert "机动车驾驶证" in page and SH_POLICE in page
    assert "发证节点的证照登记" in page  # where the status came from
    no_inline_code(result)
    record = VerificationRecord.objects.get()
    assert record.verdict == "valid" and record.channel == "page" and not record.online


def test_show_rejects_bad_choices_and_expired_licences_are_marked(client, licence, holder):
    client.force_login(holder)
    url = f"/me/licences/{licence.identifier}/show/"
    nothing = client.post(url, {"ttl": "180"})
    assert nothing.status_code == 400 and "请至少选择一项要出示的信息" in texts(nothing)
    unknown = client.post(url, {"fields_shown": ["colour"], "ttl": "180"})
    assert unknown.status_code == 400
    bad_ttl = client.post(url, {"fields_shown": ["holder_name"], "ttl": "99999"})
    assert bad_ttl.status_code == 400

    WalletEntry.objects.filter(identifier=licence.identifier).update(
        valid_to=timezone.localdate() - dt.timedelta(days=1)
    )
    listing = texts(client.get("/me/licences/"))
    assert "已过期" in listing
    refused = client.get(url)
    assert "不能亮证" in texts(refused)
    posted = client.post(url, {"fields_shown": ["holder_name"], "ttl": "180"})
    assert posted.status_code == 409 and "不在有效期内" in texts(posted)


def test_an_uploaded_picture_of_the_code_verifies(client, licence, holder):
    text = qr_text_of(show(client, holder, licence.identifier, fields=["vehicle_class"]))
    client.logout()
    picture = SimpleUploadedFile("code.png", qr_png(text), "image/png")
    result = client.post("/verify/", {"image": picture, "online": "on"})
    assert result.status_code == 200, texts(result)
    assert 'data-verdict="valid"' in result.content.decode()
    assert "C1" in texts(result) and "陈静" not in texts(result)
    assert VerificationRecord.objects.get().online


def test_bad_input_gets_a_clear_message_not_a_server_error(client, region):
    page = client.get("/verify/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "vendor/jsQR.js" in html and "licence-verify.js" in html
    no_inline_code(page)

    empty = client.post("/verify/", {})
    assert empty.status_code == 400 and "请扫描亮证码、上传二维码图片或粘贴亮证码文本" in texts(
        empty
    )
    garbage = client.post(
        "/verify/", {"image": SimpleUploadedFile("x.png", b"not a picture", "image/png")}
    )
    assert garbage.status_code == 400 and "无法读取图片" in texts(garbage)
    blank = client.post("/verify/", {"image": SimpleUploadedFile("x.png", PNG, "image/png")})
    assert blank.status_code == 400 and "图片中未找到可识别的二维码" in texts(blank)
    other_code = client.post(
        "/verify/",
        {"image": SimpleUploadedFile("x.png", qr_png("https://example.com/"), "image/png")},
    )
    assert other_code.status_code == 400 and "这不是电子证照亮证码" in texts(other_code)
    words = verify_text(client, "hello")
    assert words.status_code == 400 and "这不是电子证照亮证码" in texts(words)
    assert not VerificationRecord.objects.exists()

    damaged = verify_text(client, "TB1:%%%garbage")
    assert damaged.status_code == 200
    assert 'data-verdict="tampered"' in damaged.content.decode()
    assert "亮证码被篡改或格式错误" in texts(damaged)
    assert VerificationRecord.objects.get().verdict == "tampered"


def test_the_pdf_status_code_points_to_the_status_page(client, licence):
    url = f"http://127.0.0.1:8001/verify/licence/{licence.identifier}"
    response = client.post(
        "/verify/", {"image": SimpleUploadedFile("x.png", qr_png(url), "image/png")}
    )
    assert response.status_code == 400
    assert f'href="/verify/licence/{licence.identifier}/"' in response.content.decode()


def test_revoked_and_suspended_licences_fail_verification(client, licence, holder, police):
    text = qr_text_of(show(client, holder, licence.identifier))
    services.licence_status_change(
        user=police, identifier=licence.identifier, action="suspend", reason="扣分满12分"
    )
    assert 'data-verdict="suspended"' in verify_text(client, text).content.decode()
    services.licence_status_change(
        user=police, identifier=licence.identifier, action="revoke", reason="吊销"
    )
    result = verify_text(client, text)
    assert result.status_code == 200
    assert 'data-verdict="revoked"' in result.content.decode()
    assert "已吊销" in texts(result)
    client.force_login(holder)
    assert "已吊销" in texts(client.get("/me/licences/"))


def test_nobody_else_sees_a_wallet_entry(client, licence, other, police):
    for user in (other, police):
        client.force_login(user)
        for suffix in ("", "pdf/", "show/"):
            response = client.get(f"/me/licences/{licence.identifier}/{suffix}")
            assert response.status_code in (403, 404), (user, suffix)
    client.force_login(other)
    assert client.get(f"/me/licences/{licence.identifier}/").status_code == 404
    post = client.post(
        f"/me/licences/{licence.identifier}/show/", {"fields_shown": ["holder_name"], "ttl": "60"}
    )
    assert post.status_code == 404
    assert licence.identifier not in client.get("/me/licences/").content.decode()
    client.force_login(police)  # staff have no wallet
    assert client.get("/me/licences/").status_code == 403
    client.logout()
    assert client.get("/me/licences/").status_code == 302


def test_public_status_page_shows_no_personal_data(client, licence, police):
    response = client.get(f"/verify/licence/{licence.identifier}/")
    page = texts(response)
    assert response.status_code == 200
    assert "机动车驾驶证" in page and SH_POLICE in page and "第 1 版" in page and "有效" in page
    for secret in ("陈静", "陈", id_number(SH_ID), id_number(SH_ID)[-4:], LICENCE_NUMBER, ADDRESS):
        assert secret not in page, secret
    # the address printed on the PDF has no trailing slash
    redirect = client.get(f"/verify/licence/{licence.identifier}")
    assert redirect.status_code == 301
    assert redirect["Location"].endswith(f"/verify/licence/{licence.identifier}/")
    assert client.get("/verify/licence/1.2.156.3005.2.nothing/").status_code == 404

    services.licence_status_change(
        user=police, identifier=licence.identifier, action="revoke", reason="陈静驾驶证吊销"
    )
    revoked = texts(client.get(f"/verify/licence/{licence.identifier}/"))
    assert "已吊销" in revoked and "陈静" not in revoked


# --- the issuing authority ------------------------------------------------------------------


def issue_data(region, **overrides) -> dict:
    data = {
        "type": DRIVING,
        "organization": region.org(SH_POLICE).code,
        "holder_name": "陈静",
        "holder_id": id_number(SH_ID),
        "home_node": "",
        "valid_from": "",
        "valid_to": "",
        **{f"f_{k}": v for k, v in driving_fields().items()},
    }
    data.update(overrides)
    return data


def test_official_issues_a_licence_through_the_forms(client, region, police, holder):
    client.force_login(police)
    assert "证照颁发" in texts(client.get("/"))
    choose = client.get("/work/licences/issue/")
    assert choose.status_code == 200 and "机动车驾驶证" in texts(choose)
    step2 = client.get(
        "/work/licences/issue/", {"type": DRIVING, "organization": region.org(SH_POLICE).code}
    )
    assert step2.status_code == 200
    html = step2.content.decode()
    assert 'name="f_birth_date"' in html and 'type="date"' in html
    assert "公民身份号码" in texts(step2)

    valid = id_number(SH_ID)
    wrong = valid[:-1] + ("0" if valid[-1] != "0" else "1")  # bad check digit
    bad_id = client.post("/work/licences/issue/", issue_data(region, holder_id=wrong))
    assert bad_id.status_code == 400 and "持证主体证件号码无效" in texts(bad_id)
    missing = client.post("/work/licences/issue/", issue_data(region, f_vehicle_class=""))
    assert missing.status_code == 400 and "has-error" in missing.content.decode()
    bad_date = client.post(
        "/work/licences/issue/", issue_data(region, valid_from="2030-01-01", valid_to="2029-01-01")
    )
    assert bad_date.status_code == 400 and "有效期止不能早于有效期起" in texts(bad_date)
    bad_type = client.get("/work/licences/issue/", {"type": "X" * 21, "organization": "x"})
    assert bad_type.status_code == 400
    assert not Licence.objects.exists()

    done = client.post("/work/licences/issue/", issue_data(region), follow=True)
    assert done.status_code == 200, texts(done)
    licence = Licence.objects.get()
    assert done.redirect_chain[-1][0] == f"/work/licences/{licence.identifier}/"
    page = texts(done)
    assert "已颁发机动车驾驶证" in page and "陈静" in page and "C1" in page
    assert id_number(SH_ID) not in done.content.decode()
    assert WalletEntry.objects.filter(identifier=licence.identifier).exists()
    listing = client.get("/work/licences/")
    assert listing.status_code == 200 and "陈静" in texts(listing)
    pdf = client.get(f"/work/licences/{licence.identifier}/pdf/")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_official_suspends_reinstates_revokes_and_renews(client, licence, police, holder):
    client.force_login(police)
    base = f"/work/licences/{licence.identifier}/"
    detail = client.get(base)
    assert detail.status_code == 200
    no_inline_code(detail)
    no_reason = client.post(base + "actions/suspend/", {"suspend-reason": ""})
    assert no_reason.status_code == 400 and "请填写原因" in texts(no_reason)
    ok = client.post(base + "actions/suspend/", {"suspend-reason": "扣分满12分"}, follow=True)
    assert "证照已暂扣" in texts(ok)
    assert Licence.objects.get(pk=licence.pk).status == LicenceStatus.SUSPENDED
    client.post(base + "actions/reinstate/", {"reinstate-reason": ""})
    assert Licence.objects.get(pk=licence.pk).status == LicenceStatus.VALID
    again = client.post(base + "actions/reinstate/", {"reinstate-reason": ""})
    assert again.status_code == 409 and "不能执行该操作" in texts(again)

    renew_data = {f"renew-f_{k}": v for k, v in driving_fields(vehicle_class="B2").items()} | {
        "renew-valid_to": ""
    }
    renewed = client.post(base + "actions/renew/", renew_data, follow=True)
    assert renewed.status_code == 200 and "已换发第 2 版" in texts(renewed)
    new = Licence.objects.get(version=2)
    assert services.licence_values(new)["vehicle_class"] == "B2"
    assert Licence.objects.get(pk=licence.pk).status == LicenceStatus.SUPERSEDED
    client.force_login(holder)
    assert "已换发" in texts(client.get(f"/me/licences/{licence.identifier}/"))

    client.force_login(police)
    unconfirmed = client.post(
        f"/work/licences/{new.identifier}/actions/revoke/", {"revoke-reason": "注销"}
    )
    assert unconfirmed.status_code == 400 and "请勾选确认" in texts(unconfirmed)
    assert Licence.objects.get(pk=new.pk).status == LicenceStatus.VALID
    revoke = client.post(
        f"/work/licences/{new.identifier}/actions/revoke/",
        {"revoke-reason": "注销", "revoke-confirm": "on"},
        follow=True,
    )
    assert "证照已吊销/注销" in texts(revoke)
    assert client.post(base + "actions/explode/", {}).status_code == 404


def test_non_officials_are_refused(client, region, licence, holder, other):
    supervisor = user_with(
        "police.supervisor", role="supervisor", organization=region.org(SH_POLICE)
    )
    elsewhere = user_with(
        "songjiang.official",
        role="official",
        organization=region.org("上海市松江区市场监督管理局"),
    )
    client.force_login(holder)
    assert client.get("/work/licences/").status_code == 403
    assert client.get("/work/licences/issue/").status_code == 403
    assert client.post("/work/licences/issue/", issue_data(region)).status_code == 403
    assert client.get(f"/work/licences/{licence.identifier}/").status_code == 403
    assert "证照颁发" not in texts(client.get("/"))

    # a supervisor reads but neither issues nor changes
    client.force_login(supervisor)
    assert client.get("/work/licences/").status_code == 200
    detail = client.get(f"/work/licences/{licence.identifier}/")
    assert detail.status_code == 200 and "证照管理" not in texts(detail)
    assert client.get("/work/licences/issue/").status_code == 403
    refused = client.post(
        f"/work/licences/{licence.identifier}/actions/revoke/",
        {"revoke-reason": "x", "revoke-confirm": "on"},
    )
    assert refused.status_code == 403

    # another organization's official does not see this licence at all
    client.force_login(elsewhere)
    assert licence.identifier not in client.get("/work/licences/").content.decode()
    assert client.get(f"/work/licences/{licence.identifier}/").status_code == 404
    denied = client.post(
        "/work/licences/issue/", issue_data(region, organization=region.org(SH_POLICE).code)
    )
    assert denied.status_code == 400  # not one of the organizations they may choose
    assert Licence.objects.count() == 1

    client.logout()
    assert client.get("/work/licences/").status_code == 302
    assert Licence.objects.get().status == LicenceStatus.VALID
