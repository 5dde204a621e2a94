"""A printed document verified in another province, over real HTTP between real nodes:
上海市公安局 (sh) issues a 户籍事项证明; zj's verification API and zj's ``tongban verify``
check the QR code with sh (record, signature, signed status) and show what it says; after
sh revokes it, zj says so. sh answers its document endpoint only to whoever holds the
digest printed in the QR code."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import requests

pytestmark = pytest.mark.e2e

ISSUE = """
from tongban.directory.models import Organization
from tongban.documents.rendering import document_pdf
from tongban.documents.samples import sample_arguments
from tongban.documents.services import document_issue, document_qr_text
d = document_issue(organization=Organization.objects.get(name="上海市公安局"),
                   **sample_arguments("certificate"))
open({path!r}, "wb").write(document_pdf(d))
print(document_qr_text(d))
"""
REVOKE = """
from tongban.documents.services import document_status_set
document_status_set(document_id={document_id!r}, status="revoked", reason="证明内容有误")
"""


def _verify_at(region, node: str, qr_text: str, online: bool = True) -> dict:
    response = requests.post(
        f"{region.url(node)}/api/v1/documents/verify",
        json={"qr_text": qr_text, "online": online},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_a_document_issued_in_shanghai_verifies_in_zhejiang_until_revoked(live_region, tmp_path):
    pdf_path = tmp_path / "户籍事项证明.pdf"
    output = live_region.manage("sh", "shell", "-c", ISSUE.format(path=str(pdf_path)))
    qr_text = output.strip().splitlines()[-1]
    assert qr_text.startswith("TBD1:sh:sh-")
    _, _, document_id, digest, *_ = qr_text.split(":")

    # the issuer answers only with the digest from the QR code
    sh = live_region.url("sh")
    assert requests.get(f"{sh}/api/v1/documents/{document_id}", timeout=10).status_code == 422
    wrong = requests.get(
        f"{sh}/api/v1/documents/{document_id}", params={"digest": "0" * 64}, timeout=10
    )
    assert wrong.status_code == 404
    answer = requests.get(
        f"{sh}/api/v1/documents/{document_id}", params={"digest": digest}, timeout=10
    ).json()
    assert answer["status"]["status"] == "valid" and answer["record"]["id"] == document_id

    # zj asks sh over HTTP: genuine, with the signed content
    verdict = _verify_at(live_region, "zj", qr_text)
    assert verdict["verdict"] == "genuine", verdict
    assert verdict["content_source"] == "issuer" and verdict["status"]["source"] == "issuer"
    content = verdict["content"]
    assert content["title"] == "户籍事项证明"
    assert content["issuer"]["name"] == "上海市公安局"
    assert content["subject"]["name"] == "王芳"
    assert any(row["value"] == "亲属关系" for row in content["rows"])
    assert content["issued_at_cn"].startswith("2026年") or "年" in content["issued_at_cn"]
    # without asking sh, zj can only say the signature holds
    offline = _verify_at(live_region, "zj", qr_text, online=False)
    assert offline["verdict"] == "signature_only" and not offline["issuer_reached"]

    # zj's `tongban verify` on the PDF: QR read from the page, text compared with the record
    result = subprocess.run(
        [sys.executable, "-m", "tongban.cli", "verify", str(pdf_path), "--json"],
        env=live_region.env("zj"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["verdict"] == "genuine"

    # sh revokes it: zj says so at once
    live_region.manage("sh", "shell", "-c", REVOKE.format(document_id=document_id))
    revoked = _verify_at(live_region, "zj", qr_text)
    assert revoked["verdict"] == "revoked", revoked
    assert revoked["status"]["reason"] == "证明内容有误"
    # a forged QR (another digest under sh's signature) is refused at zj
    forged = qr_text.replace(digest, "f" * 64)
    assert _verify_at(live_region, "zj", forged)["verdict"] == "forged"
