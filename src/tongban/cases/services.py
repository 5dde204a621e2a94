"""Case writes (办件): intake, the handling authority's decisions, supplements,
and applying the peer's events to the local mirror.

Every function is one transaction; state changes lock the case row, append
status history and write the announcing envelope to the outbox in the same
transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tongban.cases import data_checks, issuance
from tongban.cases.application_form import application_form_clean
from tongban.cases.deadlines import add_working_days
from tongban.cases.delivery import delivery_case_fields, delivery_choice_clean, delivery_wire
from tongban.cases.materials import CheckedFile, IncomingFile, material_check, material_store
from tongban.cases.models import (
    Case,
    CaseMaterial,
    CaseResult,
    CaseStatus,
    CaseStatusChange,
)
from tongban.cases.numbering import case_number_allocate, credit_code_allocate
from tongban.cases.signals import member_case_changed
from tongban.cases.stages import inputs_dump, limit_days_for, result_declaration_for
from tongban.cases.stored_pii import assertion_for_storage, form_for_storage
from tongban.catalog.models import Implementation, ServiceItem
from tongban.directory.models import Node, Window
from tongban.directory.signing import sign_detached
from tongban.documents.models import IssuedDocument
from tongban.errors import DomainError, NotFound, PermissionDenied
from tongban.exchange.envelopes import Blob, iso
from tongban.exchange.services import outbox_enqueue
from tongban.gm.canonical import canonical_json
from tongban.identity.models import Enterprise
from tongban.identity.pii import blind_index, decrypt_identifier, encrypt_identifier
from tongban.identity.security_log import security_event
from tongban.identity.selectors import access_for, identity_proven
from tongban.identity.services import (
    account_raise_in_person,
    agent_authorization_for,
    agent_authorization_sign,
    assurance_at_least,
    person_fields_clean,
    person_upsert,
)
from tongban.licences.sharing import (
    LicenceChoice,
    case_licences_block,
    case_licences_recheck,
    consent_sign,
    fetch_request,
    licence_choices_resolve,
)
from tongban.notices.services import applicant_notify
from tongban.notices.texts import case_status_text


@dataclass(frozen=True)
class Actor:
    name: str
    place: str
    node: str

    def as_dict(self) -> dict:
        return {"name": self.name, "place": self.place, "node": self.node}


def local_date(moment: dt.datetime) -> dt.date:
    return timezone.localtime(moment).date()


def _province(node_id: str) -> str:
    node = Node.objects.filter(node_id=node_id).only("region").first()
    return (node.region[:2] if node and node.region else "00").ljust(2, "0")


def status_record(
    case: Case,
    *,
    to_status: str,
    actor: Actor,
    occurred_at: dt.datetime,
    reason: str = "",
    details: dict | None = None,
    from_status: str | None = None,
) -> None:
    CaseStatusChange.objects.create(
        case=case,
        from_status=case.status if from_status is None else from_status,
        to_status=to_status,
        occurred_at=occurred_at,
        recorded_at=timezone.now(),
        node=actor.node,
        actor_name=actor.name,
        place=actor.place,
        reason=reason,
        details=details or {},
    )
    # the applicant hears of it (短信, 消息中心) from the node that received the case;
    # a 联办件's member cases are announced by the 联办件 itself
    if case.perspective in ("origin", "local") and not getattr(case, "composite_number", ""):
        notice = case_status_text(
            number=case.number,
            item_name=case.item_name,
            to_status=to_status,
            from_status=case.status if from_status is None else from_status,
            reason=reason,
            details=details,
        )
        if notice is not None:
            applicant_notify(
                id_number=decrypt_identifier(case.applicant_id_encrypted),
                phone=decrypt_identifier(case.applicant_phone_encrypted),
                title=notice[0],
                text=notice[1],
                case_number=case.number,
                link=f"/cases/{case.number}/",
                account=case.applicant_account,
            )


def deadline_clock_start(case: Case, day: dt.date) -> None:
    case.clock_started_on = day
    promised, legal = limit_days_for(case)  # a relay stage counts its own limit
    case.deadline, provisional = add_working_days(day, promised)
    case.legal_deadline, legal_provisional = add_working_days(day, legal)
    case.deadline_provisional = provisional or legal_provisional


def materials_attach(case: Case, files: list[CheckedFile], *, source: str, at: dt.datetime) -> None:
    CaseMaterial.objects.bulk_create(
        CaseMaterial(
            case=case,
            material_code=f.material_code,
            name=f.name,
            filename=f.filename,
            media_type=f.media_type,
            size=len(f.content),
            sm3=f.sm3,
            storage_path=material_store(f.content, f.sm3),
            source=source,
            uploaded_at=at,
        )
        for f in files
    )


def licence_material_create(
    case: Case, *, material_code: str, name: str, ref: dict, state: str, at: dt.datetime
) -> CaseMaterial:
    """A material given as an e-licence (免交): no file, the licence's identifier and consent."""
    return CaseMaterial.objects.create(
        case=case,
        material_code=material_code[:8],
        name=name[:128],
        filename="",
        media_type="",
        size=0,
        sm3="",
        storage_path="",
        source="submission",
        uploaded_at=at,
        licence_identifier=ref["identifier"][:96],
        licence_type_name=ref["type_name"][:64],
        licence_issuer_node=ref["issuer_node"][:16],
        licence_state=state,
        licence_consent=ref["consent"],
    )


