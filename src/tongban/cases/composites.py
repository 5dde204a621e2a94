"""联办件: one application whose stages (接续办) or parts (集成办 "一件事") run as cases at
several organizations and nodes.

The node where the applicant applied coordinates. It keeps the 联办件 (``Composite``)
and one ``CompositeMember`` per stage or part, and starts each member as an ordinary
case — at its own node by ``case.submit``, with what earlier members produced as its
inputs — once those inputs exist. Every member then runs like any case (补正 through
the node where the applicant applied, 受理, 准予/不予…); each change of a member reaches
the coordinator as it does for any case it received (a local decision or a
``case.event``), and ``cases.signals.member_case_changed`` moves the 联办件 on in the
same transaction. A node that is down delays the next member — its ``case.submit``
waits in the outbox — and never loses it.

What happens when a member is refused (不予受理/不予许可):
* relay: the 联办件 ends with that member's reason; the stages not yet started are
  terminated (已终止) — a later stage cannot run without the earlier one's output;
* bundle: the parts that depend on it, directly or through others, are terminated with
  the reason; parts already approved stand (their results are lawful decisions of their
  own authorities and stay valid); independent parts go on. The bundle ends 部分办结
  when some parts were approved, or with the refusal when none was.
"""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from tongban.cases import services
from tongban.cases.application_form import application_form_clean
from tongban.cases.materials import CheckedFile, material_read, material_store
from tongban.cases.models import (
    MEMBER_ENDED,
    Case,
    CaseStatus,
    Composite,
    CompositeMember,
    CompositeStatus,
    MemberStatus,
)
from tongban.cases.numbering import case_number_allocate
from tongban.cases.oversight import composite_progress_report
from tongban.cases.signals import member_case_changed
from tongban.cases.stages import inputs_dump, inputs_load
from tongban.catalog.models import Implementation, ServiceItem
from tongban.directory.models import Window
from tongban.documents.models import IssuedDocument
from tongban.errors import DomainError, NotFound
from tongban.identity.pii import decrypt_at_rest, decrypt_identifier, encrypt_at_rest
from tongban.identity.selectors import access_for
from tongban.notices.services import applicant_notify

log = logging.getLogger(__name__)

STATUS_OF_CASE = {
    CaseStatus.SUBMITTED: MemberStatus.SUBMITTED,
    CaseStatus.SUPPLEMENT_REQUESTED: MemberStatus.SUPPLEMENT_REQUESTED,
    CaseStatus.ACCEPTED: MemberStatus.ACCEPTED,
    CaseStatus.REFUSED: MemberStatus.REFUSED,
    CaseStatus.APPROVED: MemberStatus.APPROVED,
    CaseStatus.DENIED: MemberStatus.DENIED,
    CaseStatus.WITHDRAWN: MemberStatus.WITHDRAWN,
}
NEGATIVE = {MemberStatus.REFUSED, MemberStatus.DENIED}


def is_composite_item(item: ServiceItem) -> bool:
    return bool(item.stages or item.parts)


# --- intake ------------------------------------------------------------------------


def application_submit_at_window(**kwargs) -> Case | Composite:
    """A window application: a 联办件 when the item has stages or parts, else a case."""
    item = ServiceItem.objects.filter(basic_code=kwargs.get("item_code"), active=True).first()
    if item is not None and is_composite_item(item):
        return services.case_submit_at_window(**kwargs, create=composite_create)
    return services.case_submit_at_window(**kwargs)


def application_submit_online(**kwargs) -> Case | Composite:
    """An online application (全程网办) at the applicant's home node, likewise."""
    item = ServiceItem.objects.filter(basic_code=kwargs.get("item_code"), active=True).first()
    if item is not None and is_composite_item(item):
        return services.case_submit_online(**kwargs, create=composite_create)
    return services.case_submit_online(**kwargs)


def _implementation_in_region(item: ServiceItem, code: str) -> Implementation | None:
    """The organization implementing ``item`` for a region: the region's own, else its
    city's, else its province's."""
    code = str(code or "")
    if len(code) != 6 or not code.isdigit():
        return None
    for region in (code, code[:4] + "00", code[:2] + "0000"):
        found = (
            Implementation.objects.select_related("organization__node")
            .filter(item=item, organization__region=region, organization__active=True)
            .order_by("organization__code")
            .first()
        )
        if found is not None:
            return found
    return None


