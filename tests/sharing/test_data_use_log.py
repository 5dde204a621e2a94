"""我的数据使用记录 (docs/data-sharing.md §6): uses reported into the audit log and to the
person's home node, the person's pages and API, flags to the data officer."""

from __future__ import annotations

import base64
import json

import pytest
from django.utils import timezone

from tests.factories import id_number
from tongban.audit.models import AuditLeaf
from tongban.exchange.models import OutboxMessage
from tongban.gm.canonical import canonical_json
from tongban.identity.pii import blind_index, decrypt_at_rest
from tongban.sharing.data_use import data_use_report, subject_digest
from tongban.sharing.models import DataUseRecord

pytestmark = pytest.mark.django_db

SH_ID = id_number("31011519850412002")
ZJ_ID = id_number("33042119900307123")


def report(subject: str, **kw) -> str:
    values = {
        "kind": "data_query",
        "subject_id_number": subject,
        "used_at": timezone.now(),
        "user_node": "sh",
        "user_organization_code": "11310000002421386D",
        "user_organization_name": "上海市不动产登记局",
        "dataset_code": "js.marriage",
        "dataset_name": "婚姻登记信息",
        "fields": ["婚姻状况", "配偶姓名"],
        "case_number": "SH2026120100001",
        "item_name": "异地购房提取住房公积金",
        "purpose": "核验购房提取条件",
        "legal_basis": "《住房公积金管理条例》第二十四条",
    }
    values.update(kw)
    return data_use_report(**values)


def test_a_local_use_is_a_leaf_without_the_id_number_and_a_record(region):
    use_id = report(SH_ID)
    leaf = AuditLeaf.objects.get(kind="data_use")
    assert SH_ID.encode() not in bytes(leaf.entry)
    entry = json.loads(bytes(leaf.entry))
    assert entry["subject"] == subject_digest(use_id=use_id, id_number=SH_ID)
    assert entry["purpose"] == "核验购房提取条件" and entry["use_id"] == use_id
    record = DataUseRecord.objects.get(use_id=use_id)
    assert record.person_index == blind_index(SH_ID)
    assert record.audit_index == leaf.index and bytes(record.audit_entry) == bytes(leaf.entry)
    assert not OutboxMessage.objects.filter(type="data.use").exists()


def test_a_use_of_another_provinces_resident_goes_to_the_home_node(region):
    use_id = report(ZJ_ID)
    assert not DataUseRecord.objects.exists()
    message = OutboxMessage.objects.get(type="data.use")
    assert message.recipient == "zj"
    body = json.loads(decrypt_at_rest(message.envelope))["signed"]["body"]
    leaf = AuditLeaf.objects.get(kind="data_use")
    assert body["audit"]["index"] == leaf.index
    assert base64.b64decode(body["audit"]["entry"]) == bytes(leaf.entry)
    assert body["use"]["use_id"] == use_id and body["subject"]["id_number"] == ZJ_ID
    assert canonical_json(json.loads(bytes(leaf.entry))) == bytes(leaf.entry)


def test_a_person_outside_the_region_gets_a_leaf_and_nothing_else(region):
    report(id_number("11010519491231002"))
    assert AuditLeaf.objects.filter(kind="data_use").count() == 1
    assert not DataUseRecord.objects.exists() and not OutboxMessage.objects.exists()


def test_a_use_without_purpose_is_a_programming_error(region):
    with pytest.raises(ValueError):
        report(SH_ID, purpose=" ")
    with pytest.raises(ValueError):
        report(SH_ID, kind="gossip")
    assert not AuditLeaf.objects.exists()
