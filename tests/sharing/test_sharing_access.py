"""authorization_for, the sample provider and the datasets API."""

from __future__ import annotations

import json

import pytest

from tests.factories import user_with
from tongban.identity.demo_accounts import ENTERPRISES, PERSONS
from tongban.sharing.models import SampleRecord
from tongban.sharing.providers import SampleTableProvider, provider_for, subject_index
from tongban.sharing.samples import sharing_samples_generate
from tongban.sharing.selectors import SharingRefused, authorization_for
from tongban.sharing.services import sharing_catalog_load_seed

HEFEI_FUND = "1134010007737916X4"
SUZHOU_FUND = "1132050067581466XY"
ITEM = "000530001000"
PURPOSE = "核验购房提取条件"


@pytest.fixture
def catalog(region):
    sharing_catalog_load_seed()
    return region


def ask(**overrides):
    query = {
        "dataset": "js.marriage",
        "item": ITEM,
        "organization": HEFEI_FUND,
        "fields": ["marital_status", "spouse_name"],
        "purpose": PURPOSE,
    }
    query.update(overrides)
    return authorization_for(**query)


def refused(**overrides) -> SharingRefused:
    with pytest.raises(SharingRefused) as exc:
        ask(**overrides)
    return exc.value


def test_the_authorized_item_organization_fields_and_purpose_are_allowed(catalog):
    auth = ask()
    assert auth.legal_basis == "《住房公积金管理条例》第二十四条"
    assert ask(fields=["marital_status"]) == auth
    estate = ask(dataset="sh.real_estate", fields=["has_property", "property_address"])
    assert estate.dataset_id == "sh.real_estate"


def test_refusals_carry_codes(catalog):
    assert refused(dataset="js.tax").code == "unknown_dataset"
    assert refused(item="000530002000").code == "item_not_authorized"
    assert refused(organization=SUZHOU_FUND).code == "item_not_authorized"
    assert refused(purpose="了解婚姻状况").code == "purpose_mismatch"
    wider = refused(fields=["marital_status", "spouse_id_number"])
    assert wider.code == "fields_not_authorized" and wider.details["fields"] == ["spouse_id_number"]
    assert wider.status == 403
    assert refused(fields=[]).code == "fields_not_authorized"


def test_a_region_wide_authorization_covers_every_organization(catalog):
    query = {
        "dataset": "sh.enterprise",
        "fields": ["name", "status"],
        "purpose": "核验缴存单位登记状态",
    }
    assert ask(organization=SUZHOU_FUND, **query).organization_code == "*"
    assert refused(organization=SUZHOU_FUND, **{**query, "fields": ["business_scope"]}).code == (
        "fields_not_authorized"
    )


def test_a_dataset_not_shared_is_refused(catalog):
    from tongban.sharing.models import Dataset

    Dataset.objects.filter(code="js.marriage").update(sharing_type="不予共享")
    assert refused().code == "not_shared"


def person_subject(home: str) -> dict:
    return {"id_type": "111", "id_number": PERSONS[home][2]}


def test_sample_provider_returns_only_the_requested_fields(catalog):
    assert sharing_samples_generate(node_id="js") > 0
    provider = SampleTableProvider("js.marriage")
    answer = provider.lookup(person_subject("zj"), ["marital_status", "spouse_name"])
    assert answer == {"marital_status": "已婚", "spouse_name": "王建国"}
    assert provider.lookup(person_subject("zj"), ["marital_status"]) == {"marital_status": "已婚"}
    stranger = {"id_type": "111", "id_number": "110101199003070011"}
    assert provider.lookup(stranger, ["marital_status"]) is None
    # 户籍: a province holds only its own residents
    household = SampleTableProvider("js.household")
    assert household.lookup(person_subject("js"), ["name"]) == {"name": PERSONS["js"][1]}
    assert household.lookup(person_subject("zj"), ["name"]) is None


def test_enterprise_samples_and_the_default_provider(catalog):
    sharing_samples_generate(node_id="sh")
    from tongban.sharing.models import Dataset

    provider = provider_for(Dataset.objects.get(code="sh.enterprise"))
    name, uscc = ENTERPRISES["sh"]
    assert provider.lookup({"uscc": uscc.lower()}, ["name", "status"])["name"] == name
    estate = provider_for(Dataset.objects.get(code="sh.real_estate"))
    assert estate.lookup(person_subject("zj"), ["has_property"]) == {"has_property": True}


def test_samples_are_encrypted_at_rest(catalog):
    sharing_samples_generate(node_id="js")
    rows = list(SampleRecord.objects.filter(dataset_code="js.marriage"))
    assert rows and all(r.sample for r in rows)
    id_number = PERSONS["zj"][2]
    for row in rows:
        assert "已婚" not in row.data and "王建国" not in row.data
        assert id_number not in row.subject_index
        with pytest.raises(json.JSONDecodeError):
            json.loads(row.data)
    assert subject_index(person_subject("zj")) in {r.subject_index for r in rows}
    # regenerating replaces, never duplicates
    before = SampleRecord.objects.count()
    sharing_samples_generate(node_id="js")
    assert SampleRecord.objects.count() == before


def test_datasets_api_for_staff_only(catalog, api):
    assert api.get("/sharing/datasets").status_code == 401
    staff = user_with(
        "fund.official", role="official", organization=catalog.org("合肥住房公积金管理中心")
    )
    body = api.login(staff).get("/sharing/datasets").json()
    marriage = next(d for d in body["datasets"] if d["code"] == "js.marriage")
    assert marriage["organization_name"] == "苏州市吴江区民政局"
    assert marriage["sharing_type"] == "有条件"
    assert {
        "key": "spouse_name",
        "label": "配偶姓名",
        "type": "string",
        "classification": "重要",
        "personal": True,
    } in marriage["fields"]
    assert marriage["authorizations"][0]["purpose"] == PURPOSE
    resident = user_with("resident")
    resident.kind = "person"
    resident.save()
    assert api.login(resident).get("/sharing/datasets").status_code == 403


def test_openapi_lists_the_datasets_endpoint(client, db):
    spec = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/sharing/datasets" in spec["paths"]


def test_samples_follow_a_pii_key_rotation(catalog, settings):
    from tongban.identity.pii import reset_key_cache
    from tongban.identity.services import pii_reencrypt_all

    sharing_samples_generate(node_id="js")
    assert (
        SampleRecord.objects.filter(dataset_code="js.marriage")
        .first()
        .data.startswith("sm4gcm:k1:")
    )
    settings.TONGBAN_PII_KEYS = "k2:" + "ab" * 16 + "," + settings.TONGBAN_PII_KEYS
    reset_key_cache()
    try:
        assert pii_reencrypt_all()["sharing.SampleRecord.data"] >= 1
        assert all(
            r.data.startswith("sm4gcm:k2:")
            for r in SampleRecord.objects.filter(dataset_code="js.marriage")
        )
        answer = SampleTableProvider("js.marriage").lookup(person_subject("zj"), ["spouse_name"])
        assert answer == {"spouse_name": "王建国"}
    finally:
        reset_key_cache()
