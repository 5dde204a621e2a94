"""数据共享 across real processes (hub and four provinces; real signed HTTP), issue 11:

* 张伟, a resident of 浙江 (zj), applies online at home for 异地购房提取住房公积金 decided
  by 合肥住房公积金管理中心 (ah) and leaves out the 不动产权证书 — the sharing catalog lets
  a data check replace it. When the case arrives, ah asks sh's 不动产登记信息 and js's
  婚姻登记信息 by itself; the answers are signed by the sources and stored at ah with
  only the authorized fields;
* his home node lists both uses with purpose, legal basis and organization, and — once
  ah has signed a checkpoint its witnesses cosigned — an inclusion proof of each;
* a field the catalog does not authorize is refused, by ah's own check and by the
  source when a query reaches it anyway: nothing answered, nothing recorded, no use;
* a rewritten row of ah's audit log is caught by ``tongban audit verify``, naming it.
"""

from __future__ import annotations

import base64
import json
import time
from typing import NamedTuple

import pytest

from tongban.audit import merkle
from tongban.identity.demo_accounts import DEMO_PASSWORD, PERSONS
from tongban.region import ApiClient

from .composite_steps import wait_for

pytestmark = pytest.mark.e2e
FUND = "000530001000"  # 异地购房提取住房公积金
HEFEI_FUND = "1134010007737916X4"  # 合肥住房公积金管理中心 (ah)
PURPOSE = "核验购房提取条件"
LEGAL_BASIS = "《住房公积金管理条例》第二十四条"
AUTHORIZED = {
    "js.marriage": ["marital_status", "spouse_name"],
    "sh.real_estate": ["has_property", "property_address"],
}
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def pdf(code: str) -> dict:
    return {
        "material_code": code,
        "filename": f"{code}.pdf",
        "content_base64": base64.b64encode(PDF + code.encode()).decode(),
    }


def shell(region, node: str, code: str):
    """Run ``code`` in a management shell of ``node`` (its own database); the JSON it
    prints last is the answer."""
    out = region.manage(node, "shell", "-c", code)
    return json.loads(out.strip().splitlines()[-1])


def data_use_leaves(region, node: str) -> int:
    return shell(
        region,
        node,
        "from tongban.audit.models import AuditLeaf; "
        "print(AuditLeaf.objects.filter(kind='data_use').count())",
    )


def until_a_code_can_be_sent(region, node: str, username: str) -> None:
    """Wait, if need be, until ``node`` may send ``username`` another sign-in code (one a
    minute per account: an earlier test may just have signed them in)."""
    wait = shell(
        region,
        node,
        "import json; from django.conf import settings; from django.utils import timezone; "
        "from tongban.identity.models import OneTimeCode; "
        f"last = OneTimeCode.objects.filter(user__username={username!r}, purpose='login')"
        ".order_by('-created_at').first(); "
        "print(json.dumps(0 if last is None else max(0, settings.TONGBAN_OTP_MIN_INTERVAL_SECONDS"
        " - (timezone.now() - last.created_at).total_seconds())))",
    )
    time.sleep(wait + 0.5 if wait else 0)


class Application(NamedTuple):
    holder: ApiClient  # 张伟 at zj
    official: ApiClient  # hefei.fund.official at ah
    number: str
    earlier: set[str]  # the use ids in his log before he applied


