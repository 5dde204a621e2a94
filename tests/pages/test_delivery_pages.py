"""送达 on the pages (this node is sh): the choice in the window form (every error at
once, without JavaScript), the case page's delivery section with the address masked
for others, the waybill form for the receiving window and the pickup at the window."""

from __future__ import annotations

import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.api.test_case_delivery import zj_approves
from tests.factories import ESTABLISHMENT, PDF, id_number, user_with
from tests.pages.test_form_errors import invalid, texts, window_data
from tongban.cases.models import Case
from tongban.exchange.models import OutboxMessage
from tongban.identity.pii import decrypt_at_rest

pytestmark = pytest.mark.django_db

WINDOW = "sh-310118-01"
APPLY_URL = f"/window/apply/{ESTABLISHMENT}/"


def files() -> dict:
    return {
        f"m_{c}": SimpleUploadedFile(f"{c}.pdf", PDF + c.encode(), "application/pdf")
        for c in ("M01", "M02", "M03", "M04", "M05")
    }


@pytest.fixture
def clerk(region):
    return user_with("qingpu.clerk", role="clerk", window=region.window(WINDOW))


def test_the_window_form_offers_the_three_ways_and_reports_every_error(client, region, clerk):
    client.force_login(clerk)
    page = client.get(APPLY_URL).content.decode()
    assert "结果送达方式" in page
    for value in ("electronic", "post", "pickup"):
        assert re.search(rf'<input type="radio" name="delivery_method" value="{value}"', page)
    assert re.search(r'value="electronic"[^>]*checked', page)  # the default
    assert "<script" not in page.split('id="delivery"')[1].split("</fieldset>")[0]
    bad = client.post(
        APPLY_URL,
        window_data(
            region,
            delivery_method="post",
            delivery_recipient="",
            delivery_phone="139",
            delivery_address="嘉兴",
            **files(),
        ),
    )
    assert bad.status_code == 400
    text = texts(bad)
    for message in ("请填写收件人姓名", "请填写收件人的手机号码", "请填写详细的邮寄地址"):
        assert message in text, message
    for field in ("id_delivery_recipient", "id_delivery_phone", "id_delivery_address"):
        assert invalid(bad, field), field
    assert not Case.objects.exists()


def test_post_by_the_window_then_the_waybill_on_the_case_page(client, region, clerk, api):
    client.force_login(clerk)
    response = client.post(
        APPLY_URL,
        window_data(
            region,
            delivery_method="post",
            delivery_recipient="张伟",
            delivery_phone="13905731234",
            delivery_address="浙江省嘉兴市嘉善县罗星街道人民大道100号",
            **files(),
        ),
    )
    assert response.status_code == 302, texts(response)
    case = Case.objects.get()
    assert case.delivery_method == "post"
    body = json.loads(decrypt_at_rest(OutboxMessage.objects.get(type="case.submit").envelope))
    assert body["signed"]["body"]["case"]["delivery"]["address"]["recipient"] == "张伟"
    page = texts(client.get(f"/cases/{case.number}/"))
    assert "邮寄送达" in page and "人民大道100号" in page  # the window posts it: in full
    assert "登记寄出" not in page  # not concluded yet
    zj_approves(region, api, case.number)
    page = client.get(f"/cases/{case.number}/").content.decode()
    assert f'action="/cases/{case.number}/delivery/waybill/"' in page
    url = f"/cases/{case.number}/delivery/waybill/"
    bad = client.post(url, {"delivery-waybill-carrier": "EMS", "delivery-waybill-waybill": "#1"})
    assert bad.status_code == 400 and "运单号为6–40位" in texts(bad)
    done = client.post(
        url, {"delivery-waybill-carrier": "EMS", "delivery-waybill-waybill": "EA123456789CN"}
    )
    assert done.status_code == 302
    page = texts(client.get(f"/cases/{case.number}/"))
    assert "已寄出" in page and "EA123456789CN" in page
    # someone who may only read the case sees the address masked
    admin = user_with("sh.admin", role="node_admin")
    client.force_login(admin)
    page = texts(client.get(f"/cases/{case.number}/"))
    assert "人民大道100号" not in page and "浙江省嘉兴市****" in page and "139****1234" in page


def test_pickup_at_the_chosen_window_after_the_id_check(client, region, clerk, api):
    huangpu = user_with("huangpu.clerk", role="clerk", window=region.window("sh-310101-01"))
    client.force_login(clerk)
    response = client.post(
        APPLY_URL,
        window_data(region, delivery_method="pickup", delivery_window="sh-310101-01", **files()),
    )
    assert response.status_code == 302, texts(response)
    number = Case.objects.get().number
    zj_approves(region, api, number)
    client.force_login(huangpu)
    page = texts(client.get(f"/cases/{number}/"))
    assert "窗口自取" in page and "确认领取" in page
    url = f"/cases/{number}/delivery/pickup/"
    wrong = client.post(url, {"delivery-pickup-id_number": id_number("31011519800101123")})
    assert wrong.status_code == 400 and "请先当面核对身份证原件" in texts(wrong)
    wrong = client.post(
        url,
        {
            "delivery-pickup-id_number": id_number("31011519800101123"),
            "delivery-pickup-checked": "on",
        },
    )
    assert wrong.status_code == 403 and "与申请人的身份证号不一致" in texts(wrong)
    ok = client.post(
        url, {"delivery-pickup-id_number": id_number(), "delivery-pickup-checked": "on"}
    )
    assert ok.status_code == 302
    assert Case.objects.get().delivery_status == "picked_up"
    assert "已领取" in texts(client.get(f"/cases/{number}/"))


def test_the_delivery_words_are_english_after_the_switch(client, region, clerk, api):
    client.force_login(clerk)
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    page = client.get(APPLY_URL).content.decode()
    fieldset = page.split('id="delivery"')[1].split("</fieldset>")[0]
    fieldset = re.sub(r"<option[^>]*>[^<]*</option>", "", fieldset)  # window names: content
    assert "How the result is delivered" in fieldset
    assert not re.findall(r"[\u3400-\u9fff]+", re.sub(r"<[^>]+>", " ", fieldset))
    response = client.post(
        APPLY_URL, window_data(region, delivery_method="post", delivery_phone="1", **files())
    )
    assert "Enter the recipient" in texts(response)
    done = client.post(
        APPLY_URL,
        window_data(region, delivery_method="pickup", delivery_window=WINDOW, **files()),
    )
    assert done.status_code == 302
    number = Case.objects.get().number
    zj_approves(region, api, number)
    page = client.get(f"/cases/{number}/").content.decode()
    section = page.split('id="delivery"')[1].split("</section>")[0]
    section = section.replace(region.window(WINDOW).name, "")  # the window's name: content
    assert "Collect at a window" in section and "Confirm collection" in section
    assert not re.findall(r"[\u3400-\u9fff]+", re.sub(r"<[^>]+>", " ", section))
