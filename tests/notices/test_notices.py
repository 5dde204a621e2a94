"""Notices (issue 10): each change of a case reaches the applicant by SMS and in the
消息中心 at their home node. This node is sh; zj is a peer with a real key."""

from __future__ import annotations

import json
import re

import pytest
from django.db import transaction

from tests.api.test_cases_api import clerk
from tests.conftest import utc
from tests.factories import (
    ESTABLISHMENT,
    JIAXING_AMR,
    QINGPU_AMR,
    establishment_form,
    id_number,
    materials_payload,
    user_with,
    zj_event,
)
from tongban.exchange.models import OutboxMessage
from tongban.identity import sms
from tongban.identity.pii import blind_index, decrypt_at_rest
from tongban.identity.services import person_upsert
from tongban.notices.models import Notice
from tongban.notices.services import applicant_notify

__all__ = ["clerk"]  # the fixtures, used by name

SH_RESIDENT = id_number("31022919880512456")  # 上海: home node sh, this node
ZJ_RESIDENT = id_number()  # 浙江 (330421…): home node zj
PHONE = "13801761234"


@pytest.fixture
def console_sms(settings):
    settings.TONGBAN_SMS_BACKEND = "tongban.identity.sms.ConsoleBackend"
    sms._backend.cache_clear()
    yield
    sms._backend.cache_clear()


def window_case(api, region, clerk, applicant_id: str) -> str:
    """The sh window takes an application that 嘉兴 (zj) decides: an origin case here."""
    body = {
        "window": "sh-310118-01",
        "item": ESTABLISHMENT,
        "organization": region.org(JIAXING_AMR).code,
        "applicant": {"name": "李娜", "id_number": applicant_id, "phone": PHONE},
        "form": establishment_form(address="浙江省嘉兴市南湖区"),
        "materials": materials_payload(),
    }
    response = api.login(clerk).post("/cases", body)
    assert response.status_code == 201, response.content
    return response.json()["number"]


def inbox(client, envelope) -> tuple[int, dict]:
    response = client.post(
        "/api/v1/exchange/inbox", json.dumps(envelope), content_type="application/json"
    )
    return response.status_code, response.json()


def notice_envelope(region, *, seq=1, **overrides):
    body = {
        "id_number": SH_RESIDENT,
        "title": "办件已受理",
        "text": "您申请的“内资有限公司设立登记”（办件编号 N1）已受理，请等待审批结果。",
        "case_number": "N1",
        "link": "http://127.0.0.1:8003/sso/sh/start/?next=%2Fcases%2FN1%2F",
        "created_at": utc().isoformat(),
        **overrides,
    }
    return region.envelope(
        sender="zj", type="notice.deliver", correlation="notice:N1", seq=seq, body=body
    )


# --- a case's changes -----------------------------------------------------------------


