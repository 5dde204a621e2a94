"""The printable rendering of an e-licence: face data in Chinese, metadata, and
a verification QR code that links to the issuing node's public status page
(online check by identifier; it discloses no personal data)."""

from __future__ import annotations

from django.utils import timezone

from tongban.cases.documents import PdfPage
from tongban.directory.models import Node
from tongban.identity.masking import mask_id_number
from tongban.licences.models import Licence, LicenceStatus, LicenceType, WalletEntry


def verification_url(issuer_node: str, identifier: str) -> str:
    node = Node.objects.filter(node_id=issuer_node).first()
    base = node.base_url if node else ""
    return f"{base}/verify/licence/{identifier}/"


def licence_pdf(licence: Licence | WalletEntry, values: dict) -> bytes:
    if isinstance(licence, Licence):
        licence_type = licence.licence_type
        issuer_node, issuer_name = licence.organization.node.node_id, licence.organization.name
    else:
        licence_type = LicenceType.objects.get(code=licence.type_code)
        issuer_node, issuer_name = licence.issuer_node, licence.issuer_name
    page = PdfPage(f"{licence_type.name}（电子证照）")
    page.row("持证主体", str(values.get("holder_name", "")))
    holder_id = str(values.get("holder_id", ""))
    page.row(
        "证件号码",
        mask_id_number(holder_id) if licence_type.holder_type == "person" else holder_id,
    )
    for spec in licence_type.fields:
        if spec["key"] in values:  # the 身份证号 in a face field is masked too
            page.row(spec["label"], licence_type.mask_value(spec["key"], values[spec["key"]]))
    page.row("发证机构", issuer_name)
    page.row("有效期", f"{licence.valid_from} 至 {licence.valid_to or '长期'}")
    page.row("版本", str(licence.version))
    page.row("状态", LicenceStatus(licence.status).label)
    page.row("证照标识", licence.identifier, size=9)
    url = verification_url(issuer_node, licence.identifier)
    page.qr(url, x=145 * 2.8346, y=30 * 2.8346, size=45 * 2.8346)
    page.note(
        f"扫码核验（发证节点在线查验状态）；签名算法 SM2-SM3。生成于 "
        f"{timezone.localtime():%Y-%m-%d %H:%M}"
    )
    return page.bytes()