def _members_plan(item: ServiceItem, *, applied: Implementation, cleaned: dict) -> list[dict]:
    """Each stage/part with the implementation that will handle it. Every rule is
    resolved now, from the answers, so a region nobody serves is refused at intake."""
    kind = "relay" if item.stages else "bundle"
    definitions = item.stages if kind == "relay" else item.parts
    items = {
        i.basic_code: i
        for i in ServiceItem.objects.filter(
            basic_code__in=[d.get("item") for d in definitions if d.get("item")]
        )
    }
    resolved: dict[str, Implementation] = {}
    plan, errors = [], {}
    for sequence, definition in enumerate(definitions, start=1):
        target = item if kind == "relay" else items.get(definition.get("item"))
        rule = definition.get("organization") or {}
        implementation = None
        if target is not None:
            if rule.get("from") == "applied":
                implementation = (
                    applied
                    if applied.item_id == target.pk
                    else _implementation_in_region(target, applied.organization.region)
                )
            elif rule.get("same_as"):
                earlier = resolved.get(rule["same_as"])
                if earlier is not None:
                    implementation = (
                        Implementation.objects.select_related("organization__node")
                        .filter(item=target, organization=earlier.organization)
                        .first()
                    )
            elif rule.get("region_field"):
                implementation = _implementation_in_region(
                    target, str(cleaned.get(rule["region_field"]) or "")
                )
        if implementation is None:
            field = rule.get("region_field") or "organization"
            errors[field] = _("%(role)s：所选地区没有办理“%(name)s”的机构") % {
                "role": definition.get("role", ""),
                "name": definition.get("name") or (target.name if target else ""),
            }
            continue
        resolved[definition["key"]] = implementation
        plan.append(
            {
                "sequence": sequence,
                "definition": definition,
                "item": target,
                "implementation": implementation,
            }
        )
    if errors:
        raise DomainError(
            "no_such_implementation",
            _("联办环节无法确定办理机构：%(errors)s") % {"errors": "；".join(errors.values())},
            details={"fields": errors},
        )
    return plan


def composite_create(
    *,
    user,
    actor: services.Actor,
    item: ServiceItem,
    implementation: Implementation,
    channel: str,
    window,
    person: dict,
    assertion: dict,
    cleaned: dict,
    checked: list[CheckedFile],
    enterprise: dict | None = None,
    licence_choices=None,
    **extra,
) -> Composite:
    """Record the 联办件 and start the members that need nothing from the others —
    atomically: one application, all or nothing. ``extra`` (e.g. ``delivery``) is
    passed on to every member case."""
    if licence_choices:
        raise DomainError(
            "licences_not_supported",
            _("联办事项暂不支持以电子证照代替材料，请上传材料"),
        )
    kind = "relay" if item.stages else "bundle"
    plan = _members_plan(item, applied=implementation, cleaned=cleaned)
    here = settings.TONGBAN_NODE
    now = timezone.now()
    files = [
        {
            "material_code": f.material_code,
            "name": f.name,
            "filename": f.filename,
            "media_type": f.media_type,
            "sm3": f.sm3,
            "path": material_store(f.content, f.sm3),
        }
        for f in checked
    ]
    application = {
        "person": person,
        "assertion": assertion,
        "form": cleaned,
        "enterprise": enterprise,
        "files": files,
        "extra": extra,
    }
    with transaction.atomic():
        number = case_number_allocate(
            implementation_code=implementation.code,
            day=services.local_date(now),
            province=services._province(here),
        )
        composite = Composite.objects.create(
            number=number,
            kind=kind,
            item=item,
            item_name=item.name,
            organization=implementation.organization,
            channel=channel,
            **services.intake_columns(
                person=person, enterprise=enterprise, user=user, channel=channel, window=window
            ),
            application_encrypted=encrypt_at_rest(json.dumps(application, ensure_ascii=False)),
            status=CompositeStatus.IN_PROGRESS,
            status_changed_at=now,
            submitted_at=now,
            created_by=user,
            created_by_name=actor.name,
        )
        members = [
            CompositeMember.objects.create(
                composite=composite,
                sequence=entry["sequence"],
                key=entry["definition"]["key"],
                role=str(entry["definition"].get("role", ""))[:40],
                name=str(entry["definition"].get("name") or entry["item"].name)[:128],
                item=entry["item"],
                organization=entry["implementation"].organization,
                node=entry["implementation"].organization.node.node_id,
                depends_on=list(entry["definition"].get("depends_on") or []),
                limit_days=int(
                    entry["definition"].get("limit_days") or entry["item"].promised_limit_days
                ),
            )
            for entry in plan
        ]
        first = True
        for member in _ready(composite, members):
            _member_start(composite, member, application=application, user=user, first=first)
            first = False
        with translation.override("zh-hans"):
            applicant_notify(
                id_number=person["id_number"],
                phone=person["phone"],
                title=_("联办件已提交"),
                text=_(
                    "您申请的“%(item)s”（联办件编号 %(number)s）已提交，将由%(count)s个环节协同办理。"
                )
                % {"item": item.name, "number": number, "count": len(members)},
                case_number=number,
                link=f"/composites/{number}/",
                account=composite.applicant_account,
            )
        _report(composite)
    return composite


