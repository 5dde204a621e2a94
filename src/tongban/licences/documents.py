"""The printable licence file (电子证照文件): a signed ``licence_file`` document
(tongban.documents) whose facts are the licence's face, printed with the official layout and
the one QR scheme every node verifies (its status follows the licence's: a revoked, suspended
or superseded licence makes the file not genuine).

Identifier fields (the registry marks them ``"identifier": true``; the 身份证号 of a person)
are printed masked. Dates are in Chinese. A node prints a licence its own authority issued on
that authority's behalf; a holder's home node printing a licence from another province signs
as its own government-services organization and says which authority issued the licence.
One file is issued per licence version and node, and reused for every download.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings

from tongban.directory.models import Organization
from tongban.documents.dates import date_cn
from tongban.documents.models import IssuedDocument
from tongban.documents.rendering import document_pdf
from tongban.documents.selectors import licence_file_current
from tongban.documents.services import document_issue
from tongban.identity.masking import mask_id_number
from tongban.licences.models import Licence, LicenceType, WalletEntry

KIND = "licence_file"


def _looks_like_id_number(value: str) -> bool:
    text = value.strip().upper()
    return len(text) == 18 and text[:17].isdigit() and (text[17].isdigit() or text[17] == "X")


def _identifier_keys(licence_type: LicenceType) -> set[str]:
    keys = getattr(licence_type, "identifier_fields", None)
    if keys is not None:
        return set(keys)
    return {"holder_id"} if licence_type.holder_type == "person" else set()


def _face_value(spec: dict, value: object, identifiers: set[str]) -> str:
    text = "" if value is None else str(value)
    if spec["key"] in identifiers or _looks_like_id_number(text):
        return mask_id_number(text)
    if spec.get("kind") == "date":
        try:
            return date_cn(dt.date.fromisoformat(text))
        except ValueError:
            return text
    return text


def _licence_facts(licence: Licence | WalletEntry, licence_type: LicenceType, values: dict):
    identifiers = _identifier_keys(licence_type)
    facts = [("证照类型", licence_type.name)]
    for spec in licence_type.fields:
        if spec.get("same_as") or spec["key"] not in values:
            continue  # validity dates: printed once, from the licence itself
        facts.append((spec["label"], _face_value(spec, values[spec["key"]], identifiers)))
    issuer_name = licence.organization.name if isinstance(licence, Licence) else licence.issuer_name
    facts.append(("发证机关", issuer_name))
    valid_to = date_cn(licence.valid_to) if licence.valid_to else "长期"
    facts.append(("有效期", f"{date_cn(licence.valid_from)} 至 {valid_to}"))
    facts.append(("证照版本", f"第 {licence.version} 版"))
    facts.append(("电子证照标识", licence.identifier))
    return facts


def _signing_organization(licence: Licence | WalletEntry) -> tuple[Organization, bool]:
    """(organization, is_the_licence_issuer)."""
    if isinstance(licence, Licence):
        return licence.organization, True
    if licence.issuer_node == settings.TONGBAN_NODE:
        org = Organization.objects.filter(code=licence.issuer_code).first()
        if org is not None:
            return org, True
    org = (
        Organization.objects.filter(
            node__node_id=settings.TONGBAN_NODE, kind="government_services", active=True
        )
        .order_by("id")
        .first()
    ) or Organization.objects.filter(node__node_id=settings.TONGBAN_NODE).order_by("id").first()
    return org, False


def licence_file_document(licence: Licence | WalletEntry, values: dict) -> IssuedDocument:
    """The signed licence file of this licence version (issued once, then reused)."""
    existing = licence_file_current(licence.identifier)
    if existing is not None:
        return existing
    if isinstance(licence, Licence):
        licence_type, issuer_node = licence.licence_type, licence.organization.node.node_id
    else:
        licence_type = LicenceType.objects.get(code=licence.type_code)
        issuer_node = licence.issuer_node
    holder_id = str(values.get("holder_id", ""))
    person = licence_type.holder_type == "person"
    organization, own = _signing_organization(licence)
    issuer_name = licence.organization.name if isinstance(licence, Licence) else licence.issuer_name
    body = (
        f"本文件依据{issuer_name}签发的电子证照生成，与电子证照具有同等效力；"
        "证照当前状态以扫码核验结果为准。"
        if own
        else f"本文件由{organization.name}依据{issuer_name}签发的电子证照生成，"
        "证照内容经发证机关数字签名核验；证照当前状态以扫码核验结果为准。"
    )
    return document_issue(
        kind=KIND,
        title=f"{licence_type.name}（电子证照文件）",
        organization=organization,
        subject={
            "name": str(values.get("holder_name", "")),
            "id_masked": mask_id_number(holder_id) if person else holder_id,
            "id_label": "公民身份号码" if person else "统一社会信用代码",
        },
        facts=_licence_facts(licence, licence_type, values),
        body=body,
        valid_until=licence.valid_to,
        licence={"identifier": licence.identifier, "issuer_node": issuer_node},
    )


def licence_pdf(licence: Licence | WalletEntry, values: dict) -> bytes:
    """The licence file as PDF: official layout, seal, the verifiable QR code."""
    return document_pdf(licence_file_document(licence, values))