@pytest.fixture(scope="module")
def case(full_region):
    """张伟's application at home (zj), the 合肥 official, and the case number."""
    region = full_region
    username, name, id_number, _phone = PERSONS["zj"]
    until_a_code_can_be_sent(region, "zj", username)
    holder = ApiClient(
        region.url("zj"), username, DEMO_PASSWORD, otp=lambda: region.last_sms_code("zj")
    )
    earlier = {u["use_id"] for u in holder.get("/me/data-uses", limit=200).json()["results"]}
    item = holder.get(f"/items/{FUND}").json()
    assert {m["code"]: m["data_check"] for m in item["materials"]}["M02"].startswith(
        "sh.real_estate."
    )
    r = holder.post(
        "/cases/online",
        {
            "item": FUND,
            "organization": HEFEI_FUND,
            "form": {
                "applicant_name": name,
                "applicant_id_number": id_number,
                "contact_phone": "13905731234",
                "house_region": "310118",
                "amount": "60000",
                "bank_account": "6222020000000000002",
            },
            # no M02 不动产权证书 and no M04 婚姻状况证明: 免交（数据核验）
            "materials": [pdf("M01"), pdf("M03")],
        },
    )
    assert r.status_code == 201, r.text
    official = ApiClient(region.url("ah"), "hefei.fund.official", DEMO_PASSWORD)
    return Application(holder, official, r.json()["number"], earlier)


def answered_checks(official, number: str):
    r = official.get(f"/cases/{number}/data-checks")
    if r.status_code != 200:
        return None
    checks = {c["dataset"]: c for c in r.json()["checks"]}
    if set(AUTHORIZED) <= set(checks) and all(checks[d]["status"] != "pending" for d in AUTHORIZED):
        return r.json()
    return None


def test_the_deciding_node_asks_two_provinces_and_keeps_only_authorized_fields(full_region, case):
    region = full_region
    _holder, official, number, _ = case
    _, name, _id_number, _ = PERSONS["zj"]
    body = wait_for(lambda: answered_checks(official, number), what="both data checks at ah")
    checks = {c["dataset"]: c for c in body["checks"]}
    for dataset, fields in AUTHORIZED.items():
        check = checks[dataset]
        assert check["status"] == "answered", check
        assert check["source_node"] == dataset.split(".")[0]
        assert check["signature_verified"] is True and check["sample"] is True
        assert [f["key"] for f in check["fields"]] == fields
        assert check["purpose"] == PURPOSE and check["legal_basis"] == LEGAL_BASIS
        assert check["requested_by"] == ""  # asked by the node itself when the case arrived
    values = {f["key"]: f["value"] for c in checks.values() for f in c["fields"]}
    assert values["marital_status"] == "已婚" and values["has_property"] is True
    assert "示例苑" in values["property_address"]
    # M02 is left out and replaced by the answered check
    replaced = {m["material_code"]: m["replaced"] for m in body["materials"]}
    assert replaced["M02"] is True

    # what ah stored: the sources' signed records, with the asked fields only
    stored = shell(
        region,
        "ah",
        "import json; from tongban.sharing.models import DataQuery; "
        "from tongban.sharing.query import data_query_answer_of; "
        f"qs = DataQuery.objects.filter(reference={number!r}, status='answered'); "
        "print(json.dumps({q.dataset_code: data_query_answer_of(q) for q in qs}, "
        "ensure_ascii=False))",
    )
    assert set(stored) == set(AUTHORIZED)
    for dataset, answer in stored.items():
        record = answer["record"]
        assert [f["key"] for f in record["fields"]] == AUTHORIZED[dataset]
        assert record["source"]["node"] == dataset.split(".")[0]
        assert record["requester"] == {"node": "ah", "organization": HEFEI_FUND}
        assert answer["signature"]["value"]
        text = json.dumps(answer, ensure_ascii=False)
        for withheld in ("spouse_id_number", "certificate_number", "area_m2", name):
            assert withheld not in text, (dataset, withheld)


def my_uses(case: Application) -> dict:
    """The data queries of this application in 张伟's log at zj, by dataset."""
    results = case.holder.get("/me/data-uses", kind="data_query", limit=200).json()["results"]
    return {
        u["dataset_code"]: u
        for u in results
        if u["use_id"] not in case.earlier and u["case_number"] == case.number
    }


