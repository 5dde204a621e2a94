"""电子证照 through the HTTP API at one node (sh): issue, wallet, 亮证, 核验 and
every attack the issue lists. Peers' messages are signed with their real keys."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from tests.factories import id_number, user_with
from tongban.exchange.models import OutboxMessage
from tongban.gm import sm2
from tongban.gm.canonical import canonical_json
from tongban.identity.services import person_upsert
from tongban.licences import formats
from tongban.licences.models import Licence, LicenceCounter, StatusListCache, WalletEntry

DRIVING = "11100000000013338W003"  # 机动车驾驶证
SH_POLICE = "上海市公安局"
SH_ID = "31010419850612001"
ZJ_ID = "33042119900307123"


def driving_fields(**overrides) -> dict:
    fields = {
        "licence_number": "310115198506120011",
        "vehicle_class": "C1",
        "first_issue_date": "2010-05-01",
        "address": "上海市浦东新区世纪大道100号",
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


def driving_type_fields() -> dict:
    from tongban.licences.models import LicenceType

    specs = LicenceType.objects.get(code=DRIVING).fields
    values = driving_fields()
    return {
        f["key"]: values.get(f["key"], "2020-01-01" if f["kind"] == "date" else "示例")
        for f in specs
        if not f.get("same_as")  # validity dates on the face follow valid_from/valid_to
    }


def issue(api, police, region, *, holder_id=None, name="陈静", **extra) -> dict:
    response = api.login(police).post(
        "/licences",
        {
            "type": DRIVING,
            "organization": region.org(SH_POLICE).code,
            "holder": {"name": name, "id_number": holder_id or id_number(SH_ID)},
            "fields": driving_type_fields(),
            **extra,
        },
    )
    assert response.status_code == 201, response.content
    return response.json()


def show(api, holder, identifier, fields=("holder_name", "vehicle_class"), ttl=None) -> str:
    body = {"fields": list(fields)}
    if ttl:
        body["ttl_seconds"] = ttl
    response = api.login(holder).post(f"/wallet/{identifier}/presentations", body)
    assert response.status_code == 201, response.content
    return response.json()["qr_text"]


def verify(api, text: str) -> dict:
    response = api.post("/licences/verifications", {"qr_text": text})
    assert response.status_code == 200, response.content
    return response.json()


def test_issue_follows_gbt_36904_and_reaches_the_local_wallet(region, api, police, holder):
    licence = issue(api, police, region)
    ident = formats.identifier_parse(licence["identifier"])
    assert ident.type_code == DRIVING and ident.issuer_code == region.org(SH_POLICE).code
    assert licence["identifier"].startswith("1.2.156.3005.2.")
    assert licence["valid_to"] is not None  # 驾驶证: six years
    stored = Licence.objects.get(identifier=licence["identifier"])
    # the issuer signed digests only: no face data in the signed part
    assert "上海市浦东新区" not in json.dumps(stored.payload, ensure_ascii=False)
    assert id_number(SH_ID) not in stored.holder_id_encrypted

    wallet = api.login(holder).get("/wallet").json()["results"]
    assert [w["identifier"] for w in wallet] == [licence["identifier"]]
    detail = api.get(f"/wallet/{licence['identifier']}").json()
    assert {f["key"]: f["value"] for f in detail["fields"]}["vehicle_class"] == "C1"
    pdf = api.get(f"/wallet/{licence['identifier']}/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_issue_for_another_provinces_resident_goes_to_their_home_node(region, api, police):
    licence = issue(api, police, region, holder_id=id_number(ZJ_ID), name="张伟")
    message = OutboxMessage.objects.get(type="licence.issued")
    assert message.recipient == "zj"
    assert not WalletEntry.objects.filter(identifier=licence["identifier"]).exists()


def test_issue_rejects_bad_input_and_changes_nothing(region, api, police, holder):
    api.login(police)
    base = {
        "type": DRIVING,
        "organization": region.org(SH_POLICE).code,
        "holder": {"name": "陈静", "id_number": id_number(SH_ID)},
        "fields": driving_type_fields(),
    }
    cases = [
        ({"type": "X" * 21}, "unknown_licence_type"),
        ({"holder": {"name": "陈静", "id_number": "310115198506120019"}}, "invalid_holder"),
        ({"fields": {**driving_type_fields(), "colour": "red"}}, "invalid_fields"),
        ({"fields": {**driving_type_fields(), "first_issue_date": "yesterday"}}, "invalid_fields"),
        ({"organization": region.org("浙江省公安厅").code}, "unknown_organization"),
        ({"valid_from": "2030-01-01", "valid_to": "2029-01-01"}, "invalid_validity"),
    ]
    for change, code in cases:
        response = api.post("/licences", {**base, **change})
        assert response.status_code in (400, 422), (change, response.content)
        if response.status_code == 400:
            assert response.json()["error"]["code"] == code
    # not an official of the issuing organization
    response = api.login(holder).post("/licences", base)
    assert response.status_code == 403
    assert Licence.objects.count() == 0 and WalletEntry.objects.count() == 0


def test_show_discloses_only_the_chosen_fields(region, api, police, holder):
    licence = issue(api, police, region)
    text = show(api, holder, licence["identifier"], fields=["vehicle_class"])
    document = formats.qr_decode(text)
    raw = json.dumps(document, ensure_ascii=False)
    for secret in ("陈静", id_number(SH_ID), "上海市浦东新区", "2010-05-01"):
        assert secret not in raw
    result = verify(api, text)
    assert result["verdict"] == "valid", result
    assert [d["key"] for d in result["disclosed"] if not d["masked"]] == ["vehicle_class"]
    # the 身份证号 (holder_id, and a 驾驶证's 证号) is only shown masked when not chosen
    masked = {d["key"]: d["value"] for d in result["disclosed"] if d["masked"]}
    assert set(masked) == {"holder_id", "licence_number"}
    assert all("**********" in v for v in masked.values())
    assert result["licence"]["type"]["name"] == "机动车驾驶证"
    assert result["licence"]["issuer"]["name"] == SH_POLICE


def test_verdicts_follow_the_status_list(region, api, police, holder):
    licence = issue(api, police, region)
    ident = licence["identifier"]
    text = show(api, holder, ident)
    assert verify(api, text)["verdict"] == "valid"

    api.login(police)
    assert (
        api.post(f"/licences/issued/{ident}/suspend", {"reason": "扣分满12分"}).status_code == 200
    )
    assert verify(api, text)["verdict"] == "suspended"
    api.login(police)
    assert api.post(f"/licences/issued/{ident}/reinstate", {}).status_code == 200
    assert verify(api, text)["verdict"] == "valid"
    api.login(police)
    assert api.post(f"/licences/issued/{ident}/revoke", {"reason": "吊销"}).status_code == 200
    assert verify(api, text)["verdict"] == "revoked"
    # a revoked licence cannot be shown any more, or revoked twice
    assert (
        api.login(holder).post(f"/wallet/{ident}/presentations", {"fields": []}).status_code == 409
    )
    again = api.login(police).post(f"/licences/issued/{ident}/revoke", {"reason": "x"})
    assert again.status_code == 409


def test_renewal_supersedes_the_old_version(region, api, police, holder):
    old = issue(api, police, region)
    text = show(api, holder, old["identifier"])
    response = api.login(police).post(
        f"/licences/issued/{old['identifier']}/renewals", {"fields": {"vehicle_class": "B2"}}
    )
    assert response.status_code == 201, response.content
    new = response.json()
    assert new["version"] == 2
    assert (
        formats.identifier_parse(new["identifier"]).serial
        == formats.identifier_parse(old["identifier"]).serial
    )
    assert verify(api, text)["verdict"] == "superseded"
    fresh = show(api, holder, new["identifier"], fields=["vehicle_class"])
    result = verify(api, fresh)
    shown = {d["key"]: d["value"] for d in result["disclosed"]}
    assert result["verdict"] == "valid" and shown["vehicle_class"] == "B2"


def test_tampering_is_detected(region, api, police, holder):
    licence = issue(api, police, region)
    text = show(api, holder, licence["identifier"], fields=["vehicle_class"])
    document = formats.qr_decode(text)

    # a disclosure whose digest is not signed (value changed)
    forged = json.loads(json.dumps(document))
    forged["disclosures"] = [formats.disclosure_make("vehicle_class", "A1")]
    assert verify(api, formats.qr_encode(forged))["verdict"] == "tampered"

    # the issuer-signed part changed (validity extended)
    forged = json.loads(json.dumps(document))
    forged["licence"]["payload"]["valid_to"] = "2099-12-31"
    assert verify(api, formats.qr_encode(forged))["verdict"] == "tampered"

    # expiry of the presentation extended
    forged = json.loads(json.dumps(document))
    forged["binding"]["exp"] = "2099-12-31T00:00:00.000Z"
    assert verify(api, formats.qr_encode(forged))["verdict"] == "tampered"

    # a malformed identifier (bad MOD 37,36 check character)
    forged = json.loads(json.dumps(document))
    ident = forged["licence"]["payload"]["identifier"]
    bad_check = "A" if ident[-1] != "A" else "B"
    forged["licence"]["payload"]["identifier"] = ident[:-1] + bad_check
    result = verify(api, formats.qr_encode(forged))
    assert result["verdict"] == "tampered" and "MOD 37,36" in result["reason"]

    # damaged QR text, another prefix, garbage
    for text_in in (text[:-10], "HC1:ABC", "TB1:%%%", "", "TB1:" + "0" * 7000):
        assert verify(api, text_in)["verdict"] == "tampered"
    assert licence["identifier"] in {w.identifier for w in WalletEntry.objects.all()}


def test_unknown_issuer_key(region, api, police, holder):
    licence = issue(api, police, region)
    document = formats.qr_decode(show(api, holder, licence["identifier"]))
    rogue = sm2.SigningKey.generate()
    payload = document["licence"]["payload"]
    document["licence"]["signature"] = {
        "alg": sm2.ALGORITHM,
        "kid": "sh-rogue",
        "value": rogue.sign_b64(canonical_json(payload)),
    }
    assert verify(api, formats.qr_encode(document))["verdict"] == "unknown_issuer"


def test_expired_presentation_and_replay_of_another_holders_code(
    region, api, police, holder, settings
):
    licence = issue(api, police, region)
    text = show(api, holder, licence["identifier"], ttl=10)
    later = timezone.now() + dt.timedelta(seconds=11)
    from tongban.licences.verification import presentation_verify

    assert presentation_verify(text, now=later).verdict == "expired_presentation"
    # re-signing the binding with a fresh expiry needs the holder node's key
    document = formats.qr_decode(text)
    document["binding"]["exp"] = (later + dt.timedelta(minutes=3)).isoformat()
    assert presentation_verify(formats.qr_encode(document), now=later).verdict == "tampered"


ZJ_POLICE = "浙江省公安厅"


def peer_licence(region, *, holder_id: str, name: str = "陈静", status_index: int = 5) -> dict:
    """A 驾驶证 issued by zj's 公安厅 to an sh resident, built from the published formats
    and signed with zj's key, as another province's software would."""
    from tongban.directory.models import Organization

    org = Organization.objects.get(name=ZJ_POLICE)
    identifier = formats.identifier_build(
        type_code=DRIVING, issuer_code=org.code, serial="202600000042", version=1
    )
    claims = [("holder_name", name), ("holder_id", holder_id)] + list(driving_type_fields().items())
    disclosures = [formats.disclosure_make(k, v) for k, v in claims]
    today = timezone.localdate()
    payload = {
        "format": formats.LICENCE_FORMAT,
        "identifier": identifier,
        "type": {"code": DRIVING, "name": "机动车驾驶证"},
        "version": 1,
        "issuer": {"node": "zj", "code": org.code, "name": org.name},
        "area_code": org.region,
        "holder_type": "111",
        "holder_node": "sh",
        "issued_at": timezone.now().isoformat(),
        "valid_from": today.isoformat(),
        "valid_to": today.replace(year=today.year + 6).isoformat(),
        "related_case": None,
        "status": {"node": "zj", "idx": status_index},
        "sd_alg": "sm3",
        "_sd": sorted(formats.disclosure_digest(d) for d in disclosures),
    }
    licence = {"payload": payload, "signature": region.signer("zj")(canonical_json(payload))}
    return {"licence": licence, "disclosures": disclosures, "identifier": identifier}


def deliver_to_wallet(region, client, issued: dict, holder_id: str, seq: int = 1):
    envelope = region.envelope(
        sender="zj",
        type="licence.issued",
        correlation="licence-test",
        seq=seq,
        body={
            "licence": issued["licence"],
            "disclosures": issued["disclosures"],
            "holder": {"type": "person", "name": "陈静", "id_number": holder_id},
            "status": "valid",
            "status_changed_at": timezone.now().isoformat(),
        },
    )
    return client.post(
        "/api/v1/exchange/inbox", json.dumps(envelope), content_type="application/json"
    )


def zj_status_list(region, values: dict[int, int], *, issued_at=None) -> None:
    """zj's signed status list, as the verifier's scheduled refresh would have cached it."""
    from tongban.licences.services import _status_list_cache_store, status_list_verify

    issued_at = issued_at or timezone.now()
    body = {
        "format": formats.STATUS_LIST_FORMAT,
        "node": "zj",
        "bits": 2,
        "lst": formats.status_list_pack(values, 64),
        "size": 64,
        "iat": issued_at.isoformat(),
        "exp": (issued_at + dt.timedelta(hours=24)).isoformat(),
        "ttl": 300,
    }
    wrapper = {"status_list": body, "signature": region.signer("zj")(canonical_json(body))}
    status_list_verify(wrapper, node_id="zj")
    StatusListCache.objects.filter(node_id="zj").delete()
    _status_list_cache_store("zj", wrapper, timezone.now())


def test_a_peer_issued_licence_verifies_offline_against_the_cached_status_list(
    region, api, client, holder
):
    holder_id = id_number(SH_ID)
    issued = peer_licence(region, holder_id=holder_id)
    response = deliver_to_wallet(region, client, issued, holder_id)
    assert response.status_code == 200, response.content
    text = show(api, holder, issued["identifier"], fields=["vehicle_class"])

    # no status list yet: the verifier must not say "valid"
    assert verify(api, text)["verdict"] == "status_unknown"
    zj_status_list(region, {})
    assert verify(api, text)["verdict"] == "valid"
    # revoked, and the verifier holds a fresh list saying so: detected offline
    zj_status_list(region, {5: formats.STATUS_VALUES["revoked"]})
    assert verify(api, text)["verdict"] == "revoked"
    # a list older than the type allows (驾驶证: one hour): status unknown
    zj_status_list(region, {}, issued_at=timezone.now() - dt.timedelta(hours=2))
    assert verify(api, text)["verdict"] == "status_unknown"


def test_a_forged_wallet_delivery_is_refused(region, api, client, holder):
    holder_id = id_number(SH_ID)
    issued = peer_licence(region, holder_id=holder_id)
    issued["disclosures"][2] = formats.disclosure_make("vehicle_class", "A1")
    response = deliver_to_wallet(region, client, issued, holder_id)
    assert response.status_code == 409
    assert response.json()["signed"]["status"] == "refused"
    assert not WalletEntry.objects.exists()


def test_status_list_is_signed_and_public(region, api, police, holder):
    licence = issue(api, police, region)
    api.login(police).post(f"/licences/issued/{licence['identifier']}/suspend", {"reason": "x"})
    response = api.get("/licences/status-lists/sh")
    assert response.status_code == 200
    from tongban.licences.services import status_list_verify

    body = status_list_verify(response.json(), node_id="sh")
    index = Licence.objects.get(identifier=licence["identifier"]).status_index
    data = formats.status_list_unpack(body["lst"])
    assert formats.status_list_value(data, index) == formats.STATUS_VALUES["suspended"]
    assert api.get("/licences/status-lists/zj").status_code == 404


def test_counters_count_issue_show_and_verifications(region, api, police, holder):
    licence = issue(api, police, region)
    text = show(api, holder, licence["identifier"])
    verify(api, text)
    verify(api, "TB1:garbage")
    counts = {(c.type_code, c.event): c.count for c in LicenceCounter.objects.all()}
    assert counts[(DRIVING, "issue")] == 1
    assert counts[(DRIVING, "show")] == 1
    assert counts[(DRIVING, "verify_valid")] == 1
    assert counts[("-", "verify_tampered")] == 1


def test_registry_travels_with_recognition(region, api):
    types = api.get("/licence-types").json()["types"]
    assert len(types) >= 30
    social = next(t for t in types if t["name"] == "社会保障卡")
    assert "government_service" not in social["recognition"]["ah"]


def test_wallet_is_private(region, api, police, holder):
    licence = issue(api, police, region)
    other = user_with(
        "other", person=person_upsert(name="王芳", id_number=id_number("31010419900101002"))
    )
    api.login(other)
    assert api.get("/wallet").json()["results"] == []
    assert api.get(f"/wallet/{licence['identifier']}").status_code == 404
    assert (
        api.post(f"/wallet/{licence['identifier']}/presentations", {"fields": []}).status_code
        == 404
    )
    assert api.get(f"/licences/issued/{licence['identifier']}").status_code == 404


def test_an_expired_licence_is_reported_as_expired(region, api, client, holder):
    """A licence past its validity: the wallet refuses to show it, and a code made
    while it was valid is reported as 证照已过有效期 once the code itself is fresh."""
    from tongban.directory.signing import sign_detached

    holder_id = id_number(SH_ID)
    issued = peer_licence(region, holder_id=holder_id)
    payload = issued["licence"]["payload"]
    payload["valid_from"], payload["valid_to"] = "2014-01-01", "2020-01-01"
    issued["licence"]["signature"] = region.signer("zj")(canonical_json(payload))
    assert deliver_to_wallet(region, client, issued, holder_id).status_code == 200
    zj_status_list(region, {})
    response = api.login(holder).post(
        f"/wallet/{issued['identifier']}/presentations", {"fields": ["vehicle_class"]}
    )
    assert response.status_code == 409 and response.json()["error"]["code"] == "licence_expired"
    # a presentation built by the holder's node all the same (e.g. an old phone's cache)
    now = timezone.now()
    licence = issued["licence"]
    disclosures = issued["disclosures"][2:3]
    binding = {
        "holder_node": "sh",
        "nonce": formats.b64u(b"0123456789abcdef"),
        "iat": now.isoformat(),
        "exp": (now + dt.timedelta(minutes=3)).isoformat(),
        "sd_hash": formats.presentation_sd_hash(licence, disclosures),
    }
    document = {
        "format": formats.PRESENTATION_FORMAT,
        "licence": licence,
        "disclosures": disclosures,
        "binding": binding,
        "binding_signature": sign_detached(canonical_json(binding)),
    }
    assert verify(api, formats.qr_encode(document))["verdict"] == "licence_expired"


def test_only_the_holders_home_node_can_make_a_presentation(region, api, police, holder):
    """A node that received every disclosure (e.g. a handling node after 用证) still
    cannot show the licence: the issuer signed which node may."""
    licence = issue(api, police, region)
    document = formats.qr_decode(show(api, holder, licence["identifier"]))
    assert document["licence"]["payload"]["holder_node"] == "sh"
    binding = dict(document["binding"], holder_node="zj")
    document["binding"] = binding
    document["binding_signature"] = region.signer("zj")(canonical_json(binding))
    result = verify(api, formats.qr_encode(document))
    assert result["verdict"] == "tampered" and "home node" in result["reason"]