def _ready(composite: Composite, members: list[CompositeMember]) -> list[CompositeMember]:
    """The waiting members whose inputs all exist: a relay's next stage; a bundle's
    parts whose dependencies are all approved."""
    waiting = [m for m in members if m.status == MemberStatus.WAITING]
    if composite.kind == "relay":
        earlier_open = [m for m in members if m.status != MemberStatus.APPROVED]
        nxt = min(earlier_open, key=lambda m: m.sequence, default=None)
        return [nxt] if nxt is not None and nxt.status == MemberStatus.WAITING else []
    approved = {m.key for m in members if m.status == MemberStatus.APPROVED}
    return [m for m in waiting if set(m.depends_on) <= approved]


def _outputs(member: CompositeMember) -> dict:
    return inputs_load(member.outputs_encrypted)


def _inputs_for(composite: Composite, members: list[CompositeMember]) -> dict:
    """What the approved members produced, as the next member's official sees it."""
    entries = []
    for m in members:
        if m.status != MemberStatus.APPROVED:
            continue
        stored = _outputs(m)
        entries.append(
            {
                "key": m.key,
                "role": m.role,
                "name": m.name,
                "organization": m.organization_id,
                "organization_name": m.organization.name,
                "node": m.node,
                "case_number": m.case_number,
                "outputs": stored.get("values") or {},
                "output_labels": stored.get("labels") or {},
            }
        )
    return {
        "composite": {
            "number": composite.number,
            "kind": composite.kind,
            "item": composite.item_name,
        },
        "members": entries,
    }


def _source_value(source: str, *, application: dict, inputs: dict) -> object:
    prefix, _sep, rest = str(source).partition(":")
    if prefix == "form":
        return application["form"].get(rest, "")
    if prefix == "applicant":
        return application["person"].get(rest, "")
    if prefix == "text":
        return rest
    if prefix in ("part", "stage"):
        key, _sep, output = rest.partition(":")
        for entry in inputs["members"]:
            if entry["key"] == key:
                return entry["outputs"].get(output, "")
    return ""


def _member_form(member: CompositeMember, definition: dict, *, application, inputs) -> dict:
    if member.composite.kind == "relay":
        return application["form"]
    mapped = {
        field: _source_value(source, application=application, inputs=inputs)
        for field, source in (definition.get("fields") or {}).items()
    }
    return application_form_clean(member.item.form_schema, mapped)


def _member_files(definition: dict, *, kind: str, application: dict, first: bool) -> list:
    """Relay: the first stage receives the application's materials. Bundle: each part the
    materials its definition maps (part code ← bundle code)."""
    stored = {f["material_code"]: f for f in application["files"]}
    if kind == "relay":
        chosen = [(f["material_code"], f) for f in stored.values()] if first else []
    else:
        chosen = [
            (code, stored[source])
            for code, source in (definition.get("materials") or {}).items()
            if source in stored
        ]
    return [
        CheckedFile(
            material_code=code,
            name=f["name"],
            filename=f["filename"],
            media_type=f["media_type"],
            content=material_read(f["path"]),
            sm3=f["sm3"],
        )
        for code, f in chosen
    ]


def _definition(composite: Composite, key: str) -> dict:
    definitions = composite.item.stages if composite.kind == "relay" else composite.item.parts
    return next(d for d in definitions if d.get("key") == key)


def _member_enterprise(member: CompositeMember, application: dict, inputs: dict) -> dict | None:
    """An enterprise part after 设立登记 acts for the company just registered."""
    if member.item.audience != "enterprise":
        return application.get("enterprise")
    for entry in inputs["members"]:
        uscc = entry["outputs"].get("uscc")
        if uscc:
            name = application["form"].get("company_name") or entry["outputs"].get("company_name")
            return {"code": uscc, "name": str(name or ""), "role": "legal_representative"}
    return application.get("enterprise")


