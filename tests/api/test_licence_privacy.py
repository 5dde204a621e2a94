"""Licence privacy and freshness (this node is sh): the 身份证号 on a licence's face
is an identifier field of the registry — masked, and left out of 亮证 unless the
holder chooses it; a licence's validity dates and the face's 有效期 dates are one
value; 核验 asks the issuer online by default and says how old its status is."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.utils import timezone

from tests.api.test_licences_api import (
    DRIVING,
    SH_ID,
    deliver_to_wallet,
    driving_fields,
    driving_type_fields,
    issue,
    peer_licence,
    show,
    verify,
    zj_status_list,
)
from tests.factories import id_number, user_with
from tongban.directory.models import Node
from tongban.directory.signing import sign_detached
from tongban.gm.canonical import canonical_json
from tongban.identity.services import person_upsert
from tongban.licences import formats, services
from tongban.licences.models import Licence, LicenceType, StatusListCache, WalletEntry

pytestmark = pytest.mark.django_db
SOCIAL_CARD = "111000000000145255001"  # 社会保障卡


@pytest.fixture
def police(region):
    return user_with("police.official", role="official", organization=region.org("上海市公安局"))


@pytest.fixture
def holder(region):
    person = person_upsert(name="陈静", id_number=id_number(SH_ID), home_node="sh")
    return user_with("chenjing", person=person, assurance="L3")


# --- the registry marks the identifier fields ------------------------------------------


def test_the_registry_marks_every_face_field_holding_the_id_number(region):
    driving = LicenceType.objects.get(code=DRIVING)
    assert driving.identifier_fields == ("holder_id", "licence_number")
    assert driving.mask_value("licence_number", "310115198506120011") == "3101**********0011"
    assert driving.mask_value("vehicle_class", "C1") == "C1"
    card = LicenceType.objects.get(code=SOCIAL_CARD)
    assert "social_security_number" in card.identifier_fields
    identity_card = LicenceType.objects.get(name="居民身份证")
    assert "licence_number" in identity_card.identifier_fields
    for t in LicenceType.objects.all():
        for spec in t.fields:
            if "身份号码" in spec["label"] or "社会保障号码" in spec["label"]:
                assert spec.get("identifier"), (t.name, spec["label"])
    # an enterprise's 统一社会信用代码 is public: not an identifier field
    assert "holder_id" not in LicenceType.objects.get(name="营业执照").identifier_fields


@pytest.mark.parametrize(
    "bad",
    [
        {"key": "issued_on", "label": "发证日期", "kind": "date", "identifier": True},
        {"key": "number", "label": "号码", "kind": "text", "identifier": "yes"},
        {"key": "number", "label": "号码", "kind": "text", "same_as": "valid_to"},
        {"key": "until", "label": "至", "kind": "date", "same_as": "expiry"},
        {"key": "holder_id", "label": "号码", "kind": "text"},
    ],
)
def test_a_registry_with_a_bad_marker_is_refused_and_changes_nothing(region, bad):
    before = list(LicenceType.objects.order_by("code").values_list("code", "fields"))
    types = services.licence_types_document()
    driving = next(t for t in types if t["code"] == DRIVING)
    driving["fields"] = driving["fields"] + [bad]
    with pytest.raises(ValueError):
        from django.db import transaction

        with transaction.atomic():
            services.licence_types_apply(types)
    assert list(LicenceType.objects.order_by("code").values_list("code", "fields")) == before


def test_two_face_fields_for_one_validity_date_are_refused(region):
    types = services.licence_types_document()
    driving = next(t for t in types if t["code"] == DRIVING)
    driving["fields"].append(
        {"key": "until2", "label": "至", "kind": "date", "same_as": "valid_to"}
    )
    with pytest.raises(ValueError):
        services.licence_types_apply(types)


# --- 亮证: not disclosed by default, masked unless chosen -----------------------------------


def test_show_leaves_the_id_number_out_unless_chosen_and_the_verifier_sees_it_masked(
    region, api, police, holder
):
    licence = issue(api, police, region)
    full_id, number = id_number(SH_ID), driving_fields()["licence_number"]

    text = show(api, holder, licence["identifier"], fields=["holder_name", "vehicle_class"])
    raw = json.dumps(formats.qr_decode(text), ensure_ascii=False)
    assert full_id not in raw and number not in raw
    result = verify(api, text)
    assert result["verdict"] == "valid"
    shown = {d["key"]: d for d in result["disclosed"]}
    assert shown["holder_id"]["masked"]
    assert shown["holder_id"]["value"] == full_id[:4] + "*" * 10 + full_id[-4:]
    assert shown["licence_number"]["masked"] and "**********" in shown["licence_number"]["value"]
    assert not shown["vehicle_class"]["masked"]

    # the holder opts in: the 证号 is disclosed in full, the rest stays masked
    text = show(api, holder, licence["identifier"], fields=["licence_number"])
    shown = {d["key"]: d for d in verify(api, text)["disclosed"]}
    assert shown["licence_number"] == {
        "key": "licence_number",
        "label": "证号",
        "value": number,
        "masked": False,
    }
    assert shown["holder_id"]["masked"]

    # or shows nothing of it at all
    response = api.login(holder).post(
        f"/wallet/{licence['identifier']}/presentations",
        {"fields": ["vehicle_class"], "masked": []},
    )
    assert response.status_code == 201 and response.json()["masked"] == []
    keys = [d["key"] for d in verify(api, response.json()["qr_text"])["disclosed"]]
    assert keys == ["vehicle_class"]

    # only identifier fields can be shown masked
    response = api.login(holder).post(
        f"/wallet/{licence['identifier']}/presentations",
        {"fields": ["holder_name"], "masked": ["vehicle_class"]},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_fields"


def _rebind(text: str, masked: dict) -> str:
    """The same presentation with another ``masked`` member, re-signed by this node
    (the holder's home node) — what a forged or buggy home node could send."""
    document = formats.qr_decode(text)
    document["binding"]["masked"] = masked
    document["binding_signature"] = sign_detached(canonical_json(document["binding"]))
    return formats.qr_encode(document)


def test_a_masked_value_the_verifier_cannot_trust_is_tampered(region, api, police, holder):
    licence = issue(api, police, region)
    text = show(api, holder, licence["identifier"], fields=["vehicle_class"])
    document = formats.qr_decode(text)
    # changed after signing
    document["binding"]["masked"]["holder_id"] = "9999**********9999"
    assert verify(api, formats.qr_encode(document))["verdict"] == "tampered"
    # signed, but not an identifier field / the full value / disclosed as well
    for masked in (
        {"vehicle_class": "C*"},
        {"holder_id": id_number(SH_ID)},
        {"holder_id": "3101**********0011", "extra": "1*"},
    ):
        result = verify(api, _rebind(text, masked))
        assert result["verdict"] == "tampered", masked
        assert result["disclosed"] == []
    both = show(api, holder, licence["identifier"], fields=["holder_id"])
    result = verify(api, _rebind(both, {"holder_id": "3101**********0011"}))
    assert result["verdict"] == "tampered"


def test_pages_mask_the_id_number_on_the_face_and_the_show_form_leaves_it_out(
    client, region, api, police, holder
):
    licence = issue(api, police, region)
    number = driving_fields()["licence_number"]
    client.force_login(holder)
    page = client.get(f"/me/licences/{licence['identifier']}/").content.decode()
    assert number not in page and "3101**********0011" in page
    form = client.get(f"/me/licences/{licence['identifier']}/show/").content.decode()
    assert "完整出示证件号码" in form
    shown = client.post(
        f"/me/licences/{licence['identifier']}/show/",
        {"fields_shown": ["vehicle_class"], "ttl": "180", "mask_unshown": "on"},
    )
    assert shown.status_code == 200
    assert number not in shown.content.decode() and "部分遮蔽" in shown.content.decode()
    client.force_login(police)  # the issuing authority's page: masked facts too
    issued = client.get(f"/work/licences/{licence['identifier']}/").content.decode()
    assert "3101**********0011" in issued


# --- one value for each validity date -----------------------------------------------------


def dated_fields() -> dict:
    return {**driving_type_fields(), "valid_from": "2024-05-01", "valid_until": "2030-05-01"}


def test_the_face_validity_dates_are_the_licence_validity(region, api, police, holder):
    # given on the face only: the licence takes them
    licence = issue(api, police, region, fields=dated_fields())
    assert (licence["valid_from"], licence["valid_to"]) == ("2024-05-01", "2030-05-01")
    stored = Licence.objects.get(identifier=licence["identifier"])
    values = services.licence_values(stored)
    assert (str(stored.valid_from), str(stored.valid_to)) == ("2024-05-01", "2030-05-01")
    assert (values["valid_from"], values["valid_until"]) == ("2024-05-01", "2030-05-01")
    entry = WalletEntry.objects.get(identifier=licence["identifier"])
    assert entry.payload["valid_to"] == values["valid_until"] == str(entry.valid_to)

    # given as the licence's validity only: the face states the same dates
    fields = driving_type_fields()  # no dates on the face
    other = api.login(police).post(
        "/licences",
        {
            "type": DRIVING,
            "organization": region.org("上海市公安局").code,
            "holder": {"name": "陈静", "id_number": id_number(SH_ID)},
            "fields": fields,
        },
    )
    assert other.status_code == 201, other.content
    values = services.licence_values(Licence.objects.get(identifier=other.json()["identifier"]))
    today = timezone.localdate()
    assert values["valid_from"] == other.json()["valid_from"] == today.isoformat()
    assert values["valid_until"] == other.json()["valid_to"]
    assert (
        other.json()["valid_to"]
        == (today.replace(year=today.year + 6) - dt.timedelta(days=1)).isoformat()
    )

    # renewal: the new version's face follows its new validity
    renewed = api.login(police).post(
        f"/licences/issued/{licence['identifier']}/renewals",
        {"fields": {"vehicle_class": "B2"}, "valid_to": "2033-01-31"},
    )
    assert renewed.status_code == 201, renewed.content
    values = services.licence_values(Licence.objects.get(identifier=renewed.json()["identifier"]))
    assert values["valid_until"] == renewed.json()["valid_to"] == "2033-01-31"
    assert values["valid_from"] == renewed.json()["valid_from"] == today.isoformat()


def test_face_dates_that_disagree_with_the_validity_are_refused(region, api, police):
    count = Licence.objects.count()
    response = api.login(police).post(
        "/licences",
        {
            "type": DRIVING,
            "organization": region.org("上海市公安局").code,
            "holder": {"name": "陈静", "id_number": id_number(SH_ID)},
            "fields": dated_fields(),  # 有效期限 2030-05-01
            "valid_to": "2032-11-30",
        },
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_validity" and "有效期限" in error["message"]
    assert Licence.objects.count() == count


# --- 核验: online by default, and how fresh the status is -----------------------------------


def test_verification_is_online_by_default_and_says_how_old_its_status_is(
    region, api, client, holder
):
    holder_id = id_number(SH_ID)
    issued = peer_licence(region, holder_id=holder_id)
    assert deliver_to_wallet(region, client, issued, holder_id).status_code == 200
    zj_status_list(region, {}, issued_at=timezone.now() - dt.timedelta(seconds=40))
    StatusListCache.objects.filter(node_id="zj").update(
        fetched_at=timezone.now() - dt.timedelta(seconds=40)
    )
    text = show(api, holder, issued["identifier"], fields=["vehicle_class"])
    # zj cannot be reached: the online default falls back to the cached list, saying so
    Node.objects.filter(node_id="zj").update(base_url="http://127.0.0.1:9")
    result = verify(api, text)
    assert result["verdict"] == "valid"
    status = result["status"]
    assert status["source"] == "cache" and status["online_failed"] is True
    assert 40 <= status["age_seconds"] < 100
    # the next verifications do not wait on an issuer that just failed to answer
    failed_at = StatusListCache.objects.get(node_id="zj").last_error_at
    assert failed_at is not None
    again = verify(api, text)
    assert again["status"]["online_failed"] and again["status"]["source"] == "cache"
    assert StatusListCache.objects.get(node_id="zj").last_error_at == failed_at

    page = client.get("/verify/").content.decode()
    assert re.search(
        r'<input[^>]*name="online"[^>]*checked|<input[^>]*checked[^>]*name="online"', page
    )
    result_page = client.post("/verify/", {"qr_text": text, "online": "on"})
    html = result_page.content.decode()
    assert result_page.status_code == 200 and 'data-verdict="valid"' in html
    assert "状态更新于" in html and "秒前" in html
    assert 'id="online-failed"' in html

    offline = api.post("/licences/verifications", {"qr_text": text, "online": False}).json()
    assert offline["status"]["source"] == "cache" and offline["status"]["online_failed"] is False
