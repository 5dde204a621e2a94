"""The sharing catalog (政务数据共享清单目录): the shipped sample validates, travels in the
signed global configuration to a node, and bad definitions are refused by name."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pytest
from django.utils import timezone

from tongban.directory.models import CachedConfiguration
from tongban.directory.services import (
    ConfigurationError,
    configuration_apply,
    configuration_document,
    trust_anchor_install,
)
from tongban.gm.canonical import canonical_json
from tongban.sharing.models import Dataset, DatasetField, SharingAuthorization
from tongban.sharing.services import (
    SEED_FILE,
    SharingCatalogError,
    sharing_catalog_load_seed,
    sharing_catalog_store,
)

HEFEI_FUND = "1134010007737916X4"


def seed() -> dict:
    return json.loads(SEED_FILE.read_text(encoding="utf-8"))


def signed(region, serial: int) -> dict:
    now = timezone.now().replace(microsecond=0)
    document = configuration_document(
        serial=serial, issued_at=now, expires_at=now + dt.timedelta(hours=1)
    )
    return {"configuration": document, "signature": region.signer("hub")(canonical_json(document))}


def test_shipped_catalog_is_a_marked_sample_and_validates(region):
    data = seed()
    assert data["sample"] is True and "示例" in data["note"]
    datasets, authorizations = sharing_catalog_load_seed()
    assert datasets == len(data["datasets"]) and authorizations == len(data["authorizations"])
    names = set(Dataset.objects.values_list("name", flat=True))
    assert {
        "户籍人口基本信息",
        "婚姻登记信息",
        "社保参保缴费信息",
        "住房公积金缴存信息",
        "不动产登记信息",
        "企业登记信息",
        "学历学位信息",
    } <= names
    # 户籍 at each province's police
    assert sorted(
        Dataset.objects.filter(name="户籍人口基本信息").values_list("node", flat=True)
    ) == [
        "ah",
        "js",
        "sh",
        "zj",
    ]
    estate = Dataset.objects.get(code="sh.real_estate")
    assert estate.organization.name == "上海市不动产登记局" and estate.node_id == "sh"
    marriage = SharingAuthorization.objects.get(dataset="js.marriage", item_code="000530001000")
    assert marriage.organization_code == HEFEI_FUND
    assert marriage.fields == ["marital_status", "spouse_name"]
    assert marriage.purpose == "核验购房提取条件"
    assert marriage.legal_basis == "《住房公积金管理条例》第二十四条"
    assert (
        DatasetField.objects.get(dataset="js.marriage", key="spouse_id_number").classification
        == "核心"
    )


def test_catalog_reaches_a_node_through_the_signed_configuration(region):
    hub_key = region.peer_keys["hub"]
    trust_anchor_install(kid=region.peer_kids["hub"], public_key=hub_key.public_key_hex)
    sharing_catalog_load_seed()  # as the hub
    wrapper = signed(region, 2)
    section = wrapper["configuration"]["sharing"]
    assert section["format"] == "tongban-sharing-catalog/1"
    assert {d["code"] for d in section["datasets"]} >= {"js.marriage", "sh.real_estate"}
    # the node has none yet
    Dataset.objects.all().delete()
    assert configuration_apply(wrapper=wrapper) is not None
    assert CachedConfiguration.objects.order_by("-serial").first().serial == 2
    marriage = Dataset.objects.get(code="js.marriage")
    assert marriage.sharing_type == "有条件" and marriage.node_id == "js"
    assert [f.key for f in marriage.fields.all()][:2] == ["marital_status", "spouse_name"]
    auth = SharingAuthorization.objects.get(dataset="sh.real_estate", item_code="000530001000")
    assert auth.fields == ["has_property", "property_address"]


def test_a_configuration_with_a_bad_sharing_section_is_refused_whole(region):
    trust_anchor_install(
        kid=region.peer_kids["hub"], public_key=region.peer_keys["hub"].public_key_hex
    )
    sharing_catalog_load_seed()
    now = timezone.now().replace(microsecond=0)
    document = configuration_document(
        serial=3, issued_at=now, expires_at=now + dt.timedelta(hours=1)
    )
    document["sharing"]["authorizations"][0]["fields"].append("spouse_income")
    wrapper = {
        "configuration": document,
        "signature": region.signer("hub")(canonical_json(document)),
    }
    with pytest.raises(ConfigurationError, match="spouse_income"):
        configuration_apply(wrapper=wrapper)
    assert not CachedConfiguration.objects.filter(serial=3).exists()


def _bad(mutate):
    data = seed()
    mutate(data)
    return data


def _dataset(data, code):
    return next(d for d in data["datasets"] if d["code"] == code)


BAD = {
    "unknown organization": (
        lambda d: _dataset(d, "js.marriage").update(organization="11320000000000000X"),
        "dataset js.marriage: unknown organization",
    ),
    "organization of another node": (
        lambda d: _dataset(d, "js.marriage").update(organization="11310000MB2F50120T"),
        "dataset js.marriage: organization 11310000MB2F50120T belongs to node sh",
    ),
    "bad classification": (
        lambda d: _dataset(d, "sh.real_estate")["fields"][0].update(classification="机密"),
        "dataset sh.real_estate field has_property: classification",
    ),
    "bad sharing type": (
        lambda d: _dataset(d, "js.education").update(sharing_type="公开"),
        "dataset js.education: sharing_type",
    ),
    "personal not a boolean": (
        lambda d: _dataset(d, "js.education")["fields"][0].update(personal="yes"),
        "dataset js.education field highest_degree: personal",
    ),
    "repeated dataset": (
        lambda d: d["datasets"].append(copy.deepcopy(_dataset(d, "js.marriage"))),
        "dataset js.marriage: listed twice",
    ),
    "authorization of an unknown field": (
        lambda d: d["authorizations"][0]["fields"].append("income"),
        "fields not in dataset js.marriage: income",
    ),
    "authorization of an unknown dataset": (
        lambda d: d["authorizations"][0].update(dataset="js.tax"),
        "authorization #1: unknown dataset 'js.tax'",
    ),
    "authorization without legal basis or consent": (
        lambda d: d["authorizations"][0].update(legal_basis="", consent_required=False),
        "needs a legal_basis or consent_required",
    ),
    "authorization with a bad item code": (
        lambda d: d["authorizations"][0].update(item="5300"),
        "item must be a 12-digit basic code",
    ),
    "authorization of a dataset not shared": (
        lambda d: _dataset(d, "js.marriage").update(sharing_type="不予共享"),
        "dataset js.marriage is 不予共享",
    ),
    "authorization at an unknown organization": (
        lambda d: d["authorizations"][0].update(organization="91340100MA2R00010X"),
        "unknown organization '91340100MA2R00010X'",
    ),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_definitions_are_refused_with_the_entry_named(region, case):
    mutate, message = BAD[case]
    with pytest.raises(SharingCatalogError) as refused:
        sharing_catalog_store(section=_bad(mutate))
    assert message in str(refused.value)
    assert not Dataset.objects.exists()  # nothing half-stored