def _member_start(
    composite: Composite, member: CompositeMember, *, application: dict, user, first: bool
) -> None:
    """Start one member as a case (here, or sent to its node)."""
    members = list(composite.members.select_related("organization").order_by("sequence"))
    inputs = _inputs_for(composite, members)
    definition = _definition(composite, member.key)
    form = _member_form(member, definition, application=application, inputs=inputs)
    implementation = (
        Implementation.objects.select_related("organization__node")
        .filter(item=member.item, organization=member.organization)
        .first()
    )
    if implementation is None:
        raise DomainError("no_such_implementation", _("联办环节的办理机构不再办理该事项"))
    earlier_numbers = [e["case_number"] for e in inputs["members"]]
    documents = IssuedDocument.objects.filter(case_number__in=earlier_numbers).exclude(
        kind__in=("intake_receipt", "acceptance_receipt", "conclusion_notice")
    )
    here = settings.TONGBAN_NODE
    actor = services.Actor(
        name=_("系统（联办协同）") if not first else composite.created_by_name,
        place=composite.receiving_window_name or composite.organization.name,
        node=here,
    )
    window = Window.objects.filter(pk=composite.receiving_window_id).first()
    case = services._case_create(
        user=user,
        actor=actor,
        item=member.item,
        implementation=implementation,
        channel=composite.channel,
        window=window,
        person=application["person"],
        assertion=application["assertion"],
        cleaned=form,
        checked=_member_files(
            definition, kind=composite.kind, application=application, first=first
        ),
        enterprise=_member_enterprise(member, application, inputs),
        composite={
            "number": composite.number,
            "kind": composite.kind,
            "key": member.key,
            "role": member.role,
            "inputs": inputs,
            "documents": services.signed_documents(list(documents)),
            "started_by_system": not first,
        },
        **(application.get("extra") or {}),
    )
    now = timezone.now()
    member.case_number = case.number
    member.status = MemberStatus.SUBMITTED
    member.started_at = now
    member.deadline = case.deadline
    member.save(update_fields=["case_number", "status", "started_at", "deadline"])


# --- moving on when a member changes -------------------------------------------------


def _cancel_dependents(members: list[CompositeMember], failed: CompositeMember, now) -> None:
    """Terminate what can no longer run: every later stage, or every part depending
    (directly or through others) on the failed one."""
    blocked = {failed.key}
    changed = True
    while changed:
        changed = False
        for m in members:
            if m.status != MemberStatus.WAITING or m.key in blocked:
                continue
            if failed.composite.kind == "relay" and m.sequence > failed.sequence:
                hit = True
            else:
                hit = bool(set(m.depends_on) & blocked)
            if hit:
                blocked.add(m.key)
                m.status = MemberStatus.CANCELLED
                m.concluded_at = now
                m.reason = _("因“%(name)s”未获准予，本环节不再启动") % {"name": failed.name}
                m.save(update_fields=["status", "concluded_at", "reason"])
                changed = True


def composite_status_derive(composite: Composite, members: list[CompositeMember]) -> str:
    """The 联办件's state, from its members' states."""
    states = [m.status for m in members]
    if all(s in (MemberStatus.WITHDRAWN, MemberStatus.CANCELLED) for s in states):
        return CompositeStatus.WITHDRAWN
    open_states = [
        s for s in states if s not in (*NEGATIVE, MemberStatus.APPROVED, MemberStatus.CANCELLED)
    ]
    if open_states and not all(s == MemberStatus.WITHDRAWN for s in open_states):
        if MemberStatus.SUPPLEMENT_REQUESTED in states:
            return CompositeStatus.SUPPLEMENT_REQUESTED
        return CompositeStatus.IN_PROGRESS
    if all(s == MemberStatus.APPROVED for s in states):
        return CompositeStatus.APPROVED
    if MemberStatus.APPROVED in states and composite.kind == "bundle":
        return CompositeStatus.PARTIALLY_CONCLUDED
    if MemberStatus.DENIED in states:
        return CompositeStatus.DENIED
    if MemberStatus.REFUSED in states:
        return CompositeStatus.REFUSED
    return CompositeStatus.WITHDRAWN


