"""The inbox: verification, rejection codes, idempotence, ordering — through HTTP."""

from __future__ import annotations

import copy
import json

import pytest

from tests.conftest import utc
from tests.factories import ESTABLISHMENT, QINGPU_AMR, user_with
from tongban.cases.models import Case
from tongban.exchange.message_log import message_log_verify
from tongban.exchange.models import InboxMessage, MessageLogEntry

NUMBER = "11310118TESTCASE0000001"


def post(api, envelope) -> tuple[int, dict]:
    raw = json.dumps(envelope).encode() if not isinstance(envelope, bytes) else envelope
    response = api.post("/exchange/inbox", raw=raw)
    return response.status_code, response.json()


def test_case_submit_creates_handling_case_with_signed_receipt(region, api):
    status, receipt = post(api, region.case_submit_envelope(number=NUMBER))
    assert status == 200, receipt
    assert receipt["signed"]["status"] == "accepted"
    assert receipt["signed"]["sender"] == "sh"
    # the receipt is signed by this node and names the SM3 of the request
    from tongban.directory.signing import peer_public_key
    from tongban.gm import sm2
    from tongban.gm.canonical import canonical_json

    kid = receipt["signature"]["kid"]
    assert sm2.verify_b64(
        peer_public_key("sh", kid), canonical_json(receipt["signed"]), receipt["signature"]["value"]
    )
    case = Case.objects.get(number=NUMBER)
    assert case.perspective == "handling"
    assert case.handling_organization.name == QINGPU_AMR
    assert case.item.basic_code == ESTABLISHMENT
    assert case.materials.count() == 5
    assert case.deadline is not None and case.legal_deadline >= case.deadline
    assert case.identity_assertion["authenticated_by"]["node"] == "zj"
    assert case.history.get().node == "zj"


def test_duplicate_gets_same_receipt_and_no_second_effect(region, api):
    envelope = region.case_submit_envelope(number=NUMBER)
    first = post(api, envelope)
    second = post(api, envelope)
    assert first == second
    assert Case.objects.filter(number=NUMBER).count() == 1
    assert InboxMessage.objects.count() == 1


@pytest.mark.parametrize(
    ("mutate", "code", "status"),
    [
        (lambda e, r: e["signed"]["body"]["case"].__setitem__("number", "X"), "bad_signature", 403),
        (lambda e, r: e["signature"].__setitem__("kid", "zj-unknown"), "unknown_key", 403),
        (lambda e, r: e["signed"].__setitem__("sender", "xx"), "unknown_sender", 403),
        (lambda e, r: e["signed"].__setitem__("seq", "1"), "malformed", 400),
        (lambda e, r: e.pop("signature"), "malformed", 400),
        (lambda e, r: e["blobs"].__setitem__(next(iter(e["blobs"])), "QUJD"), "blob_mismatch", 400),
    ],
)
def test_forged_or_malformed_envelopes_are_rejected_without_effect(
    region, api, mutate, code, status
):
    envelope = region.case_submit_envelope(number=NUMBER)
    mutate(envelope, region)
    got_status, body = post(api, envelope)
    assert got_status == status
    assert body["signed"]["status"] == "rejected"
    assert body["signed"]["code"] == code
    assert not Case.objects.exists()
    assert not InboxMessage.objects.exists()
    assert MessageLogEntry.objects.filter(kind="rejection", code=code).count() == 1


def test_signed_by_another_nodes_key_is_rejected(region, api):
    # js signs an envelope that claims to come from zj
    envelope = region.case_submit_envelope(number=NUMBER)
    forged = region.envelope(
        sender="zj", type="case.submit", correlation=NUMBER, seq=1, body=envelope["signed"]["body"]
    )
    forged["signature"] = region.signer("js")(b"anything")
    forged["signature"]["kid"] = region.peer_kids["zj"]
    status, body = post(api, forged)
    assert (status, body["signed"]["code"]) == (403, "bad_signature")


