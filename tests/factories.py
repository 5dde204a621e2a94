"""Test data built through the real services (no fixtures files, no mocks)."""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass, field

from django.utils import timezone
from stdnum.cn import ric

from tongban.catalog.services import DATA_DIR as CATALOG_DIR
from tongban.catalog.services import catalog_release_import
from tongban.directory.models import CachedConfiguration, Organization, Window
from tongban.directory.services import directory_load_seed, node_key_add, node_register
from tongban.directory.signing import signing_key_create
from tongban.exchange.envelopes import Blob, envelope_build
from tongban.gm import sm2
from tongban.gm.canonical import canonical_json
from tongban.gm.sm3 import sm3_hex
from tongban.identity.models import StaffAssignment, User
from tongban.licences.services import licence_types_load_seed

PASSWORD = "Test-password-2026"
ESTABLISHMENT = "000301001000"  # 内资有限公司设立登记
QINGPU_AMR = "上海市青浦区市场监督管理局"
JIAXING_AMR = "嘉兴市市场监督管理局"

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def enterprise_registry_seed(node_id: str = "sh") -> int:
    """The sharing catalog and the sample rows of ``node_id``'s datasets, among them its
    企业登记信息 (the register that confirms who represents an enterprise)."""
    from tongban.sharing.samples import sharing_samples_generate
    from tongban.sharing.services import sharing_catalog_load_seed

    sharing_catalog_load_seed()
    return sharing_samples_generate(node_id=node_id)


def id_number(prefix17: str = "33042119900307123") -> str:
    return prefix17 + ric.calc_check_digit(prefix17 + "0")


def user_with(
    username: str,
    *,
    role: str | None = None,
    organization=None,
    window=None,
    person=None,
    assurance: str = "L1",
) -> User:
    """A staff member (role) or a person's account; ``assurance="L3"`` for an identity
    proven face to face, which sees what others recorded under the 身份证号 (ADR 0010)."""
    user = User.objects.create_user(
        username=username,
        password=PASSWORD,
        kind="person" if person else "staff",
        display_name=username,
        person=person,
        assurance=assurance,
    )
    if role:
        StaffAssignment.objects.create(
            user=user, role=role, organization=organization, window=window
        )
    return user


