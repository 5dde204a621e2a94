"""Enterprises rooted in their registry (issue 11 §4, docs/data-sharing.md §7).

The registering authority's 企业登记信息 dataset (``<node>.enterprise``) is the source of
truth for an enterprise's name, USCC, legal representative and status:

* a resident becomes an enterprise's legal representative here only once that registry
  names them (``enterprise_claim_start`` → a ``data.query`` with use
  ``enterprise_identity`` → ``enterprise_claim_settle`` on its answer);
* an agent authorization is a document signed by the legal representative's home node
  (``tongban-agent-authorization/1``, built in ``tongban.identity.services``) that the
  deciding node verifies and checks against the registry (``agent_authorization_check``,
  called from ``cases.exchange_handlers._check_assertion``).

Why no 营业执照 shortcut: the 营业执照 e-licence (licence type ``11100000000014015P001``,
docs/licences.md) discloses the legal representative's *name* only, not their 身份证号,
and it sits in the *enterprise's* wallet; a name does not identify a person, so a claim is
always confirmed by the data check.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from stdnum.cn import uscc as uscc_std

from tongban.directory.models import Node, Organization
from tongban.directory.signing import peer_public_key
from tongban.errors import DomainError, PermissionDenied
from tongban.gm import sm2
from tongban.gm.canonical import CanonicalizationError, canonical_json
from tongban.identity.models import Enterprise, User
from tongban.identity.residence import home_node_of, id_number_compact
from tongban.identity.security_log import security_event
from tongban.identity.services import (
    AGENT_AUTHORIZATION_FORMAT,
    RegistryRecord,
    assurance_at_least,
    enterprise_register,
    person_id_digest,
)
from tongban.sharing.models import DataQuery, Dataset, EnterpriseClaim
from tongban.sharing.signals import data_query_settled

log = logging.getLogger(__name__)

ITEM_ENTERPRISE_IDENTITY = "platform:enterprise_identity"
ITEM_AGENT_AUTHORIZATION = "platform:agent_authorization"
PURPOSE_ENTERPRISE_IDENTITY = "法人身份核验"
PURPOSE_AGENT_AUTHORIZATION = "核验经办人授权"
REGISTRY_FIELDS = ["name", "uscc", "legal_representative_id", "status"]
# 登记状态 values under which an enterprise exists and may act (存续/在业 …)
ACTIVE_STATUSES = ("存续", "在业", "在营", "开业")
CLOSED_STATUSES = ("注销", "吊销", "撤销")


class AgentAuthorizationInvalid(Exception):
    """The signed agent authorization of a case.submit does not hold (the deciding node
    refuses the message with ``agent_authorization_invalid``)."""

    code = "agent_authorization_invalid"


def uscc_normalize(code: str) -> str:
    return str(code or "").strip().upper().replace(" ", "")


def registry_node_for(uscc: str) -> str | None:
    """The node of the registering authority: characters 3–8 of a USCC are the
    registration authority's administrative division code; its first two digits are the
    province, matched against the ``region`` code of the directory's region nodes."""
    code = uscc_normalize(uscc)
    if len(code) != 18 or not code[2:8].isdigit():
        return None
    province = code[2:4]
    for node_id, region in Node.objects.filter(role="node", active=True).values_list(
        "node_id", "region"
    ):
        if region and region[:2] == province:
            return node_id
    return None


def registry_dataset_code(node_id: str) -> str:
    return f"{node_id}.enterprise"


def _asking_organization(here: str) -> str:
    """The organization a platform check is made in the name of: this node's own
    企业登记信息 owner (its provincial 市场监管), else its first active organization."""
    dataset = Dataset.objects.filter(code=registry_dataset_code(here), active=True).first()
    if dataset is not None:
        return dataset.organization_id
    org = (
        Organization.objects.filter(node__node_id=here, active=True)
        .order_by("region", "code")
        .first()
    )
    return org.code if org else ""


def _status_refusal(status: str) -> str | None:
    """A localized reason when the registry's 登记状态 does not let the enterprise act."""
    status = str(status or "")
    if any(word in status for word in CLOSED_STATUSES):
        return _("企业已注销或被吊销营业执照（登记状态：%(status)s）") % {"status": status}
    if not any(word in status for word in ACTIVE_STATUSES):
        return _("企业登记状态为“%(status)s”，不能登记") % {"status": status or _("未知")}
    return None


# --- a legal representative's claim -----------------------------------------------------