def _licence_materials_attach(
    case: Case, choices: list[LicenceChoice], *, actor: Actor, window, at: dt.datetime
) -> list[dict]:
    """Sign the holder's consent for each chosen licence and record the material."""
    org = case.handling_organization
    refs = []
    for choice in choices:
        consent = consent_sign(
            identifier=choice.identifier,
            issuer_node=choice.issuer_node,
            holder_type=choice.licence_type.holder_type,
            holder_id=choice.holder_id,
            case_number=case.number,
            item={"code": case.item.basic_code, "name": case.item_name},
            material={"code": choice.material_code, "name": choice.material_name},
            requester={
                "node": case.handling_node,
                "organization": org.code,
                "organization_name": org.name,
            },
            channel=case.channel,
            window={"code": window.code, "name": window.name} if window else None,
            officer=actor.name if window else "",
        )
        ref = {
            "material_code": choice.material_code,
            "name": choice.material_name,
            "identifier": choice.identifier,
            "issuer_node": choice.issuer_node,
            "type_code": choice.licence_type.code,
            "type_name": choice.licence_type.name,
            "consent": consent,
        }
        licence_material_create(
            case,
            material_code=choice.material_code,
            name=choice.material_name,
            ref=ref,
            state="consented",
            at=at,
        )
        refs.append(ref)
    return refs


def _material_refs(files: list[CheckedFile]) -> list[dict]:
    return [
        {
            "material_code": f.material_code,
            "name": f.name,
            "filename": f.filename,
            "media_type": f.media_type,
            "size": len(f.content),
            "sm3": f.sm3,
        }
        for f in files
    ]


def _check_uploads(
    item: ServiceItem,
    uploads: list[IncomingFile],
    *,
    require_all: bool,
    only_codes: set[str] | None = None,
    provided: frozenset[str] = frozenset(),
) -> list[CheckedFile]:
    materials = {m.code: m for m in item.materials.all()}
    checked = []
    for upload in uploads:
        material = materials.get(upload.material_code)
        if material is None or (only_codes is not None and upload.material_code not in only_codes):
            raise DomainError(
                "unknown_material",
                _("材料编码 %(code)s 不属于该事项的申请材料") % {"code": upload.material_code},
            )
        checked.append(material_check(material=material, upload=upload))
    if require_all:
        given = {c.material_code for c in checked} | provided
        missing = [m.name for m in materials.values() if m.required and m.code not in given]
        if missing:
            raise DomainError(
                "missing_materials",
                _("缺少必须提交的材料：%(names)s") % {"names": "、".join(missing)},
                details={"missing": missing},
            )
    return checked


def _clean_applicant(applicant: object) -> dict:
    if not isinstance(applicant, dict):
        raise DomainError("invalid_applicant", _("申请人信息格式不正确"))
    name, id_number, phone = person_fields_clean(
        name=str(applicant.get("name") or ""),
        id_number=str(applicant.get("id_number") or ""),
        phone=str(applicant.get("phone") or ""),
        code="invalid_applicant",
        message=_("申请人信息有误"),
    )
    return {"name": name, "id_number": id_number, "phone": phone}


# --- intake at a window --------------------------------------------------------


def _implementation(item_code: str, organization_code: str) -> tuple[ServiceItem, Implementation]:
    item = ServiceItem.objects.filter(basic_code=item_code, active=True).first()
    if item is None:
        raise NotFound(_("事项不存在"))
    implementation = (
        Implementation.objects.select_related("organization__node")
        .filter(item=item, organization_id=organization_code, organization__active=True)
        .first()
    )
    if implementation is None:
        raise DomainError("no_such_implementation", _("所选机构不办理该事项"))
    return item, implementation


def intake_columns(*, person: dict, enterprise: dict | None, user, channel: str, window) -> dict:
    """Where and from whom an application was received, as a case (or 联办件) stores it:
    the 身份证号 and phone encrypted, the 身份证号's blind index for lookups."""
    return {
        "receiving_node": settings.TONGBAN_NODE,
        "receiving_window": window,
        "receiving_window_name": window.name if window else "",
        "applicant_name": person["name"],
        "applicant_id_encrypted": encrypt_identifier(person["id_number"]),
        "applicant_id_index": blind_index(person["id_number"]),
        "applicant_phone_encrypted": encrypt_identifier(person["phone"]),
        "applicant_account": user if channel == "online" else None,
        "enterprise_code": (enterprise or {}).get("code", ""),
        "enterprise_name": (enterprise or {}).get("name", ""),
    }