def _labels(member: CompositeMember) -> dict:
    """Output keys → labels, from the stage's outputs or the part item's official inputs."""
    if member.composite.kind == "relay":
        specs = _definition(member.composite, member.key).get("outputs") or []
    else:
        specs = (member.item.result or {}).get("official_inputs") or []
    labels = {s["key"]: s.get("label", s["key"]) for s in specs if isinstance(s, dict)}
    labels.update(
        {
            "licence_number": _("证照编号"),
            "licence_identifier": _("电子证照标识"),
            "document_id": _("文书编号"),
            "uscc": _("统一社会信用代码"),
        }
    )
    return labels


@receiver(member_case_changed, dispatch_uid="composites.member_case_changed")
def member_case_changed_apply(sender, *, case, to_status, reason="", outputs=None, **kwargs):
    """A member case changed here: record it, start what is now ready, end the 联办件
    when nothing is left — in the transaction that changed the case."""
    composite = (
        Composite.objects.select_for_update()
        .select_related("item", "organization")
        .filter(number=case.composite_number, receiving_node=settings.TONGBAN_NODE)
        .first()
    )
    if composite is None:  # this node handles a member; another coordinates the 联办件
        return
    members = list(
        composite.members.select_for_update().select_related("organization", "item").all()
    )
    member = next((m for m in members if m.case_number == case.number), None)
    if member is None:
        return
    now = timezone.now()
    member.status = STATUS_OF_CASE.get(to_status, member.status)
    member.deadline = case.deadline
    if member.status in (*NEGATIVE, MemberStatus.APPROVED, MemberStatus.WITHDRAWN):
        member.concluded_at = now
        member.reason = reason
    elif member.status == MemberStatus.SUPPLEMENT_REQUESTED:
        missing = [
            m.get("name") or m.get("note") or ""
            for m in (case.supplement_request or {}).get("missing", [])
        ]
        member.reason = "；".join(filter(None, [reason, "、".join(filter(None, missing))]))
    else:
        member.reason = ""
    if member.status == MemberStatus.APPROVED:
        values = {k: ("" if v is None else str(v)) for k, v in (outputs or {}).items()}
        member.outputs_encrypted = inputs_dump({"values": values, "labels": _labels(member)})
    member.save()
    if member.status in NEGATIVE:
        _cancel_dependents(members, member, now)
    started = []
    if member.status == MemberStatus.APPROVED and not composite.is_terminal:
        application = json.loads(decrypt_at_rest(composite.application_encrypted))
        user = composite.created_by
        for ready in _ready(composite, members):
            try:
                with transaction.atomic():
                    _member_start(composite, ready, application=application, user=user, first=False)
                started.append(ready)
            except DomainError as exc:
                # the earlier outputs do not fill this member's form: it cannot start
                ready.status = MemberStatus.CANCELLED
                ready.concluded_at = now
                fields = (exc.details or {}).get("fields") or {}
                ready.reason = _("无法自动发起：%(message)s") % {
                    "message": "；".join([exc.message, *map(str, fields.values())])
                }
                ready.save(update_fields=["status", "concluded_at", "reason"])
                _cancel_dependents(members, ready, now)
    derived = composite_status_derive(composite, members)
    if derived != composite.status:
        composite.status = derived
        composite.status_changed_at = now
        if derived in (
            CompositeStatus.APPROVED,
            CompositeStatus.PARTIALLY_CONCLUDED,
            CompositeStatus.REFUSED,
            CompositeStatus.DENIED,
            CompositeStatus.WITHDRAWN,
        ):
            composite.concluded_at = now
            composite.reason = (
                _ending_reason(members) if derived != CompositeStatus.APPROVED else ""
            )
        composite.save(update_fields=["status", "status_changed_at", "concluded_at", "reason"])
    _notify_progress(composite, member, started)
    _report(composite)


def _ending_reason(members: list[CompositeMember]) -> str:
    """Why a 联办件 ended short of 办结: the first refused (denied) member's reason — not
    the note of whichever member happened to conclude last — else the first terminated or
    withdrawn one's."""
    ordered = sorted(members, key=lambda m: m.sequence)
    for group in (NEGATIVE, {MemberStatus.CANCELLED}, {MemberStatus.WITHDRAWN}):
        for m in ordered:
            if m.status in group and m.reason:
                return m.reason
    return ""