def enterprise_claim_start(*, user: User, uscc: str, request=None) -> EnterpriseClaim:
    """Claim to be the legal representative of ``uscc``: confirmed only by the registering
    authority's 企业登记信息 (a data check). The claim is ``pending`` until the registry
    answers (at once when the registry is this node), then ``confirmed`` (the Enterprise
    exists, named as the registry names it) or ``refused`` with a reason."""
    from tongban.sharing.query import data_query_send

    if not user.person_id or not assurance_at_least(user.assurance, "L2"):
        raise PermissionDenied(_("法定代表人须为实名核验（L2 及以上）的个人用户"))
    code = uscc_normalize(uscc)
    if not uscc_std.is_valid(code):
        raise DomainError("invalid_uscc", _("统一社会信用代码无效"))
    if Enterprise.objects.filter(code=code).exists():
        raise DomainError("enterprise_exists", _("该企业已登记"), status=409)
    pending = EnterpriseClaim.objects.filter(
        user=user, uscc=code, status=EnterpriseClaim.Status.PENDING
    ).first()
    if pending is not None:
        return pending
    registry = registry_node_for(code)
    if registry is None:
        raise DomainError(
            "registry_unknown",
            _("该企业的登记机关不在长三角区域内，无法通过登记信息核验"),
            details={"uscc": code},
        )
    here = settings.TONGBAN_NODE
    with transaction.atomic():
        claim = EnterpriseClaim.objects.create(
            user=user, uscc=code, registry_node=registry, method="data_check"
        )
        security_event("enterprise_claim_started", request=request, user=user, enterprise=code)
        query = data_query_send(
            dataset_code=registry_dataset_code(registry),
            subject={"uscc": code},
            fields=list(REGISTRY_FIELDS),
            purpose=PURPOSE_ENTERPRISE_IDENTITY,
            item_code=ITEM_ENTERPRISE_IDENTITY,
            organization_code=_asking_organization(here),
            use=DataQuery.Use.ENTERPRISE_IDENTITY,
            reference=str(claim.pk),
        )
        EnterpriseClaim.objects.filter(pk=claim.pk, query__isnull=True).update(query=query)
    claim.refresh_from_db()
    return claim


def _answer_record(query: DataQuery) -> dict:
    """``{key: value}`` of the fields a settled query's signed record answered."""
    from tongban.sharing.query import data_query_answer_of

    try:
        answer = data_query_answer_of(query) or {}
    except (ValueError, TypeError):
        return {}
    record = answer.get("record") if isinstance(answer, dict) else None
    fields = record.get("fields") if isinstance(record, dict) else None
    if not isinstance(fields, list):
        return {}
    return {
        str(f.get("key")): f.get("value") for f in fields if isinstance(f, dict) and f.get("key")
    }


def _claim_refuse(claim: EnterpriseClaim, reason: str) -> None:
    claim.status = EnterpriseClaim.Status.REFUSED
    claim.reason = str(reason)[:300]
    claim.decided_at = timezone.now()
    claim.save(update_fields=["status", "reason", "decided_at", "query"])


def enterprise_claim_settle(*, query: DataQuery) -> EnterpriseClaim | None:
    """Decide the claim a settled ``enterprise_identity`` query belongs to.

    The reason is stored in the platform's language, whoever's request settles the claim
    (a worker, or the claimant's own request when the registry is this node), and is
    translated where it is shown (``claim_reason_display``)."""
    if not str(query.reference).isdigit():
        return None
    with translation.override(settings.LANGUAGE_CODE):
        return _claim_settle(query)


def claim_reason_display(reason: str) -> str:
    """A stored refusal reason in the reader's language (fixed reasons have a translation;
    those with a registry status or another node's message in them stay as stored)."""
    return _(reason) if reason else ""


def _claim_settle(query: DataQuery) -> EnterpriseClaim | None:
    with transaction.atomic():
        claim = (
            EnterpriseClaim.objects.select_for_update(of=("self",))
            .select_related("user__person")
            .filter(pk=int(query.reference))
            .first()
        )
        if claim is None or claim.status != EnterpriseClaim.Status.PENDING:
            return claim
        claim.query = query
        if query.status == DataQuery.Status.NOT_FOUND:
            _claim_refuse(claim, _("企业不在登记机关的登记信息中"))
            return claim
        if query.status != DataQuery.Status.ANSWERED:
            _claim_refuse(
                claim,
                _("登记机关未能核验（%(reason)s），请稍后重试")
                % {"reason": query.refusal_message or query.get_status_display()},
            )
            return claim
        record = _answer_record(query)
        user = claim.user
        person = user.person
        if uscc_normalize(record.get("uscc") or claim.uscc) != claim.uscc:
            _claim_refuse(claim, _("企业不在登记机关的登记信息中"))
            return claim
        registered_id = id_number_compact(str(record.get("legal_representative_id") or ""))
        if not person or not registered_id or registered_id != id_number_compact(person.id_number):
            _claim_refuse(claim, _("登记机关记录的法定代表人不是您"))
            security_event(
                "enterprise_claim_mismatch",
                user=user,
                enterprise=claim.uscc,
                registry=claim.registry_node,
            )
            return claim
        refusal = _status_refusal(record.get("status"))
        if refusal:
            _claim_refuse(claim, refusal)
            return claim
        try:
            enterprise_register(
                user=user,
                registry=RegistryRecord(
                    uscc=claim.uscc,
                    name=str(record.get("name") or ""),
                    legal_representative_id=registered_id,
                    status=str(record.get("status") or ""),
                    source=f"{query.dataset_code}:{query.query_id}",
                ),
            )
        except (DomainError, PermissionDenied) as error:
            _claim_refuse(claim, error.message)
            return claim
        claim.status = EnterpriseClaim.Status.CONFIRMED
        claim.reason = ""
        claim.decided_at = timezone.now()
        claim.save(update_fields=["status", "reason", "decided_at", "query"])
    return claim