def _case_create(
    *,
    user,
    actor: Actor,
    item: ServiceItem,
    implementation: Implementation,
    channel: str,
    window: Window | None,
    person: dict,
    assertion: dict,
    cleaned: dict,
    checked: list[CheckedFile],
    enterprise: dict | None = None,
    licence_choices: list[LicenceChoice] | None = None,
    composite: dict | None = None,
    delivery: dict | None = None,
    data_consents: list[str] | None = None,
) -> Case:
    """Record a new case here and, if another node decides it, send it there — atomically.

    ``composite``: the case is a stage or part of a 联办件 coordinated here —
    ``{"number", "kind", "key", "role", "inputs", "documents", "started_by_system"}``;
    a member started later by the 联办件 (not at intake) neither raises the applicant's
    account nor issues another 收件凭证."""
    member = composite or {}
    at_intake = not member.get("started_by_system")
    org = implementation.organization
    handling_node = org.node.node_id
    here = settings.TONGBAN_NODE
    now = timezone.now()
    with transaction.atomic():
        number = case_number_allocate(
            implementation_code=implementation.code, day=local_date(now), province=_province(here)
        )
        case = Case(
            number=number,
            perspective="local" if handling_node == here else "origin",
            channel=channel,
            item=item,
            item_name=item.name,
            implementation_code=implementation.code,
            handling_organization=org,
            handling_node=handling_node,
            **intake_columns(
                person=person, enterprise=enterprise, user=user, channel=channel, window=window
            ),
            identity_assertion=assertion_for_storage(assertion),
            form_data=form_for_storage(item.form_schema, cleaned),
            status=CaseStatus.SUBMITTED,
            status_changed_at=now,
            submitted_at=now,
            created_by=user,
            created_by_name=actor.name,
            composite_number=member.get("number", ""),
            member_key=member.get("key", ""),
            member_role=member.get("role", "")[:40],
            member_inputs_encrypted=inputs_dump(member.get("inputs") or {}),
            **delivery_case_fields(delivery),  # 送达: the applicant's choice (cases.delivery)
        )
        if case.perspective == "local":
            case.received_at = now
            deadline_clock_start(case, local_date(now))
        case.save()
        person_row = person_upsert(
            name=person["name"], id_number=person["id_number"], phone=person["phone"]
        )
        if channel == "window" and at_intake:
            account_raise_in_person(
                person=person_row, phone=person["phone"], by=user, window=window
            )
        materials_attach(case, checked, source="submission", at=now)
        licence_refs = _licence_materials_attach(
            case, licence_choices or [], actor=actor, window=window, at=now
        )
        # 本人授权同意 for the data checks that need it, signed here (docs/data-sharing.md §5)
        consents = data_checks.data_consents_sign(
            case,
            datasets=data_consents or [],
            applicant_id=person["id_number"],
            window=window,
            officer=actor.name if window else "",
        )
        status_record(
            case,
            to_status=CaseStatus.SUBMITTED,
            actor=actor,
            occurred_at=now,
            from_status="",
            details={
                "materials": len(checked),
                "licences": len(licence_refs),
                "channel": channel,
            },
        )
        receipts = []
        if channel == "window" and at_intake:
            # 收件凭证: issued here, at once, by the window's organization
            receipts.append(issuance.intake_receipt_issue(case, window=window, officer=actor.name))
        if case.perspective == "local":
            for ref in licence_refs:
                fetch_request(
                    case_number=number, material_code=ref["material_code"], consent=ref["consent"]
                )
            data_checks.case_data_checks_start(case, consents=consents)
        if case.perspective == "origin":
            submitted = {
                "case": {
                    "number": number,
                    "item": item.basic_code,
                    "implementation_code": implementation.code,
                    "organization": org.code,
                    "channel": channel,
                    "window": {"code": window.code, "name": window.name} if window else None,
                    "applicant": {
                        "name": person["name"],
                        "id_number": person["id_number"],
                        "phone": person["phone"],
                    },
                    "enterprise": enterprise,
                    "form": cleaned,
                    "materials": _material_refs(checked),
                    "licences": licence_refs,
                    "delivery": delivery_wire(delivery),
                    "submitted_at": iso(now),
                    "actor": actor.as_dict(),
                },
                "documents": signed_documents(receipts),
            }
            if consents:
                submitted["case"]["data_consents"] = consents
            if member:
                # a stage/part of a 联办件: what it is and what came before (exchange §15)
                submitted["case"]["composite"] = {
                    "number": member["number"],
                    "kind": member["kind"],
                    "key": member["key"],
                    "role": member.get("role", ""),
                    "inputs": member.get("inputs") or {},
                    "documents": member.get("documents") or [],
                }
            outbox_enqueue(
                type="case.submit",
                recipient=handling_node,
                correlation=number,
                subject=assertion,
                body=submitted,
                blobs=[Blob(content=f.content, media_type=f.media_type) for f in checked],
            )
    return case


