"""时限监督 (overdue and approaching cases per organization, for its supervisors) and the
hub's region-wide view of 联办件, which never receives personal data."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.utils import timezone

from tests.api.test_cases_api import NUMBER, received
from tests.api.test_composites import pension_application
from tests.factories import QINGPU_AMR, user_with
from tongban.cases.deadlines import add_working_days
from tongban.cases.models import Case, Composite, CompositeTrace
from tongban.exchange.models import InboxMessage, OutboxMessage
from tongban.identity.models import StaffAssignment, User
from tongban.identity.pii import decrypt_at_rest

SECOND = "11310118TESTCASE0000002"
THIRD = "11310118TESTCASE0000003"


@pytest.fixture
def supervisor(region):
    return user_with("qingpu.supervisor", role="supervisor", organization=region.org(QINGPU_AMR))


def _set_deadline(number: str, deadline: dt.date, **fields) -> None:
    Case.objects.filter(number=number).update(deadline=deadline, **fields)


@pytest.fixture
def three_cases(region, api):
    """One overdue, one due in two working days, one waiting for 补正 (clock stopped)."""
    today = timezone.localdate()
    for number in (NUMBER, SECOND, THIRD):
        received(region, api, number)
    _set_deadline(NUMBER, today - dt.timedelta(days=10))
    _set_deadline(SECOND, add_working_days(today, 2)[0])
    _set_deadline(THIRD, today - dt.timedelta(days=10), status="supplement_requested")
    return today


def test_supervisor_sees_overdue_and_approaching_cases_of_their_organization(
    region, api, supervisor, three_cases
):
    response = api.login(supervisor).get("/oversight/overdue")
    assert response.status_code == 200, response.content
    body = response.json()
    assert [r["number"] for r in body["overdue"]] == [NUMBER]
    overdue = body["overdue"][0]
    assert overdue["overdue"] is True and overdue["days_overdue"] >= 5
    assert overdue["organization_name"] == QINGPU_AMR and overdue["receiving_node"] == "zj"
    assert [r["number"] for r in body["approaching"]] == [SECOND]
    assert body["approaching"][0]["days_left"] == 2
    # no personal data in the oversight list
    text = json.dumps(body, ensure_ascii=False)
    assert "张伟" not in text and "applicant" not in text
    # a narrower horizon leaves the approaching case out
    assert api.get("/oversight/overdue?within_days=1").json()["approaching"] == []
    assert api.get("/oversight/overdue?within_days=99").status_code == 422


def test_concluded_and_withdrawn_cases_are_not_overdue(region, api, supervisor, three_cases):
    Case.objects.filter(number=NUMBER).update(status="withdrawn")
    assert api.login(supervisor).get("/oversight/overdue").json()["overdue"] == []


def test_others_see_nothing_or_are_refused(region, api, three_cases):
    other = user_with(
        "police.supervisor", role="supervisor", organization=region.org("上海市公安局")
    )
    body = api.login(other).get("/oversight/overdue").json()
    assert body["overdue"] == [] and body["approaching"] == []
    clerk = user_with("qingpu.clerk", role="clerk", window=region.window("sh-310118-01"))
    assert api.login(clerk).get("/oversight/overdue").status_code == 403


def test_oversight_page_lists_per_organization(region, api, client, supervisor, three_cases):
    client.force_login(supervisor)
    page = client.get("/oversight/")
    assert page.status_code == 200
    text = page.content.decode()
    assert QINGPU_AMR in text and NUMBER in text and SECOND in text
    assert THIRD not in text  # the clock stops during 补正
    assert "时限监督" in text and "超期" in text
    assert 'href="/oversight/"' in client.get("/").content.decode()  # in the menu
    clerk = user_with("qingpu.clerk", role="clerk", window=region.window("sh-310118-01"))
    client.force_login(clerk)
    assert client.get("/oversight/").status_code == 403


def test_member_of_a_composite_shows_its_stage(region, api, supervisor):
    hrss = user_with("huangpu.clerk", role="clerk", window=region.window("sh-310101-01"))
    created = api.login(hrss).post("/cases", pension_application(region))
    assert created.status_code == 201, created.content
    member = Case.objects.exclude(composite_number="").get()
    _set_deadline(member.number, timezone.localdate() - dt.timedelta(days=3))
    overseer = user_with(
        "hrss.supervisor", role="supervisor", organization=member.handling_organization
    )
    body = api.login(overseer).get("/oversight/overdue").json()
    row = next(r for r in body["overdue"] if r["number"] == member.number)
    assert row["composite_number"] == member.composite_number
    assert row["member_role"] == member.member_role and row["member_role"]


# --- the hub: composite.progress ------------------------------------------------------------


def _progress_envelopes() -> list[dict]:
    return [
        json.loads(decrypt_at_rest(m.envelope))
        for m in OutboxMessage.objects.filter(type="composite.progress").order_by("seq")
    ]


def test_progress_reaches_the_hub_without_personal_data(region, api, client, settings):
    clerk = user_with("huangpu.clerk", role="clerk", window=region.window("sh-310101-01"))
    application = pension_application(region)
    assert api.login(clerk).post("/cases", application).status_code == 201
    composite = Composite.objects.get()
    envelopes = _progress_envelopes()
    assert envelopes, "the coordinating node reports to the hub"
    assert {e["signed"]["recipient"] for e in envelopes} == {"hub"}
    applicant = application["applicant"]
    for envelope in envelopes:
        text = json.dumps(envelope, ensure_ascii=False)
        for personal in (applicant["name"], applicant["id_number"], applicant["phone"]):
            assert personal not in text
        assert envelope["signed"]["subject"] is None
    body = envelopes[-1]["signed"]["body"]
    assert body["number"] == composite.number and body["coordinating_node"] == "sh"
    assert {m["key"] for m in body["members"]} == set(
        composite.members.values_list("key", flat=True)
    )

    # at the hub: the report is stored, and only the listed fields
    settings.TONGBAN_NODE, settings.TONGBAN_ROLE = "hub", "hub"
    for envelope in envelopes:
        response = client.post(
            "/api/v1/exchange/inbox", json.dumps(envelope), content_type="application/json"
        )
        assert response.status_code == 200, response.content
        assert response.json()["signed"]["status"] == "accepted"
    trace = CompositeTrace.objects.get(number=composite.number)
    assert trace.coordinating_node == "sh" and trace.status == composite.status
    assert len(trace.members) == composite.members.count()
    stored = json.dumps(
        CompositeTrace.objects.filter(pk=trace.pk).values().get(), ensure_ascii=False, default=str
    )
    for personal in (applicant["name"], applicant["id_number"], applicant["phone"]):
        assert personal not in stored

    # the hub's operators see it; others do not
    operator = user_with("hub.operator")
    StaffAssignment.objects.create(user=operator, role="hub_admin")
    client.force_login(operator)
    page = client.get("/region/composites/")
    assert page.status_code == 200
    text = page.content.decode()
    assert composite.number in text and composite.item_name in text
    assert applicant["name"] not in text
    assert "联办件总览" in text  # the menu offers it to an operator with only that role
    assert composite.number not in client.get("/region/composites/?overdue=1").content.decode()
    client.force_login(user_with("hub.nobody"))
    assert client.get("/region/composites/").status_code == 403
    settings.TONGBAN_NODE, settings.TONGBAN_ROLE = "sh", "node"
    client.force_login(operator)
    assert client.get("/region/composites/").status_code == 404


def _hub_envelope(region, body: dict, *, seq: int = 1, sender: str = "zj") -> dict:
    return region.envelope(
        sender=sender,
        recipient="hub",
        type="composite.progress",
        correlation=body["number"],
        seq=seq,
        body=body,
    )


def _report(**overrides) -> dict:
    now = timezone.now().isoformat()
    body = {
        "number": "LB330000TEST0001",
        "kind": "bundle",
        "item": {"code": "000550001000", "name": "新生儿出生“一件事”"},
        "coordinating_node": "zj",
        "status": "in_progress",
        "submitted_at": now,
        "concluded_at": None,
        "reported_at": now,
        "members": [
            {
                "key": "birth",
                "role": "出生登记",
                "name": "出生登记",
                "node": "zj",
                "organization": {"code": "X", "name": "嘉兴市公安局"},
                "status": "submitted",
                "started_at": now,
                "deadline": (timezone.localdate() - dt.timedelta(days=2)).isoformat(),
                "concluded_at": None,
                # a sender that puts personal data where it does not belong: not kept
                "applicant": {"name": "张伟"},
            }
        ],
        "applicant": {"name": "张伟", "id_number": "330421199003071236"},
    }
    body.update(overrides)
    return body


def test_hub_keeps_only_the_listed_fields_and_checks_the_sender(region, client, settings):
    settings.TONGBAN_NODE, settings.TONGBAN_ROLE = "hub", "hub"

    def deliver(envelope):
        return client.post(
            "/api/v1/exchange/inbox", json.dumps(envelope), content_type="application/json"
        ).json()["signed"]

    assert deliver(_hub_envelope(region, _report()))["status"] == "accepted"
    trace = CompositeTrace.objects.get()
    assert "张伟" not in json.dumps(trace.members, ensure_ascii=False)
    assert trace.next_deadline < timezone.localdate()
    # a node reporting on another node's 联办件 is refused
    forged = _report(number="LB330000TEST0002")
    refused = deliver(_hub_envelope(region, forged, sender="js"))
    assert refused["status"] == "refused"
    assert not CompositeTrace.objects.filter(number="LB330000TEST0002").exists()
    # a later report replaces the earlier one
    done = _report(status="approved", concluded_at=timezone.now().isoformat())
    done["members"][0]["status"] = "approved"
    assert deliver(_hub_envelope(region, done, seq=2))["status"] == "accepted"
    trace.refresh_from_db()
    assert trace.status == "approved" and trace.next_deadline is None
    assert InboxMessage.objects.filter(type="composite.progress").count() == 3


def test_oversight_page_in_english(region, api, client, supervisor, three_cases):
    import re

    client.force_login(supervisor)
    client.cookies["tongban_language"] = "en"
    text = client.get("/oversight/").content.decode()
    assert "Deadline oversight" in text and "working days overdue" in text
    body = text.split('<main id="main"', 1)[1]
    body = body.replace(QINGPU_AMR, "").replace("内资有限公司设立登记", "")
    body = re.sub(r"嘉善[^<]*", "", body)  # the window's name: content
    left = re.findall(r"[\u3400-\u9fff]+", re.sub(r"<[^>]+>", " ", body))
    assert left == [], left


def test_node_administrator_oversees_every_organization_of_the_node(
    region, api, client, three_cases
):
    admin = user_with("sh.admin", role="node_admin")
    body = api.login(admin).get("/oversight/overdue").json()
    assert [r["number"] for r in body["overdue"]] == [NUMBER]
    client.force_login(admin)
    text = client.get("/oversight/").content.decode()
    assert QINGPU_AMR in text and NUMBER in text


def test_the_demo_hub_has_an_operator_for_the_region_view(region, settings):
    from django.core.management import call_command

    settings.TONGBAN_NODE, settings.TONGBAN_ROLE = "hub", "hub"
    call_command("demo_accounts", stdout=io.StringIO())
    operator = User.objects.get(username="hub.operator")
    assert StaffAssignment.objects.filter(user=operator, role="hub_admin").exists()
    assert not operator.is_superuser