@dataclass
class RegionData:
    """This node is sh; zj, js, ah and the hub are peers with real keys."""

    peer_keys: dict[str, sm2.SigningKey] = field(default_factory=dict)
    peer_kids: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(cls) -> RegionData:
        import json

        data = cls()
        node_register(
            node_id="hub", name="长三角枢纽", base_url="http://127.0.0.1:8000", role="hub"
        )
        for node_id, name, region in (
            ("sh", "上海", "310000"),
            ("js", "江苏", "320000"),
            ("zj", "浙江", "330000"),
            ("ah", "安徽", "340000"),
        ):
            node_register(
                node_id=node_id,
                name=name,
                region=region,
                base_url=f"http://127.0.0.1:{8001 + ['sh', 'js', 'zj', 'ah'].index(node_id)}",
            )
        local = signing_key_create(node_id="sh")
        node_key_add(node_id="sh", kid=local.kid, public_key=local.public_key)
        for peer in ("hub", "zj", "js", "ah"):
            key = sm2.SigningKey.generate()
            kid = f"{peer}-test-{key.public_key_hex[2:10]}"
            node_key_add(
                node_id=peer,
                kid=kid,
                public_key=key.public_key_hex,
                not_before=timezone.now() - dt.timedelta(days=365),
            )
            data.peer_keys[peer], data.peer_kids[peer] = key, kid
        directory_load_seed()
        licence_types_load_seed()
        document = json.loads((CATALOG_DIR / "catalog_2026Q4.json").read_text(encoding="utf-8"))
        catalog_release_import(document=document, sm3=sm3_hex(canonical_json(document)))
        now = timezone.now()
        CachedConfiguration.objects.create(
            serial=1,
            issued_at=now,
            expires_at=now + dt.timedelta(days=1),
            document=json.dumps({"configuration": {"serial": 1, "nodes": [], "catalog": None}}),
        )
        return data

    # --- directory lookups -----------------------------------------------------------
    def org(self, name: str) -> Organization:
        return Organization.objects.get(name=name)

    def window(self, code: str) -> Window:
        return Window.objects.get(code=code)

    # --- peers ---------------------------------------------------------------------
    def signer(self, peer: str):
        key, kid = self.peer_keys[peer], self.peer_kids[peer]
        return lambda data: {"alg": sm2.ALGORITHM, "kid": kid, "value": key.sign_b64(data)}

    def envelope(
        self,
        *,
        sender: str = "zj",
        type: str,
        correlation: str,
        seq: int,
        body: dict,
        subject: dict | None = None,
        blobs: list[Blob] | None = None,
        recipient: str = "sh",
        issued_at: dt.datetime | None = None,
    ) -> dict:
        return envelope_build(
            type=type,
            recipient=recipient,
            correlation=correlation,
            seq=seq,
            body=body,
            subject=subject,
            blobs=blobs,
            sender=sender,
            signer=self.signer(sender),
            issued_at=issued_at,
        )

    def case_submit_envelope(
        self,
        *,
        number: str,
        applicant_id: str | None = None,
        organization: str = QINGPU_AMR,
        seq: int = 1,
        case_fields: dict | None = None,
        **kw,
    ) -> dict:
        """What the zj window's node sends for a 内资有限公司设立登记 decided in 青浦
        (``case_fields``: more fields of the case, e.g. the applicant's ``delivery``)."""
        from tongban.catalog.models import Implementation

        impl = Implementation.objects.get(
            item__basic_code=ESTABLISHMENT, organization__name=organization
        )
        applicant_id = applicant_id or id_number()
        blobs = [
            Blob(content=PDF + code.encode(), media_type="application/pdf")
            for code in ("M01", "M02", "M03", "M04", "M05")
        ]
        now = timezone.now().isoformat()
        body = {
            "case": {
                "number": number,
                "item": ESTABLISHMENT,
                "implementation_code": impl.code,
                "organization": impl.organization_id,
                "channel": "window",
                "window": {"code": "zj-330421-01", "name": "嘉善县长三角“一网通办”综合服务专窗"},
                "applicant": {"name": "张伟", "id_number": applicant_id, "phone": "13905731234"},
                "form": establishment_form(),
                "submitted_at": now,
                "actor": {"name": "沈晓燕", "place": "嘉善县专窗", "node": "zj"},
                "materials": [
                    {
                        "material_code": code,
                        "name": code,
                        "filename": f"{code}.pdf",
                        "media_type": "application/pdf",
                        "size": len(b.content),
                        "sm3": b.sm3,
                    }
                    for code, b in zip(("M01", "M02", "M03", "M04", "M05"), blobs, strict=True)
                ],
                **(case_fields or {}),
            }
        }
        subject = {
            "subject": {"name": "张伟", "id_type": "111", "id_number": applicant_id},
            "assurance": "L3",
            "method": "in_person",
            "authenticated_at": now,
            "authenticated_by": {"node": "zj", "window": {"code": "zj-330421-01"}},
        }
        return self.envelope(
            type="case.submit",
            correlation=number,
            seq=seq,
            body=body,
            subject=subject,
            blobs=blobs,
            **kw,
        )


def zj_event(region: RegionData, number: str, seq: int, event: str, to_status: str, **body):
    """A ``case.event`` from zj (嘉兴市市场监督管理局 decides) about the case ``number``."""
    return region.envelope(
        type="case.event",
        correlation=number,
        seq=seq,
        body={
            "number": number,
            "event": event,
            "to_status": to_status,
            "occurred_at": dt.datetime.now(dt.UTC).isoformat(),
            "actor": {"name": "钱程", "place": JIAXING_AMR, "node": "zj"},
            **body,
        },
    )


def establishment_form(**overrides) -> dict:
    form = {
        "company_name": "上海青禾数字科技有限公司",
        "registered_capital": "500",
        "business_scope": "技术服务、技术开发",
        "address": "上海市青浦区华新镇华腾路1288号",
        "legal_representative": "张伟",
        "company_type": "有限责任公司（自然人投资或控股）",
    }
    form.update(overrides)
    return form


def materials_payload(
    codes=("M01", "M02", "M03", "M04", "M05"), content: bytes = PDF
) -> list[dict]:
    return [
        {
            "material_code": c,
            "filename": f"{c}.pdf",
            "content_base64": base64.b64encode(content + c.encode()).decode(),
        }
        for c in codes
    ]