def case_submit_at_window(
    *,
    user,
    window_code: str,
    item_code: str,
    organization_code: str,
    applicant: dict,
    form_data: dict,
    files: list[IncomingFile],
    licences: list[dict] | None = None,
    licence_consent: bool = False,
    create=None,
    delivery: dict | None = None,
    data_consents: list[str] | None = None,
) -> Case:
    """A clerk records an in-person application and sends it to the deciding authority.

    ``licences`` replace materials with e-licences (免证办): each names a material
    and either a licence in the applicant's wallet here or the 亮证 QR text the
    applicant shows at the window; ``licence_consent`` records that they agreed.
    ``create``: what records the checked application (``cases.composites`` passes its
    own for an item whose stages or parts make it a 联办件).
    """
    access = access_for(user)
    window = (
        Window.objects.select_related("organization")
        .filter(code=window_code, node__node_id=settings.TONGBAN_NODE, active=True)
        .first()
    )
    if window is None or window.pk not in access.clerk_windows:
        raise PermissionDenied(_("您不是该窗口的受理人员"))
    item, implementation = _implementation(item_code, organization_code)
    person = _clean_applicant(applicant)
    cleaned = application_form_clean(item.form_schema, form_data)
    choices = licence_choices_resolve(
        item=item,
        handling_node=implementation.organization.node.node_id,
        applicant_id=person["id_number"],
        enterprise_code="",
        choices=licences or [],
        consent=licence_consent,
    )
    consented = data_checks.data_consents_clean(
        data_consents, item_code=item.basic_code, organization_code=implementation.organization_id
    )
    checked = _check_uploads(
        item,
        files,
        require_all=True,
        provided=frozenset(c.material_code for c in choices)
        | data_checks.replaceable_materials(
            item, implementation.organization_id, consented=consented
        ),
    )
    here = settings.TONGBAN_NODE
    actor = Actor(name=user.display_name or user.username, place=window.name, node=here)
    assertion = {
        "subject": {"name": person["name"], "id_type": "111", "id_number": person["id_number"]},
        "assurance": "L3",
        "method": "in_person",
        "authenticated_at": iso(timezone.now()),
        "authenticated_by": {
            "node": here,
            "window": {"code": window.code, "name": window.name},
            "officer": actor.name,
        },
    }
    return (create or _case_create)(
        user=user,
        actor=actor,
        item=item,
        implementation=implementation,
        channel="window",
        window=window,
        person=person,
        assertion=assertion,
        cleaned=cleaned,
        checked=checked,
        licence_choices=choices,
        delivery=delivery_choice_clean(delivery, receiving_node=here),
        data_consents=consented,
    )


def case_submit_online(
    *,
    user,
    item_code: str,
    organization_code: str,
    form_data: dict,
    files: list[IncomingFile],
    enterprise_code: str = "",
    authenticated_at: dt.datetime | None = None,
    authentication_method: str = "password+sms_otp",
    licences: list[dict] | None = None,
    licence_consent: bool = False,
    create=None,
    delivery: dict | None = None,
    data_consents: list[str] | None = None,
) -> Case:
    """全程网办: a signed-in resident (or an enterprise's agent) applies from their home node.

    The home node vouches for them in the envelope (一地认证、全网通办): who they
    are, their real-name assurance level, how and when they authenticated.
    """
    if (
        user.kind != "person"
        or not user.person_id
        or user.person.home_node != settings.TONGBAN_NODE
    ):
        raise PermissionDenied(
            _("请在您的户籍（常住）地平台网上申请：本平台只为本地居民出具身份担保")
        )
    item, implementation = _implementation(item_code, organization_code)
    if item.mode == "proxy":
        raise DomainError(
            "window_only",
            _("该事项为异地代收代办：请携带材料到就近的长三角“一网通办”专窗办理"),
        )
    if not assurance_at_least(user.assurance, item.min_assurance):
        raise DomainError(
            "assurance_too_low",
            _(
                "该事项要求实名认证等级 %(need)s，您当前为 %(have)s。请先完成更高等级的实名认证（如到窗口当面核验）。"
            )
            % {"need": item.min_assurance, "have": user.assurance},
            status=403,
        )
    enterprise = None
    authorization = None
    if enterprise_code:
        if item.audience != "enterprise":
            raise DomainError("not_an_enterprise_item", _("该事项不是法人事项"))
        represented = Enterprise.objects.filter(
            code=enterprise_code,
            legal_representative=user.person,
            code__in=access_for(user).enterprise_codes,  # proven, or registered by this account
        ).first()
        authorization = agent_authorization_for(
            user=user, enterprise_code=enterprise_code, item_code=item.basic_code
        )
        if represented is None and authorization is None:
            security_event(
                "agent_not_authorized", user=user, enterprise=enterprise_code, item=item.basic_code
            )
            raise PermissionDenied(
                _("您没有代表该企业办理此事项的有效授权（授权可能已过期或未包含此事项）")
            )
        target = represented or authorization.enterprise
        enterprise = {
            "code": target.code,
            "name": target.name,
            "role": "legal_representative" if represented else "agent",
        }
    elif item.audience == "enterprise" and item.result_kind != "business_licence":
        raise DomainError("enterprise_required", _("法人事项须以企业名义申请：请选择企业"))
    if licences and not identity_proven(user):
        # a licence in the wallet was issued to the 身份证号 by someone else (ADR 0010)
        raise DomainError(
            "identity_not_proven",
            _("使用证照夹中的电子证照须先当面核验身份（L3）。请改为上传材料，或到窗口当面核验。"),
            status=403,
        )
    person_row = user.person
    person = {"name": person_row.name, "id_number": person_row.id_number, "phone": person_row.phone}
    cleaned = application_form_clean(item.form_schema, form_data)
    choices = licence_choices_resolve(
        item=item,
        handling_node=implementation.organization.node.node_id,
        applicant_id=person["id_number"],
        enterprise_code=(enterprise or {}).get("code", ""),
        choices=licences or [],
        consent=licence_consent,
    )
    consented = data_checks.data_consents_clean(
        data_consents, item_code=item.basic_code, organization_code=implementation.organization_id
    )
    checked = _check_uploads(
        item,
        files,
        require_all=True,
        provided=frozenset(c.material_code for c in choices)
        | (
            frozenset()
            if enterprise
            else data_checks.replaceable_materials(
                item, implementation.organization_id, consented=consented
            )
        ),
    )
    here = settings.TONGBAN_NODE
    actor = Actor(name=user.display_name or user.username, place=_("网上申请"), node=here)
    assertion = {
        "subject": {"name": person["name"], "id_type": "111", "id_number": person["id_number"]},
        "assurance": user.assurance,
        "method": authentication_method,
        "authenticated_at": iso(authenticated_at or timezone.now()),
        # the account is the subject (OIDC "sub") this node signs it in with elsewhere
        "authenticated_by": {
            "node": here,
            "home_node": person_row.home_node or here,
            "account": str(user.pk),
        },
    }
    if enterprise:
        assertion["acting_for"] = {
            **enterprise,
            "authorization": (
                {
                    "id": authorization.pk,
                    "items": authorization.item_codes,
                    "expires_at": iso(authorization.expires_at),
                    # signed by this node, checked by the deciding node (protocol §10.1)
                    **agent_authorization_sign(authorization),
                }
                if authorization and enterprise["role"] == "agent"
                else None
            ),
        }
    return (create or _case_create)(
        user=user,
        actor=actor,
        item=item,
        implementation=implementation,
        channel="online",
        window=None,
        person=person,
        assertion=assertion,
        cleaned=cleaned,
        checked=checked,
        enterprise=enterprise,
        licence_choices=choices,
        delivery=delivery_choice_clean(delivery, receiving_node=here),
        data_consents=consented,
    )