def test_the_home_node_lists_both_uses_with_purpose_and_an_inclusion_proof(full_region, case):
    region = full_region
    holder, official, number, _ = case
    wait_for(lambda: answered_checks(official, number), what="both data checks at ah")
    uses = wait_for(
        lambda: (u := my_uses(case)) and set(AUTHORIZED) <= set(u) and u,
        what="both uses at zj",
    )
    for dataset in AUTHORIZED:
        use = uses[dataset]
        assert use["kind"] == "data_query" and use["user_node"] == "ah"
        assert use["user_organization_code"] == HEFEI_FUND
        assert use["user_organization_name"] == "合肥住房公积金管理中心"
        assert use["purpose"] == PURPOSE and use["legal_basis"] == LEGAL_BASIS
        assert use["item_name"] == "异地购房提取住房公积金"
        assert use["proof"]["node"] == "ah" and use["proof"]["index"] is not None
    assert uses["js.marriage"]["fields"] == ["婚姻状况", "配偶姓名"]
    # the filters: by organization, and one that matches nothing
    found = holder.get("/me/data-uses", organization="合肥住房公积金").json()["results"]
    assert {u["use_id"] for u in uses.values()} <= {u["use_id"] for u in found}
    assert holder.get("/me/data-uses", organization="无此部门").json()["count"] == 0
    bad = holder.get("/me/data-uses", **{"from": "2026-13-01"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_filter"

    # ah signs a checkpoint now and has it cosigned (its worker does both every
    # TONGBAN_AUDIT_CHECKPOINT_SECONDS); zj fetches the proofs (its worker does, too)
    def cosigned_and_proved():
        region.manage("ah", "audit", "checkpoint")
        try:
            region.manage("ah", "audit", "witness")
        except RuntimeError:
            return None  # a witness busy with the worker's own push: again
        shell(
            region,
            "zj",
            "from tongban.sharing.data_use import data_use_proofs_collect; "
            "print(data_use_proofs_collect())",
        )
        u = my_uses(case)
        return u if all(u[d]["proof"]["state"] == "included" for d in AUTHORIZED) else None

    uses = wait_for(cosigned_and_proved, timeout=90, what="inclusion proofs at zj")
    served = ApiClient(region.url("ah")).http.get(region.url("ah") + "/api/v1/audit/checkpoint")
    assert served.status_code == 200
    assert served.headers["Content-Type"].startswith("text/plain")
    lines = served.text.split("\n")
    assert lines[0] == "tongban/ah/audit"
    assert {"hub", "sh"} <= set(served.headers["Tongban-Witnesses"].split(","))
    for dataset in AUTHORIZED:
        proof = uses[dataset]["proof"]
        assert {"hub", "sh"} <= set(proof["witnesses"]), proof
        assert proof["checkpoint"].startswith(lines[0] + "\n")
        size, root = proof["size"], base64.b64decode(proof["root"])
        # the entry zj keeps is the leaf ah's log holds, at that index, under that root
        entry = shell(
            region,
            "zj",
            "import base64, json; from tongban.sharing.models import DataUseRecord; "
            f"r = DataUseRecord.objects.get(use_id={uses[dataset]['use_id']!r}); "
            "print(json.dumps(base64.b64encode(bytes(r.audit_entry)).decode()))",
        )
        entry = base64.b64decode(entry)
        leaf = merkle.leaf_hash(entry)
        hashes = [base64.b64decode(h) for h in proof["hashes"]]
        assert merkle.verify_inclusion(proof["index"], size, leaf, hashes, root)
        remote = ApiClient(region.url("ah")).get(
            "/audit/proof/inclusion", index=proof["index"], size=size
        )
        assert base64.b64decode(remote.json()["leaf_hash"]) == leaf
        # the leaf names the purpose and the organization, never the person
        content = json.loads(entry)
        assert content["purpose"] == PURPOSE and content["dataset_code"] == dataset
        assert PERSONS["zj"][2] not in entry.decode() and PERSONS["zj"][1] not in entry.decode()


def test_an_unauthorized_field_is_refused_by_the_asker_and_by_the_source(full_region, case):
    region = full_region
    holder, official, number, _ = case
    wait_for(lambda: answered_checks(official, number), what="both data checks at ah")
    uses_before = len(my_uses(case))
    js_leaves = data_use_leaves(region, "js")
    checks_before = len(official.get(f"/cases/{number}/data-checks").json()["checks"])

    # 1. ah's own copy of the catalog refuses at once: nothing stored, nothing sent
    r = official.post(
        f"/cases/{number}/data-checks",
        {
            "dataset": "js.marriage",
            "fields": ["marital_status", "spouse_id_number"],
            "purpose": PURPOSE,
        },
    )
    assert r.status_code == 403, r.text
    error = r.json()["error"]
    assert error["code"] == "fields_not_authorized"
    assert error["details"]["fields"] == ["spouse_id_number"]
    assert len(official.get(f"/cases/{number}/data-checks").json()["checks"]) == checks_before

    # 2. a node whose own check is missing (an outdated or misbehaving asker) sends such a
    #    query anyway: the source refuses it with the code, answers nothing, records nothing
    query_id = shell(
        region,
        "ah",
        "import json; from tongban.sharing import query; "
        "from tongban.sharing.models import SharingAuthorization as A; "
        f"real = A.objects.get(dataset_id='js.marriage', item_code={FUND!r}, "
        f"organization_code={HEFEI_FUND!r}); "
        "query.selectors = type('Unchecked', (), "
        "{'authorization_for': staticmethod(lambda **kw: real)}); "
        f"from tongban.cases.models import Case; c = Case.objects.get(number={number!r}); "
        "q = query.data_query_send(dataset_code='js.marriage', "
        "subject={'id_type': '111', 'id_number': c.applicant_id_number}, "
        f"fields=['marital_status', 'spouse_id_number'], purpose={PURPOSE!r}, "
        f"item_code={FUND!r}, organization_code={HEFEI_FUND!r}, use='case', "
        f"reference={number!r}, case_number={number!r}); "
        "print(json.dumps(q.query_id))",
    )

    def refused():
        checks = official.get(f"/cases/{number}/data-checks").json()["checks"]
        check = next(c for c in checks if c["query_id"] == query_id)
        return check if check["status"] != "pending" else None

    check = wait_for(refused, what="the source's refusal back at ah")
    assert check["status"] == "refused", check
    assert check["refusal_code"] == "fields_not_authorized"
    assert all(f["value"] is None for f in check["fields"])
    assert data_use_leaves(region, "js") == js_leaves  # nothing recorded at the source
    # no use reported: the home node lists the same uses as before
    assert len(my_uses(case)) == uses_before


def test_a_rewritten_row_of_the_audit_log_is_caught(full_region, case):
    region = full_region
    holder, official, number, _ = case
    uses = wait_for(
        lambda: (u := my_uses(case)) and set(AUTHORIZED) <= set(u) and u,
        what="both uses at zj",
    )
    index = uses["sh.real_estate"]["proof"]["index"]
    region.manage("ah", "audit", "checkpoint")
    assert "audit log consistent" in region.manage("ah", "audit", "verify")
    # ah's operator changes the stated purpose of the use in its own database
    rewrite = (
        "import json; from tongban.audit.models import AuditLeaf; "
        "from tongban.gm.canonical import canonical_json; "
        f"leaf = AuditLeaf.objects.get(index={index}); entry = bytes(leaf.entry); "
        "changed = canonical_json({**json.loads(entry), 'purpose': '核验购房提取条件及其他'}); "
        f"AuditLeaf.objects.filter(index={index}).update(entry=changed); "
        "print(json.dumps(entry.decode()))"
    )
    original = shell(region, "ah", rewrite)
    try:
        with pytest.raises(RuntimeError) as failed:
            region.manage("ah", "audit", "verify")
        assert f"INCONSISTENT at index {index}" in str(failed.value)
        assert f"leaf {index}" in str(failed.value)
    finally:  # the region is shared with other tests: put the row back
        shell(
            region,
            "ah",
            "import json; from tongban.audit.models import AuditLeaf; "
            f"AuditLeaf.objects.filter(index={index}).update(entry={original!r}.encode()); "
            "print(1)",
        )
    assert "audit log consistent" in region.manage("ah", "audit", "verify")