@receiver(data_query_settled, dispatch_uid="enterprise_registry_settled")
def _data_query_settled(sender, query: DataQuery, **kwargs) -> None:
    if query.use not in (DataQuery.Use.ENTERPRISE_IDENTITY, DataQuery.Use.AGENT_AUTHORIZATION):
        return
    if query.status == DataQuery.Status.ANSWERED:
        _representative_use_report(query)
    if query.use == DataQuery.Use.ENTERPRISE_IDENTITY:
        enterprise_claim_settle(query=query)


def _representative_use_report(query: DataQuery) -> None:
    """The register answered with a legal representative's 身份证号: a use of their data,
    for their data-use log (我的数据使用记录), like any data query about a person."""
    from tongban.sharing.query import data_query_use_report

    registered_id = id_number_compact(
        str(_answer_record(query).get("legal_representative_id") or "")
    )
    if registered_id:
        data_query_use_report(query, subject_id_number=registered_id)


def enterprise_claims_of(user: User, *, limit: int = 10) -> list[EnterpriseClaim]:
    """The user's latest claims (pending first), for the enterprises page and API."""
    rows = list(EnterpriseClaim.objects.filter(user=user).order_by("-created_at")[:limit])
    for row in rows:
        row.reason_display = claim_reason_display(row.reason)
    return sorted(rows, key=lambda c: c.status != EnterpriseClaim.Status.PENDING)


# --- an agent authorization at the deciding node ----------------------------------------


def _parse_time(value: object) -> dt.datetime:
    from tongban.exchange.envelopes import parse_time

    return parse_time(value)


def agent_authorization_verify(
    authorization: object, *, enterprise_code: str, applicant_id_number: str, item_code: str
) -> dict:
    """Verify the signed document of ``acting_for.authorization``; return the document.

    The signature (SM2 over the RFC 8785 canonical document) must verify with the key of
    ``document.issued_by`` that the directory lists; the document names the enterprise,
    its agent is the applicant, it covers the item and has not expired."""
    if not isinstance(authorization, dict):
        raise AgentAuthorizationInvalid("no authorization for an agent")
    document, signature = authorization.get("document"), authorization.get("signature")
    if not isinstance(document, dict) or not isinstance(signature, dict):
        raise AgentAuthorizationInvalid("the authorization carries no signed document")
    if document.get("format") != AGENT_AUTHORIZATION_FORMAT:
        raise AgentAuthorizationInvalid("unknown authorization format")
    issuer = str(document.get("issued_by") or "")
    public_key = peer_public_key(issuer, str(signature.get("kid") or ""))
    try:
        valid = public_key is not None and sm2.verify_b64(
            public_key, canonical_json(document), str(signature.get("value") or "")
        )
    except (CanonicalizationError, ValueError, TypeError):
        valid = False
    if not valid:
        raise AgentAuthorizationInvalid("the authorization's signature does not verify")
    enterprise = document.get("enterprise") if isinstance(document.get("enterprise"), dict) else {}
    code = uscc_normalize(enterprise.get("uscc", ""))
    if not code or code != uscc_normalize(enterprise_code):
        raise AgentAuthorizationInvalid("the authorization is for another enterprise")
    agent = document.get("agent") if isinstance(document.get("agent"), dict) else {}
    if agent.get("id_sm3") != person_id_digest(code, applicant_id_number):
        raise AgentAuthorizationInvalid("the authorization's agent is not the applicant")
    items = document.get("items")
    if not isinstance(items, list) or (items and item_code not in items):
        raise AgentAuthorizationInvalid("the authorization does not cover this item")
    try:
        expires_at = _parse_time(document.get("expires_at"))
    except ValueError as exc:
        raise AgentAuthorizationInvalid("malformed expiry") from exc
    if expires_at <= timezone.now():
        raise AgentAuthorizationInvalid("the authorization has expired")
    return document