# --- the deciding authority ---------------------------------------------------------

_HANDLING_TRANSITIONS = {
    "accept": ({CaseStatus.SUBMITTED}, CaseStatus.ACCEPTED),
    "refuse": ({CaseStatus.SUBMITTED}, CaseStatus.REFUSED),
    "request_supplements": ({CaseStatus.SUBMITTED}, CaseStatus.SUPPLEMENT_REQUESTED),
    "approve": ({CaseStatus.ACCEPTED}, CaseStatus.APPROVED),
    "deny": ({CaseStatus.ACCEPTED}, CaseStatus.DENIED),
}


def _lock_for_official(user, number: str) -> tuple[Case, Actor]:
    access = access_for(user)
    case = (
        Case.objects.select_for_update(of=("self",))
        .select_related("item", "handling_organization")
        .filter(number=number, perspective__in=("handling", "local"))
        .first()
    )
    if case is None or case.handling_organization_id not in access.view_orgs:
        raise NotFound(_("办件不存在"))
    if case.handling_organization_id not in access.decide_orgs:
        raise PermissionDenied(_("您没有审批该办件的权限"))
    org = case.handling_organization
    return case, Actor(name=access.display_name, place=org.name, node=settings.TONGBAN_NODE)


def _check_transition(case: Case, action: str) -> str:
    allowed, target = _HANDLING_TRANSITIONS[action]
    if case.status not in allowed:
        raise DomainError(
            "invalid_state",
            _("办件当前状态为“%(status)s”，不能执行此操作") % {"status": case.get_status_display()},
            status=409,
        )
    return target


def signed_documents(documents: list[IssuedDocument]) -> list[dict]:
    """Documents as they travel between nodes: the signed record and its signature."""
    return [{"record": d.record, "signature": d.signature} for d in documents]


def case_event_announce(
    case: Case,
    *,
    event: str,
    from_status: str,
    actor: Actor,
    occurred_at: dt.datetime,
    reason: str = "",
    details: dict | None = None,
    documents: list[IssuedDocument] | None = None,
    outputs: dict | None = None,
) -> None:
    if case.perspective != "handling":
        return
    extra = {"outputs": outputs} if case.composite_number and outputs else {}
    outbox_enqueue(
        type="case.event",
        recipient=case.receiving_node,
        correlation=case.number,
        body={
            "number": case.number,
            "event": event,
            "from_status": from_status,
            "to_status": case.status,
            "occurred_at": iso(occurred_at),
            "actor": actor.as_dict(),
            "reason": reason,
            "details": details or {},
            "deadline": case.deadline.isoformat() if case.deadline else None,
            "legal_deadline": case.legal_deadline.isoformat() if case.legal_deadline else None,
            "deadline_provisional": case.deadline_provisional,
            "documents": signed_documents(documents or []),
            **extra,
        },
    )


def _decide(
    *,
    user,
    number: str,
    action: str,
    reason: str = "",
    details: dict | None = None,
    before_save=None,
    documents=None,
    outputs: dict | None = None,
) -> Case:
    """One decision: ``before_save(case, actor, now)`` may add details (the result);
    ``documents(case, now)`` issues the decision's documents once the case is updated;
    ``outputs`` (filled by ``before_save``) is what a 联办件 member passes on."""
    # 免证办: the licences the case used, checked again at their issuers (licences.sharing)
    case_licences_recheck(number=number)  # online, before the transaction
    with transaction.atomic():
        case, actor = _lock_for_official(user, number)
        target = _check_transition(case, action)
        case_licences_block(case=case, action=action)  # no 准予 on a revoked/suspended licence
        now = timezone.now()
        from_status = case.status
        details = dict(details or {})
        if before_save is not None:
            details.update(before_save(case, actor, now) or {})
        status_record(
            case, to_status=target, actor=actor, occurred_at=now, reason=reason, details=details
        )
        case.status = target
        case.status_changed_at = now
        if target == CaseStatus.ACCEPTED:
            case.accepted_at = now
        if target in (CaseStatus.REFUSED, CaseStatus.APPROVED, CaseStatus.DENIED):
            case.concluded_at = now
            case.decision_reason = reason
        case.save()
        issued = documents(case, now) if documents is not None else []
        case_event_announce(
            case,
            event=action,
            from_status=from_status,
            actor=actor,
            occurred_at=now,
            reason=reason,
            details=details,
            documents=issued,
            outputs=outputs,
        )
        member_changed_send(case, to_status=target, reason=reason, outputs=outputs)
    return case


