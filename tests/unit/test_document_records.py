"""The signed document record (tongban-document/1): issue, copy, tamper, QR grammar."""

from __future__ import annotations

import copy

import pytest

from tongban.directory.models import Organization
from tongban.documents import formats
from tongban.documents.services import (
    DocumentRejected,
    document_copy_store,
    document_issue,
    document_qr_text,
    signature_check,
)


def _issue():
    org = Organization.objects.filter(node__node_id="sh").first()
    return document_issue(
        kind="certificate",
        title="户籍事项证明",
        organization=org,
        subject={"name": "张三", "id_masked": "3101**********0011"},
        facts=[("证明事项", "亲属关系"), ("证明内容", "张三与李四系父子关系")],
        case_number="TEST0001",
    )


def test_an_issued_document_verifies_and_its_qr_parses(region):
    document = _issue()
    assert signature_check(document.record, document.signature) == document.digest
    ref = formats.qr_parse(document_qr_text(document))
    assert (ref.node, ref.id, ref.digest) == ("sh", document.document_id, document.digest)
    assert document.record["issued_at"].endswith("+08:00")


def test_a_changed_record_is_rejected(region):
    document = _issue()
    forged = copy.deepcopy(document.record)
    forged["facts"][1]["value"] = "张三与王五系父子关系"
    with pytest.raises(DocumentRejected):
        signature_check(forged, document.signature)
    with pytest.raises(DocumentRejected):
        document_copy_store(record=forged, signature=document.signature)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "TBD1:sh:zj-0123456789abcdef0123:" + "a" * 64 + ":k:" + "A" * 60,  # id of another node
        "TBD1:sh:sh-0123456789abcdef0123:" + "A" * 64 + ":k:" + "A" * 60,  # upper-case digest
        "TONGBAN-RESULT:X:sh:" + "a" * 64,
        "TBD1:sh:sh-0123456789abcdef0123:" + "a" * 64 + ":k:" + "A" * 60 + "\x00",
    ],
)
def test_malformed_qr_texts_are_refused(text):
    with pytest.raises(formats.DocumentFormatError):
        formats.qr_parse(text)
