"""补正 on an online application: the applicant who applied answers it (through the
API); nobody else does — as docs/api.md and docs/security.md describe."""

from __future__ import annotations

import json

from tests.api.test_identity_api import huji_apply_online, register, sms_outbox, token_for
from tests.factories import id_number, materials_payload, zj_event
from tongban.cases.models import Case
from tongban.exchange.models import OutboxMessage
from tongban.identity.models import User

__all__ = ["sms_outbox"]  # the fixture, used by name


def test_the_online_applicant_answers_a_supplement_request(region, api, sms_outbox):
    user = register(api, sms_outbox)
    token_for(api, sms_outbox, "lina", scopes=["cases:read", "cases:write"])
    r = huji_apply_online(api, user)
    assert r.status_code == 201, r.content
    number = r.json()["number"]
    event = zj_event(
        region,
        number,
        1,
        "request_supplements",
        "supplement_requested",
        reason="请补正",
        details={"missing": [{"material_code": "M02", "name": "户口簿"}]},
    )
    assert api.post("/exchange/inbox", raw=json.dumps(event).encode()).status_code == 200
    applicant_headers = api.headers

    # another resident of this node does not see the case, so cannot answer
    register(
        api,
        sms_outbox,
        username="other",
        name="王芳",
        number=id_number("31011519900307123"),
        phone="13801769999",
    )
    token_for(api, sms_outbox, "other")
    refused = api.post(f"/cases/{number}/supply", {"materials": materials_payload(("M02",))})
    assert refused.status_code == 404

    api.headers = applicant_headers
    supplied = api.post(
        f"/cases/{number}/supply", {"materials": materials_payload(("M02",)), "note": "已补"}
    )
    assert supplied.status_code == 200, supplied.content
    assert supplied.json()["status"] == "submitted"
    message = OutboxMessage.objects.get(type="case.supplement")
    assert (message.recipient, message.seq) == ("zj", 2)
    case = Case.objects.get(number=number)
    assert case.applicant_account == User.objects.get(username="lina")