def member_changed_send(case: Case, *, to_status: str, reason: str = "", outputs=None) -> None:
    """A 联办件 member changed status here: let the 联办件 move on (cases.signals)."""
    if case.composite_number:
        member_case_changed.send(
            sender=Case, case=case, to_status=to_status, reason=reason, outputs=outputs or {}
        )


def _required_reason(reason: str, what: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("reason_required", _("请填写%(what)s的理由") % {"what": what})
    if len(reason) > 2000:
        raise DomainError("reason_too_long", _("理由不能超过2000字"))
    return reason


def case_accept(*, user, number: str, note: str = "") -> Case:
    """受理: and its 受理回执."""
    note = (note or "").strip()[:2000]
    return _decide(
        user=user,
        number=number,
        action="accept",
        reason=note,
        documents=lambda case, now: [issuance.acceptance_receipt_issue(case, note=note, at=now)],
    )


def _concluded(case: Case, now: dt.datetime, outcome: str, first: IssuedDocument) -> list:
    return [
        first,
        issuance.conclusion_notice_issue(case, at=now, outcome=outcome, documents=[first]),
    ]


def case_refuse(*, user, number: str, reason: str) -> Case:
    """不予受理 (reason required): 不予受理通知书 with how to appeal, and 办结通知书."""
    reason = _required_reason(reason, _("不予受理"))
    return _decide(
        user=user,
        number=number,
        action="refuse",
        reason=reason,
        documents=lambda case, now: _concluded(
            case, now, "refused", issuance.refusal_notice_issue(case, reason=reason, at=now)
        ),
    )


def case_request_supplements(*, user, number: str, missing: list[dict], note: str = "") -> Case:
    """补正: list what is missing (material codes from the item and/or free notes)."""
    if not isinstance(missing, list) or not missing:
        raise DomainError("missing_required", _("请列出需要补正的材料"))
    note = (note or "").strip()[:2000]

    def remember(case: Case, actor: Actor, now: dt.datetime) -> dict:
        names = dict(case.item.materials.values_list("code", "name"))
        cleaned = []
        for entry in missing:
            entry = entry if isinstance(entry, dict) else {}
            code = str(entry.get("material_code") or "").strip()
            text = str(entry.get("note") or "").strip()[:500]
            if code and code not in names:
                raise DomainError(
                    "unknown_material", _("材料编码 %(code)s 不属于该事项") % {"code": code}
                )
            if not code and not text:
                raise DomainError("missing_required", _("每项补正要求须指明材料或说明"))
            cleaned.append({"material_code": code, "name": names.get(code, ""), "note": text})
        case.supplement_request = {"missing": cleaned, "note": note, "requested_at": iso(now)}
        return {"missing": cleaned}

    return _decide(
        user=user,
        number=number,
        action="request_supplements",
        reason=note,
        before_save=remember,
        documents=lambda case, now: [
            issuance.supplement_notice_issue(
                case, missing=case.supplement_request["missing"], note=note, at=now
            )
        ],
    )


def case_deny(*, user, number: str, reason: str) -> Case:
    """不予许可 (reason required): 不予许可决定书 with how to appeal, and 办结通知书."""
    reason = _required_reason(reason, _("不予许可"))
    return _decide(
        user=user,
        number=number,
        action="deny",
        reason=reason,
        documents=lambda case, now: _concluded(
            case, now, "denied", issuance.denial_decision_issue(case, reason=reason, at=now)
        ),
    )


def _result_document(
    case: Case,
    now: dt.datetime,
    declaration: dict,
    ctx: issuance.ResultContext,
    document: IssuedDocument | None,
    licence,
) -> tuple[str, dict]:
    """The machine-readable result (CaseResult): what the result document says, signed."""
    org = case.handling_organization
    record = document.record if document is not None else {}
    result = {
        "case_number": case.number,
        "item": {"code": case.item.basic_code, "name": case.item_name},
        "issuer": {"code": org.code, "name": org.name, "node": settings.TONGBAN_NODE},
        "issued_at": iso(now),
        "holder": {"name": case.applicant_name, "id_type": "111"},
        "type": declaration.get("title") or "准予许可决定书",
        "decision": "准予",
        "result_kind": declaration.get("kind", "none"),
        "subject": record.get("subject") or {},
        "facts": record.get("facts") or [],
        "body": record.get("body", ""),
        "valid_until": record.get("valid_until"),
        "document_id": document.document_id if document is not None else "",
        "licence_identifier": licence.identifier if licence is not None else "",
    }
    update = declaration.get("enterprise_update") or {}
    if update:
        _name, code = issuance.enterprise_of(case)
        values = {k: ctx.value(v) for k, v in update.items()}
        result["enterprise_update"] = {"code": code, **{k: v for k, v in values.items() if v}}
    spec = declaration.get("licence") or {}
    if spec.get("type") == "营业执照" and spec.get("holder") == "new_enterprise":
        face = ctx.licence_face
        result.update(
            {
                "uscc": ctx.new_uscc,
                "name": face.get("company_name", ""),
                "company_type": face.get("company_type", ""),
                "legal_representative": face.get("legal_representative", ""),
                "registered_capital": str(
                    (case.form_data or {}).get("registered_capital", "") or ""
                ),
                "business_scope": face.get("business_scope", ""),
                "address": face.get("address", ""),
                "established_on": face.get("established_on", ""),
            }
        )
        return "business_licence", result
    return declaration.get("kind", "none"), result


def enterprise_update_apply(update: dict) -> None:
    """A change registration's effect on the enterprise record held here (名称变更)."""
    from tongban.identity.models import Enterprise

    code, name = str(update.get("code") or ""), str(update.get("name") or "")[:128]
    if code and name:
        Enterprise.objects.filter(code=code).update(name=name)


def case_approve(*, user, number: str, note: str = "", result_inputs: dict | None = None) -> Case:
    """准予: issues the result the item declares — the e-licence to the holder's wallet (a
    new version for a change), the 证明 / 决定书 / 备案回执 saying what the applicant gets,
    the signed machine-readable CaseResult — and the 办结通知书. ``result_inputs``: what the
    official enters or confirms (the item's ``official_inputs``)."""
    from tongban.licences.services import licence_values

    issued: list[IssuedDocument] = []
    licences = []
    outputs: dict = {}

    def issue(case: Case, actor: Actor, now: dt.datetime) -> dict:
        declaration = result_declaration_for(case)  # a relay stage's own
        if not declaration.get("kind"):
            declaration = issuance.legacy_declaration(case)
        ctx = issuance.ResultContext(
            case=case, organization=case.handling_organization, decided_at=now
        )
        licence = None
        if declaration["kind"] == "licence":
            current = issuance.current_licence(declaration, ctx)
            if current is not None:
                ctx.licence_face = licence_values(current)
            ctx.official = issuance.official_inputs_clean(declaration, result_inputs, ctx)
            if declaration["licence"]["holder"] == "new_enterprise":
                ctx.new_uscc = credit_code_allocate(region=case.handling_organization.region)
            ctx.licence_number = issuance.licence_number_for(declaration, ctx)
            licence = issuance.result_licence_issue(declaration, ctx, current)
            ctx.licence_face = licence_values(licence)
            licences.append(licence)
        else:
            ctx.official = issuance.official_inputs_clean(declaration, result_inputs, ctx)
        document = issuance.result_document_issue(declaration, ctx, licence=licence)
        if document is not None:
            issued.append(document)
        kind, result = _result_document(case, now, declaration, ctx, document, licence)
        if result.get("enterprise_update"):
            enterprise_update_apply(result["enterprise_update"])
        if case.composite_number:
            # what the next stage / dependent part of the 联办件 receives
            outputs.update(
                {
                    **ctx.official,
                    # the issued licence's own number (a 营业执照's is its 统一社会信用代码)
                    "licence_number": ctx.licence_face.get("licence_number") or ctx.licence_number
                    if licence is not None
                    else ctx.licence_number,
                    "licence_identifier": result["licence_identifier"],
                    "document_id": result["document_id"],
                    "uscc": result.get("uscc") or ctx.new_uscc,
                }
            )
        signature = sign_detached(canonical_json(result))
        CaseResult.objects.create(
            case=case,
            kind=kind,
            document=result,
            signature=signature,
            issued_at=now,
            licence_identifier=result["licence_identifier"],
        )
        return {"result": {"kind": kind, "document": result, "signature": signature}}

    def documents(case: Case, now: dt.datetime) -> list[IssuedDocument]:
        conclusion = issuance.conclusion_notice_issue(
            case,
            at=now,
            outcome="approved",
            documents=issued,
            licence=licences[0] if licences else None,
        )
        return [*issued, conclusion]

    return _decide(
        user=user,
        number=number,
        action="approve",
        reason=(note or "").strip()[:2000],
        before_save=issue,
        documents=documents,
        outputs=outputs,
    )


# --- supplements at the receiving window ------------------------------------------


def case_supply(*, user, number: str, files: list[IncomingFile], note: str = "") -> Case:
    """The receiving window (or, for an online case, the applicant) hands in what the
    authority asked for; the case returns to its worklist."""
    access = access_for(user)
    with transaction.atomic():
        case = (
            Case.objects.select_for_update(of=("self",))
            .select_related("item", "receiving_window")
            .filter(number=number, perspective__in=("origin", "local"))
            .first()
        )
        by_window = case is not None and case.receiving_window_id in access.clerk_windows
        by_applicant = (
            case is not None and case.channel == "online" and case.applicant_account_id == user.pk
        )
        if not (by_window or by_applicant):
            raise NotFound(_("办件不存在"))
        if case.status != CaseStatus.SUPPLEMENT_REQUESTED:
            raise DomainError(
                "invalid_state",
                _("办件当前状态为“%(status)s”，不需要补正") % {"status": case.get_status_display()},
                status=409,
            )
        if not files:
            raise DomainError("missing_materials", _("请上传补正材料"))
        requested = {
            m.get("material_code")
            for m in (case.supplement_request or {}).get("missing", [])
            if m.get("material_code")
        }
        checked = _check_uploads(case.item, files, require_all=False, only_codes=requested or None)
        now = timezone.now()
        actor = Actor(
            name=access.display_name,
            place=case.receiving_window_name or _("网上申请"),
            node=settings.TONGBAN_NODE,
        )
        note = (note or "").strip()[:2000]
        materials_attach(case, checked, source="supplement", at=now)
        status_record(
            case,
            to_status=CaseStatus.SUBMITTED,
            actor=actor,
            occurred_at=now,
            reason=note,
            details={"supplied": _material_refs(checked)},
        )
        case.status = CaseStatus.SUBMITTED
        case.status_changed_at = now
        if case.perspective == "local":
            deadline_clock_start(case, local_date(now))
        case.save()
        member_changed_send(case, to_status=CaseStatus.SUBMITTED, reason=note)
        if case.perspective == "origin":
            outbox_enqueue(
                type="case.supplement",
                recipient=case.handling_node,
                correlation=case.number,
                body={
                    "number": case.number,
                    "materials": _material_refs(checked),
                    "note": note,
                    "occurred_at": iso(now),
                    "actor": actor.as_dict(),
                },
                blobs=[Blob(content=f.content, media_type=f.media_type) for f in checked],
            )
    return case


# --- 撤回: the applicant withdraws before acceptance --------------------------------------

WITHDRAWABLE = (CaseStatus.SUBMITTED, CaseStatus.SUPPLEMENT_REQUESTED)


def withdrawn_record(
    case: Case, *, actor: Actor, occurred_at: dt.datetime, reason: str, details: dict
) -> None:
    """The locked case ends 已撤回 here, with its history entry (either side of a case)."""
    status_record(
        case,
        to_status=CaseStatus.WITHDRAWN,
        actor=actor,
        occurred_at=occurred_at,
        reason=reason,
        details=details,
    )
    case.status = CaseStatus.WITHDRAWN
    case.status_changed_at = timezone.now()
    case.concluded_at = occurred_at
    case.decision_reason = reason
    case.save()


def _withdraw_apply(case: Case, *, actor: Actor, reason: str, by_system: bool) -> Case:
    """Withdraw the locked case here (origin or local) and, when another node decides it,
    tell that node in the same transaction (``case.withdraw``)."""
    if case.status not in WITHDRAWABLE or case.accepted_at is not None:
        raise DomainError(
            "not_withdrawable",
            _("办件当前状态为“%(status)s”，已受理或已办结的办件不能撤回")
            % {"status": case.get_status_display()},
            status=409,
        )
    now = timezone.now()
    from_status = case.status
    withdrawn_record(
        case,
        actor=actor,
        occurred_at=now,
        reason=reason,
        details={"event": "withdraw", "by_system": by_system},
    )
    if case.perspective == "origin":
        outbox_enqueue(
            type="case.withdraw",
            recipient=case.handling_node,
            correlation=case.number,
            body={
                "number": case.number,
                "from_status": from_status,
                "reason": reason,
                "occurred_at": iso(now),
                "actor": actor.as_dict(),
            },
        )
    if not by_system:
        # a 联办件's member withdrawn by its applicant: the 联办件 learns of it
        member_changed_send(case, to_status=CaseStatus.WITHDRAWN, reason=reason)
    return case


def _withdraw_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if len(reason) > 2000:
        raise DomainError("reason_too_long", _("理由不能超过2000字"))
    return reason


def _lock_for_withdrawal(number: str):
    return (
        Case.objects.select_for_update(of=("self",))
        .select_related("item", "receiving_window", "handling_organization")
        .filter(number=number, perspective__in=("origin", "local"))
        .first()
    )


def case_withdraw(*, user, number: str, reason: str = "") -> Case:
    """撤回: the applicant's own account (an online case) or a clerk of the receiving
    window withdraws a case not yet accepted. At the receiving node the case ends at
    once; a deciding node elsewhere applies it — or, if it accepted the case meanwhile,
    answers with the true status (``case.event`` ``withdrawal_refused``)."""
    reason = _withdraw_reason(reason)
    access = access_for(user)
    with transaction.atomic():
        case = _lock_for_withdrawal(number)
        by_window = case is not None and case.receiving_window_id in access.clerk_windows
        by_applicant = (
            case is not None
            and case.channel == "online"
            and case.applicant_account_id is not None
            and case.applicant_account_id == user.pk
        )
        if not (by_window or by_applicant):
            if case is not None and _visible(access, case):
                raise PermissionDenied(_("只有申请人本人或收件窗口可以撤回办件"))
            raise NotFound(_("办件不存在"))
        actor = Actor(
            name=access.display_name,
            place=case.receiving_window_name if by_window else _("网上申请"),
            node=settings.TONGBAN_NODE,
        )
        return _withdraw_apply(case, actor=actor, reason=reason, by_system=False)


def case_withdraw_by_system(*, number: str, actor: Actor, reason: str) -> Case:
    """The same withdrawal without a user check, for the 联办件 engine (cases.composites):
    it ends a member case that is no longer needed. Must be a case received here."""
    reason = _withdraw_reason(reason)
    with transaction.atomic():
        case = _lock_for_withdrawal(number)
        if case is None:
            raise NotFound(_("办件不存在"))
        return _withdraw_apply(case, actor=actor, reason=reason, by_system=True)


def _visible(access, case: Case) -> bool:
    from tongban.cases.selectors import cases_visible_to  # selectors read; no cycle at import

    return cases_visible_to(access).filter(pk=case.pk).exists()