def test_resident_here_gets_the_notice_here_and_an_sms_on_commit(
    region, api, clerk, console_sms, capsys, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        number = window_case(api, region, clerk, SH_RESIDENT)
    notice = Notice.objects.get()
    assert notice.recipient_index == blind_index(SH_RESIDENT) and notice.account is None
    assert (notice.title, notice.case_number, notice.origin_node) == ("办件已提交", number, "sh")
    assert "内资有限公司设立登记" in notice.text and number in notice.text
    assert notice.link == f"/cases/{number}/" and notice.read_at is None
    assert not OutboxMessage.objects.filter(type="notice.deliver").exists()
    out = capsys.readouterr().out
    assert (
        f"[短信 → 138****1234] 【通办】您申请的“内资有限公司设立登记”（办件编号 {number}）" in out
    )
    assert PHONE not in out and SH_RESIDENT not in out


def test_resident_of_another_node_is_told_through_an_envelope_to_their_home(
    region, api, clerk, caplog
):
    caplog.set_level("INFO", logger="tongban.notices")
    number = window_case(api, region, clerk, ZJ_RESIDENT)
    assert not Notice.objects.exists()
    message = OutboxMessage.objects.get(type="notice.deliver")
    assert (message.recipient, message.correlation, message.seq) == ("zj", f"notice:{number}", 1)
    body = json.loads(decrypt_at_rest(message.envelope))["signed"]["body"]
    assert sorted(body) == ["case_number", "created_at", "id_number", "link", "text", "title"]
    assert body["id_number"] == ZJ_RESIDENT and body["case_number"] == number
    assert body["title"] == "办件已提交"
    # opened from zj: single sign-on at this node through zj, then the case page
    assert body["link"] == (f"http://127.0.0.1:8001/sso/zj/start/?next=%2Fcases%2F{number}%2F")
    assert ZJ_RESIDENT not in caplog.text and "3304**********" in caplog.text


def test_each_event_from_the_deciding_node_is_told_once_with_its_words(region, api, clerk, client):
    number = window_case(api, region, clerk, SH_RESIDENT)
    missing = [{"material_code": "M02", "name": "公司章程", "note": "缺少全体股东签字"}]
    event = zj_event(
        region,
        number,
        1,
        "request_supplements",
        "supplement_requested",
        reason="请补正后重新提交",
        details={"missing": missing},
    )
    assert inbox(client, event)[0] == 200
    notice = Notice.objects.get(title="办件待补正")
    assert "公司章程（缺少全体股东签字）" in notice.text and "请补正后重新提交" in notice.text
    supplied = api.post(f"/cases/{number}/supply", {"materials": materials_payload(("M02",))})
    assert supplied.status_code == 200, supplied.content
    assert Notice.objects.filter(title="补正材料已提交").count() == 1
    assert inbox(client, zj_event(region, number, 2, "accept", "accepted"))[0] == 200
    deny = zj_event(region, number, 3, "deny", "denied", reason="经营范围涉及前置许可")
    assert inbox(client, deny)[0] == 200
    titles = list(Notice.objects.order_by("id").values_list("title", flat=True))
    assert titles == ["办件已提交", "办件待补正", "补正材料已提交", "办件已受理", "办件不予许可"]
    assert "理由：经营范围涉及前置许可" in Notice.objects.get(title="办件不予许可").text


def test_the_deciding_node_does_not_tell_the_applicant_again(region, api, client):
    """A case received from zj is decided here: zj, which received it, tells the applicant."""
    number = "11310118NOTICETEST00000001"
    assert (
        inbox(client, region.case_submit_envelope(number=number, applicant_id=SH_RESIDENT))[0]
        == 200
    )
    official = user_with("qingpu.official", role="official", organization=region.org(QINGPU_AMR))
    assert api.login(official).post(f"/cases/{number}/accept", {}).status_code == 200
    assert api.post(f"/cases/{number}/approve", {}).status_code == 200
    assert not Notice.objects.exists()
    assert not OutboxMessage.objects.filter(type="notice.deliver").exists()


@pytest.mark.django_db(transaction=True)
def test_applicant_notify_runs_only_inside_the_callers_transaction():
    with pytest.raises(RuntimeError):
        applicant_notify(id_number=SH_RESIDENT, phone=PHONE, title="t", text="x")


# --- notice.deliver at the home node --------------------------------------------------


def test_home_node_stores_a_notice_sent_by_another_node(region, client):
    status, receipt = inbox(client, notice_envelope(region))
    assert status == 200 and receipt["signed"]["status"] == "accepted"
    notice = Notice.objects.get()
    assert notice.recipient_index == blind_index(SH_RESIDENT) and notice.origin_node == "zj"
    assert notice.title == "办件已受理" and notice.case_number == "N1"
    assert notice.link.startswith("http://127.0.0.1:8003/sso/sh/start/")
    # the same message again: no second notice
    assert inbox(client, notice_envelope(region))[0] in (200, 409)
    assert Notice.objects.count() == 1


@pytest.mark.parametrize(
    "change",
    [
        {"id_number": ZJ_RESIDENT},  # not a resident of this node
        {"link": "http://phishing.example/cases/N1/"},  # not the sender's address
        {"link": "http://127.0.0.1:8001/cases/N1/"},  # this node's, not the sender's
        {"title": ""},
        {"text": 5},
        {"created_at": "yesterday"},
        {"case_number": "x" * 65},
    ],
)
def test_home_node_refuses_a_notice_it_cannot_keep(region, client, change):
    status, receipt = inbox(client, notice_envelope(region, **change))
    assert status == 409 and receipt["signed"]["status"] == "refused"
    assert not Notice.objects.exists()


# --- 消息中心 ----------------------------------------------------------------------------


def test_message_centre_shows_only_the_signed_in_persons_notices(region, client):
    me = user_with("lina", person=person_upsert(name="李娜", id_number=SH_RESIDENT), assurance="L3")
    other_id = id_number("31011519880512457")
    other = user_with(
        "wangfang", person=person_upsert(name="王芳", id_number=other_id), assurance="L3"
    )
    with transaction.atomic():
        applicant_notify(
            id_number=SH_RESIDENT, phone="", title="办件已受理", text="我的消息", link="/cases/A/"
        )
        applicant_notify(id_number=other_id, phone="", title="办件已受理", text="别人的消息")
    client.force_login(me)
    page = client.get("/messages/")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.content.decode()))
    assert page.status_code == 200 and "消息中心" in text
    assert "我的消息" in text and "别人的消息" not in text
    assert re.search(r'class="tag tag-danger nav-count">1<', page.content.decode())
    assert 'href="/cases/A/"' in page.content.decode()
    theirs = Notice.objects.get(text="别人的消息")
    mine = Notice.objects.get(text="我的消息")
    assert client.post(f"/messages/{theirs.pk}/read/").status_code == 404
    assert Notice.objects.get(pk=theirs.pk).read_at is None
    assert client.post(f"/messages/{mine.pk}/read/").status_code == 302
    assert Notice.objects.get(pk=mine.pk).read_at is not None
    assert "nav-count" not in client.get("/messages/").content.decode()
    client.force_login(other)
    assert client.post("/messages/read-all/").status_code == 302
    assert Notice.objects.get(pk=theirs.pk).read_at is not None
    # staff have no 消息中心
    client.force_login(user_with("clerk2", role="clerk", window=region.window("sh-310118-01")))
    assert client.get("/messages/").status_code == 403


def test_an_unproven_account_reads_only_what_it_asked_for(region, client):
    """ADR 0010: an SMS code proves a phone, not a person — notices under the 身份证号
    (a window case) need L3; the account's own online application does not."""
    l2 = user_with("lina", person=person_upsert(name="李娜", id_number=SH_RESIDENT), assurance="L2")
    with transaction.atomic():
        applicant_notify(id_number=SH_RESIDENT, phone="", title="窗口办件", text="窗口")
        applicant_notify(id_number=SH_RESIDENT, phone="", title="网上办件", text="网上", account=l2)
    client.force_login(l2)
    text = client.get("/messages/").content.decode()
    assert "网上办件" in text and "窗口办件" not in text
    window_notice = Notice.objects.get(title="窗口办件")
    assert client.post(f"/messages/{window_notice.pk}/read/").status_code == 404