def _notify_progress(composite: Composite, member: CompositeMember, started: list) -> None:
    """The applicant hears, in Chinese, of each member passed on, asking for supplements,
    decided, and of the end of the 联办件. (A member case's own status texts are not sent
    for members: this one message says which 联办件 and which step.)"""
    with translation.override("zh-hans"):
        texts = []
        if member.status == MemberStatus.SUPPLEMENT_REQUESTED:
            texts.append(
                _(
                    "“%(item)s”的“%(name)s”（%(org)s）需要补正：%(reason)s。请到原收件渠道提交补正材料。"
                )
                % {
                    "item": composite.item_name,
                    "name": member.name,
                    "org": member.organization.name,
                    "reason": member.reason or _("见补正告知书"),
                }
            )
        elif member.status in (MemberStatus.APPROVED, *NEGATIVE) and not composite.is_terminal:
            texts.append(
                _("“%(item)s”的“%(name)s”已办结（%(status)s）。")
                % {
                    "item": composite.item_name,
                    "name": member.name,
                    "status": member.get_status_display(),
                }
            )
        texts += [
            _("“%(name)s”已转至%(org)s办理（%(role)s）。")
            % {"name": m.name, "org": m.organization.name, "role": m.role}
            for m in started
        ]
        if composite.is_terminal and composite.status_changed_at == composite.concluded_at:
            texts.append(
                _("联办件“%(item)s”（%(number)s）%(status)s。")
                % {
                    "item": composite.item_name,
                    "number": composite.number,
                    "status": composite.get_status_display(),
                }
            )
            if composite.reason:
                texts.append(_("原因：%(reason)s") % {"reason": composite.reason})
        if not texts:
            return
        applicant_notify(
            id_number=decrypt_identifier(composite.applicant_id_encrypted),
            phone=decrypt_identifier(composite.applicant_phone_encrypted),
            title=_("联办件进展"),
            text="".join(texts),
            case_number=composite.number,
            link=f"/composites/{composite.number}/",
            account=composite.applicant_account,
        )


def _report(composite: Composite) -> None:
    """The hub's region-wide view of multi-node cases (no personal data)."""
    composite_progress_report(composite)


# --- 撤回 ------------------------------------------------------------------------------


def composite_withdraw(*, user, number: str, reason: str = "") -> Composite:
    """撤回 a whole 联办件 before any member was accepted: the applicant's own account
    (online) or a clerk of the receiving window. Each started member is withdrawn like a
    case (its node is told by ``case.withdraw``); waiting members never start."""
    access = access_for(user)
    with transaction.atomic():
        composite = (
            Composite.objects.select_for_update()
            .filter(number=number, receiving_node=settings.TONGBAN_NODE)
            .first()
        )
        allowed = composite is not None and (
            composite.receiving_window_id in access.clerk_windows
            or (composite.channel == "online" and composite.applicant_account_id == user.pk)
        )
        if not allowed:
            raise NotFound(_("办件不存在"))
        members = list(composite.members.select_for_update().order_by("sequence"))
        started = [m for m in members if m.case_number and m.status not in MEMBER_ENDED]
        cases = {
            c.number: c for c in Case.objects.filter(number__in=[m.case_number for m in started])
        }
        if (
            composite.is_terminal
            or any(
                m.status not in (MemberStatus.SUBMITTED, MemberStatus.SUPPLEMENT_REQUESTED)
                or cases[m.case_number].accepted_at is not None
                for m in started
            )
            or any(m.status == MemberStatus.APPROVED for m in members)
        ):
            raise DomainError(
                "not_withdrawable",
                _("联办件已有环节受理或办结，不能整体撤回"),
                status=409,
            )
        now = timezone.now()
        for m in members:
            if m.status == MemberStatus.WAITING:
                m.status = MemberStatus.WITHDRAWN
                m.concluded_at = now
                m.reason = reason
                m.save(update_fields=["status", "concluded_at", "reason"])
        actor = services.Actor(
            name=access.display_name,
            place=composite.receiving_window_name or _("网上申请"),
            node=settings.TONGBAN_NODE,
        )
        for m in started:
            services.case_withdraw_by_system(number=m.case_number, actor=actor, reason=reason)
            m.status = MemberStatus.WITHDRAWN
            m.concluded_at = now
            m.reason = reason
            m.save(update_fields=["status", "concluded_at", "reason"])
        composite.status = CompositeStatus.WITHDRAWN
        composite.status_changed_at = now
        composite.concluded_at = now
        composite.reason = reason
        composite.save(update_fields=["status", "status_changed_at", "concluded_at", "reason"])
        _notify_progress(composite, members[0], [])
        _report(composite)
    return composite