def test_wrong_recipient_expired_and_garbage(region, api):
    status, body = post(api, region.case_submit_envelope(number=NUMBER, recipient="ah"))
    assert (status, body["signed"]["code"]) == (403, "wrong_recipient")
    status, body = post(api, region.case_submit_envelope(number=NUMBER, issued_at=utc(days=-30)))
    assert (status, body["signed"]["code"]) == (422, "expired")
    status, body = post(api, region.case_submit_envelope(number=NUMBER, issued_at=utc(hours=2)))
    assert (status, body["signed"]["code"]) == (422, "not_yet_valid")
    status, body = post(api, b"{not json")
    assert (status, body["signed"]["code"]) == (400, "malformed")
    status, body = post(api, b"[1, 2]")
    assert (status, body["signed"]["code"]) == (400, "malformed")
    assert not Case.objects.exists()


def test_replayed_sequence_with_new_id_is_rejected(region, api):
    assert post(api, region.case_submit_envelope(number=NUMBER))[0] == 200
    replay = region.case_submit_envelope(number=NUMBER)  # same seq 1, fresh message id
    status, body = post(api, replay)
    assert (status, body["signed"]["code"]) == (409, "replayed")
    assert Case.objects.count() == 1


def test_events_apply_in_sequence_order(region, api):
    """A supplement (seq 2) that overtakes the submission (seq 1) waits for it."""
    official = user_with("qp", role="official", organization=region.org(QINGPU_AMR))
    submit = region.case_submit_envelope(number=NUMBER, seq=1)
    # seq 2 arrives first: queued, nothing applied
    early = region.envelope(
        type="case.supplement",
        correlation=NUMBER,
        seq=3,
        body={"number": NUMBER, "materials": [], "note": "x", "occurred_at": utc().isoformat()},
    )
    status, body = post(api, early)
    assert (status, body["signed"]["status"]) == (200, "queued")
    assert not Case.objects.exists()
    status, body = post(api, submit)
    assert body["signed"]["status"] == "accepted"
    # seq 3 still waits for seq 2
    assert InboxMessage.objects.get(seq=3).status == "pending"
    api.login(official)
    api.post(f"/cases/{NUMBER}/request-supplements", {"missing": [{"material_code": "M02"}]})
    supply = region.envelope(
        type="case.supplement",
        correlation=NUMBER,
        seq=2,
        body={"number": NUMBER, "materials": [], "note": "补正", "occurred_at": utc().isoformat()},
    )
    status, body = post(api, supply)
    assert body["signed"]["status"] == "accepted"
    # seq 3 was then applied right after seq 2: refused (case no longer awaits supplements)
    assert InboxMessage.objects.get(seq=3).status == "refused"
    assert Case.objects.get(number=NUMBER).status == "submitted"


def test_message_log_is_a_verifiable_hash_chain(region, api):
    post(api, region.case_submit_envelope(number=NUMBER))
    post(api, b"garbage")
    ok, count, _ = message_log_verify()
    # envelope in, "received" event out, the applicant's data use reported to their home
    # node out, receipt out, rejection
    assert ok and count == 5
    entry = MessageLogEntry.objects.order_by("position")[1]
    entry.peer = "js"
    entry.save()
    ok, _, problem = message_log_verify()
    assert not ok and "altered" in problem


def test_refused_submission_for_another_nodes_organization(region, api):
    envelope = region.case_submit_envelope(number=NUMBER, organization="嘉兴市市场监督管理局")
    status, body = post(api, envelope)
    assert (status, body["signed"]["status"]) == (409, "refused")
    assert not Case.objects.exists()
    # the duplicate of a refused message gets the same refusal
    assert post(api, envelope) == (status, body)


def test_unsigned_copy_is_not_accepted(region, api):
    envelope = region.case_submit_envelope(number=NUMBER)
    copy_ = copy.deepcopy(envelope)
    copy_["signature"]["value"] = ""
    status, body = post(api, copy_)
    assert (status, body["signed"]["code"]) == (403, "bad_signature")