def agent_authorization_check(
    acting_for: object,
    *,
    sender: str,
    applicant_id_number: str,
    item_code: str,
    case_number: str,
    organization_code: str,
) -> None:
    """The deciding node's checks of ``acting_for`` of a case.submit (protocol §10.1).

    For an agent: the signed document (``agent_authorization_verify``), then the legal
    representative against the registering authority's 企业登记信息 — this node's own
    register through its provider at intake (a mismatch refuses), another node's by a
    data check with use ``agent_authorization`` whose answer the official sees on the case.
    Raises AgentAuthorizationInvalid."""
    if not isinstance(acting_for, dict) or acting_for.get("role") != "agent":
        return
    code = uscc_normalize(acting_for.get("code", ""))
    document = agent_authorization_verify(
        acting_for.get("authorization"),
        enterprise_code=code,
        applicant_id_number=applicant_id_number,
        item_code=item_code,
    )
    registry = registry_node_for(code)
    if registry is None:
        return  # registered outside the region: nothing to check it against
    here = settings.TONGBAN_NODE
    representative = (
        document.get("legal_representative")
        if isinstance(document.get("legal_representative"), dict)
        else {}
    )
    if registry == here:
        _registry_check_here(
            code,
            representative_digest=str(representative.get("id_sm3") or ""),
            issuer=str(document.get("issued_by") or ""),
            case_number=case_number,
            organization_code=organization_code,
        )
        return
    from tongban.sharing.query import data_query_send

    try:  # the official sees its answer on the case (数据核验)
        data_query_send(
            dataset_code=registry_dataset_code(registry),
            subject={"uscc": code},
            fields=list(REGISTRY_FIELDS),
            purpose=PURPOSE_AGENT_AUTHORIZATION,
            item_code=ITEM_AGENT_AUTHORIZATION,
            organization_code=organization_code,
            use=DataQuery.Use.AGENT_AUTHORIZATION,
            reference=case_number,
            case_number=case_number,
        )
    except DomainError as exc:  # this node's catalog does not allow it: no check, said so
        log.warning("registry check of an agent authorization not started: %s", exc.code)


def _registry_check_here(
    code: str, *, representative_digest: str, issuer: str, case_number: str, organization_code: str
) -> None:
    from tongban.sharing.data_use import data_use_report
    from tongban.sharing.providers import ProviderUnavailable, provider_for
    from tongban.sharing.selectors import SharingRefused, authorization_for

    dataset = Dataset.objects.filter(code=registry_dataset_code(settings.TONGBAN_NODE)).first()
    if dataset is None:
        raise AgentAuthorizationInvalid("this node has no enterprise register")
    try:
        authorization = authorization_for(
            dataset=dataset.code,
            item=ITEM_AGENT_AUTHORIZATION,
            organization=organization_code,
            fields=list(REGISTRY_FIELDS),
            purpose=PURPOSE_AGENT_AUTHORIZATION,
        )
    except SharingRefused as exc:
        raise AgentAuthorizationInvalid(f"the register may not be read: {exc.code}") from exc
    try:
        record = provider_for(dataset).lookup({"uscc": code}, list(REGISTRY_FIELDS))
    except ProviderUnavailable as exc:
        raise AgentAuthorizationInvalid("the enterprise register cannot answer now") from exc
    if record is None:
        raise AgentAuthorizationInvalid("the enterprise is not in the register")
    if _status_refusal(record.get("status")):
        raise AgentAuthorizationInvalid("the enterprise is not active in the register")
    registered_id = id_number_compact(str(record.get("legal_representative_id") or ""))
    if not registered_id or person_id_digest(code, registered_id) != representative_digest:
        raise AgentAuthorizationInvalid("the register names another legal representative")
    if home_node_of(registered_id) not in ("", issuer):
        raise AgentAuthorizationInvalid("not signed by the legal representative's home node")
    organization = Organization.objects.filter(code=organization_code).first()
    labels = dict(dataset.fields.values_list("key", "label"))
    data_use_report(
        kind="data_query",
        subject_id_number=registered_id,
        used_at=timezone.now(),
        user_node=settings.TONGBAN_NODE,
        user_organization_code=organization_code,
        user_organization_name=organization.name if organization else organization_code,
        dataset_code=dataset.code,
        dataset_name=dataset.name,
        fields=[labels.get(k, k) for k in REGISTRY_FIELDS],
        case_number=case_number,
        purpose=PURPOSE_AGENT_AUTHORIZATION,
        legal_basis=authorization.legal_basis,
    )
