"""A real result across two real nodes: a 嘉善 (zj) window takes an application for
户籍事项证明 that 上海市公安局 (sh) decides. The window hands over its 收件凭证 at once; the
official confirms what the certificate says; the signed 受理回执, 证明 and 办结通知书 come
back to zj with the case messages and print there — the person, the matter, the content,
the authority, Beijing time — under Chinese file names with the case number."""

from __future__ import annotations

import base64
import re
from urllib.parse import unquote

import pytest

from tongban.documents.pdf_reading import pdf_printed_text
from tongban.identity.demo_accounts import DEMO_PASSWORD, PERSONS
from tongban.region import ApiClient

from .test_region_flow1 import wait_for

pytestmark = pytest.mark.e2e
HOUSEHOLD = "000501001000"  # 户籍事项证明
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
WINDOW = "嘉善县长三角“一网通办”综合服务专窗"


def printed(response) -> str:
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"] == "application/pdf"
    pages = pdf_printed_text(response.content).lines
    return "".join(line for page in pages for line in page)


def filename(response) -> str:
    match = re.search(r"filename\*=utf-8''([^;]+)", response.headers["content-disposition"], re.I)
    assert match, response.headers["content-disposition"]
    return unquote(match.group(1))


def test_a_certificate_decided_in_shanghai_reaches_the_zhejiang_window(live_region):
    clerk = ApiClient(live_region.url("zj"), "jiashan.clerk", DEMO_PASSWORD)
    police = ApiClient(live_region.url("sh"), "sh.police.official", DEMO_PASSWORD)
    item = clerk.get(f"/items/{HOUSEHOLD}").json()
    org = next(
        i["organization"]
        for i in item["implementations"]
        if i["organization_name"] == "上海市公安局"
    )
    _, name, id_number, phone = PERSONS["zj"]
    materials = [
        {
            "material_code": m["code"],
            "filename": f"{m['name']}.pdf",
            "content_base64": base64.b64encode(PDF + m["code"].encode()).decode(),
        }
        for m in item["materials"]
        if m["required"]
    ]
    form = {
        "applicant_name": name,
        "applicant_id_number": id_number,
        "contact_phone": phone,
        "proof_kind": "亲属关系",
        "purpose": "办理继承公证",
    }
    response = clerk.post(
        "/cases",
        {
            "window": "zj-330421-01",
            "item": HOUSEHOLD,
            "organization": org,
            "applicant": {"name": name, "id_number": id_number, "phone": phone},
            "form": {k: v for k, v in form.items() if k in {f["name"] for f in item["form"]}},
            "materials": materials,
        },
    )
    assert response.status_code == 201, response.text
    number = response.json()["number"]

    # 1. the 收件凭证, at once, issued at zj, naming the window by its name
    (receipt,) = response.json()["documents"]
    assert receipt["kind"] == "intake_receipt" and receipt["issuer_node"] == "zj"
    pdf = clerk.get(f"/cases/{number}/documents/intake.pdf")
    text = printed(pdf)
    assert "".join(WINDOW.split()) in text and number in text and name in text
    assert re.search(r"收件时间：\d{4}年\d{1,2}月\d{1,2}日\d\d:\d\d（北京时间）", text), text
    assert filename(pdf) == f"收件凭证_{number}.pdf"

    # 2. at sh the case arrives with a verified copy of it
    wait_for(lambda: police.get(f"/cases/{number}").status_code == 200, what="the case at sh")
    kinds = [d["kind"] for d in police.get(f"/cases/{number}").json()["documents"]]
    assert kinds == ["intake_receipt"]

    # 3. 受理, then 准予 with the content the official confirms
    assert police.post(f"/cases/{number}/accept", {"note": "材料齐全"}).status_code == 200
    missing = police.post(f"/cases/{number}/approve", {})
    assert missing.status_code == 400 and "证明内容" in missing.json()["error"]["message"]
    content = f"{name}与张建国系父子关系"
    approved = police.post(f"/cases/{number}/approve", {"result": {"content": content}})
    assert approved.status_code == 200, approved.text

    # 4. back at zj: the signed documents of sh, printable there
    final = wait_for(
        lambda: (c := clerk.get(f"/cases/{number}").json())["status"] == "approved" and c,
        what="the approval at zj",
    )
    documents = {d["kind"]: d for d in final["documents"]}
    assert set(documents) == {
        "intake_receipt",
        "acceptance_receipt",
        "certificate",
        "conclusion_notice",
    }
    assert {d["issuer_node"] for k, d in documents.items() if k != "intake_receipt"} == {"sh"}
    certificate = clerk.get(f"/cases/{number}/documents/certificate.pdf")
    text = printed(certificate)
    for words in ("户籍事项证明", "亲属关系", name, content, "上海市公安局", "有效期至"):
        assert words in text, words
    assert filename(certificate) == f"户籍事项证明_{number}.pdf"
    assert "准予" in printed(clerk.get(f"/cases/{number}/documents/conclusion.pdf"))
    ofd = clerk.get(f"/cases/{number}/documents/certificate.ofd")
    assert ofd.status_code == 200 and ofd.content[:2] == b"PK"


def test_the_demo_seeds_results_that_say_something(live_region):
    """The demo's seeded results (demo_seed.seed_results) on real nodes: after a company is
    registered in 青浦, its scope change issues the 营业执照's next version."""
    from tongban.demo_seed import ESTABLISHMENT, form_payload, material_payload, seed_results

    clients = {}

    def client(node, user):
        if (node, user) not in clients:
            clients[(node, user)] = ApiClient(live_region.url(node), user, DEMO_PASSWORD)
        return clients[(node, user)]

    clerk, qingpu = client("zj", "jiashan.clerk"), client("sh", "qingpu.official")
    item = clerk.get(f"/items/{ESTABLISHMENT}").json()
    org = next(
        i["organization"]
        for i in item["implementations"]
        if i["organization_name"] == "上海市青浦区市场监督管理局"
    )
    _, name, id_number, phone = PERSONS["zj"]
    applicant = {"name": name, "id_number": id_number, "phone": phone}
    number = clerk.post(
        "/cases",
        {
            "window": "zj-330421-01",
            "item": ESTABLISHMENT,
            "organization": org,
            "applicant": applicant,
            "form": form_payload(item, applicant, "上海练塘农业科技有限公司"),
            "materials": material_payload(item),
        },
    ).json()["number"]
    wait_for(lambda: qingpu.get(f"/cases/{number}").status_code == 200, what="the case at sh")
    assert qingpu.post(f"/cases/{number}/accept", {}).status_code == 200
    assert qingpu.post(f"/cases/{number}/approve", {}).status_code == 200

    lines = seed_results(client)
    assert len(lines) == 2 and "营业执照 version 2" in lines[1]
    change = re.search(r"经营范围变更 (\S+)", lines[1]).group(1)
    final = wait_for(
        lambda: (c := clerk.get(f"/cases/{change}").json())["status"] == "approved" and c,
        what="the change at zj",
    )
    facts = {f["label"]: f["value"] for f in final["result"]["document"]["facts"]}
    assert facts["变更事项"] == "经营范围" and facts["变更后经营范围"].endswith(
        "人工智能应用软件开发。"
    )
    assert facts["变更前经营范围"] and "第2版" in facts["电子证照"]
    text = printed(clerk.get(f"/cases/{change}/documents/result.pdf"))
    assert "准予变更登记通知书" in text and "人工智能应用软件开发" in text
