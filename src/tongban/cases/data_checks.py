"""数据核验 on a case at its handling node (docs/data-sharing.md §5).

* A material whose catalog ``data_check`` names a dataset and fields that the sharing
  catalog authorizes for the case's item at the handling organization may be left out
  by the applicant (免交（数据核验）): when the case arrives at its handling node (or a
  relay stage starts there) the node asks the dataset by itself, with the
  authorization's purpose.
* For an authorization that needs the person's consent (本人授权同意) the application
  form shows one checkbox; the node where the applicant consented signs the consent and
  it travels in case.submit (``case.data_consents``); the handling node attaches it to
  its query.
* An official who may decide the case starts further checks among the authorizations
  of the case's item at their organization, and sees every check of the case.

The queries themselves are ``tongban.sharing.query`` (which never imports cases)."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils.translation import gettext as _

from tongban.cases.models import Case
from tongban.errors import DomainError, NotFound, PermissionDenied
from tongban.identity.selectors import access_for
from tongban.identity.services import person_id_digest
from tongban.sharing import query as data_query
from tongban.sharing.consent import data_consent_sign
from tongban.sharing.models import DataQuery, Dataset, SharingAuthorization

log = logging.getLogger(__name__)
PERSON_ID_TYPE = "111"  # 居民身份证, as in case.submit


def data_check_parse(value: str) -> tuple[str, list[str]]:
    """``"sh.real_estate.has_property,property_address"`` → (dataset, fields)."""
    dataset, _, fields = value.rpartition(".")
    return dataset, [f for f in fields.split(",") if f]


def _authorization(material, item_code: str, organization_code: str):
    dataset, fields = data_check_parse(material.data_check)
    return data_query.authorization_covering(
        dataset_code=dataset,
        item_code=item_code,
        organization_code=organization_code,
        fields=fields,
    )


def replaceable_materials(item, organization_code: str, *, consented=()) -> frozenset[str]:
    """Codes of the item's materials a data check replaces at this organization: the
    catalog authorizes it (and, where consent is required, the applicant consented)."""
    codes = set()
    for material in item.materials.all():
        if not material.data_check:
            continue
        authorization = _authorization(material, item.basic_code, organization_code)
        if authorization is not None and (
            not authorization.consent_required or authorization.dataset_id in consented
        ):
            codes.add(material.code)
    return frozenset(codes)


def consent_options(item_code: str, organization_code: str | None) -> list[SharingAuthorization]:
    """The authorizations of this item at this organization (None: at any) that need the
    person's consent: one checkbox each on the application form."""
    return [
        a
        for a in SharingAuthorization.objects.select_related("dataset")
        .filter(item_code=item_code, consent_required=True, dataset__active=True)
        .exclude(dataset__sharing_type="不予共享")
        .order_by("dataset_id", "position")
        if organization_code is None or a.organization_code in (organization_code, "*")
    ]


def data_consents_clean(value: object, *, item_code: str, organization_code: str) -> list[str]:
    """The datasets the applicant consented to (dataset codes), each one of the options."""
    if not value:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DomainError("invalid_data_consents", _("数据使用授权须为数据集编码的列表"))
    offered = {a.dataset_id for a in consent_options(item_code, organization_code)}
    unknown = [v for v in value if v not in offered]
    if unknown:
        raise DomainError(
            "invalid_data_consents",
            _("该事项在所选机构没有需本人授权的数据：%(codes)s") % {"codes": "、".join(unknown)},
        )
    return list(dict.fromkeys(value))


def data_consents_sign(
    case: Case, *, datasets: list[str], applicant_id: str, window=None, officer: str = ""
) -> list[dict]:
    """Sign, at the node where the applicant consented, one consent per dataset."""
    org = case.handling_organization
    signed = []
    for option in consent_options(case.item.basic_code, org.code):
        if option.dataset_id not in datasets:
            continue
        signed.append(
            data_consent_sign(
                case_number=case.number,
                dataset=option.dataset_id,
                fields=list(option.fields),
                purpose=option.purpose,
                item={"code": case.item.basic_code, "name": case.item_name},
                requester={
                    "node": case.handling_node,
                    "organization": org.code,
                    "organization_name": org.name,
                },
                subject={"id_type": PERSON_ID_TYPE, "id_number": applicant_id},
                channel=case.channel,
                window={"code": window.code, "name": window.name} if window else None,
                officer=officer,
            )
        )
        datasets = [d for d in datasets if d != option.dataset_id]
    return signed


def _send(case: Case, **kw) -> DataQuery | None:
    """One automatic query; a refusal here is logged, never stops the case."""
    try:
        with transaction.atomic():
            return data_query.data_query_send(
                subject={"id_type": PERSON_ID_TYPE, "id_number": case.applicant_id_number},
                item_code=case.item.basic_code,
                organization_code=case.handling_organization_id,
                use="case",
                reference=case.number,
                case_number=case.number,
                **kw,
            )
    except DomainError as exc:
        log.warning("data check for %s not sent: %s %s", case.number, exc.code, exc.message)
        return None


def case_data_checks_start(case: Case, *, consents: list[dict]) -> list[DataQuery]:
    """Handling node, when the case arrives (or a relay stage starts): ask the datasets
    that replace the materials the applicant left out, and those the applicant consented
    to. Runs inside the transaction that records the case."""
    if case.perspective not in ("handling", "local") or case.enterprise_code:
        return []
    given = set(case.materials.values_list("material_code", flat=True))
    by_dataset = {c["document"]["dataset"]: c for c in consents}
    sent = []
    for material in case.item.materials.all():
        if not material.data_check or material.code in given:
            continue
        authorization = _authorization(
            material, case.item.basic_code, case.handling_organization_id
        )
        if authorization is None:
            continue
        dataset, fields = data_check_parse(material.data_check)
        consent = by_dataset.pop(dataset, None) if authorization.consent_required else None
        if authorization.consent_required and consent is None:
            continue
        sent.append(
            _send(
                case,
                dataset_code=dataset,
                fields=fields,
                purpose=authorization.purpose,
                material_code=material.code,
                consent=consent,
            )
        )
    for dataset, consent in by_dataset.items():
        document = consent["document"]
        sent.append(
            _send(
                case,
                dataset_code=dataset,
                fields=list(document.get("fields") or []),
                purpose=str(document.get("purpose", "")),
                consent=consent,
            )
        )
    return [q for q in sent if q is not None]


# --- the official --------------------------------------------------------------------------


def _case_for(user, number: str, *, decide: bool) -> Case:
    access = access_for(user)
    case = (
        Case.objects.select_related("item", "handling_organization")
        .filter(number=number, perspective__in=("handling", "local"))
        .first()
    )
    if case is None or case.handling_organization_id not in access.view_orgs:
        raise NotFound(_("办件不存在"))
    if decide and case.handling_organization_id not in access.decide_orgs:
        raise PermissionDenied(_("您没有办理该办件的权限"))
    return case


def case_data_check_options(case: Case) -> list[dict]:
    """The authorizations of the case's item at its organization: what may be asked."""
    options = []
    for a in (
        SharingAuthorization.objects.select_related("dataset__organization", "dataset__node")
        .filter(item_code=case.item.basic_code, dataset__active=True)
        .exclude(dataset__sharing_type="不予共享")
        .order_by("dataset_id", "position")
    ):
        if a.organization_code not in (case.handling_organization_id, "*"):
            continue
        labels = {f.key: f.label for f in a.dataset.fields.all()}
        options.append(
            {
                "dataset": a.dataset_id,
                "dataset_name": a.dataset.name,
                "source_node": a.dataset.node.node_id,
                "source_organization_name": a.dataset.organization.name,
                "fields": [{"key": k, "label": labels.get(k, k)} for k in a.fields],
                "purpose": a.purpose,
                "legal_basis": a.legal_basis,
                "consent_required": a.consent_required,
            }
        )
    return options


def case_data_check_start(*, user, number: str, dataset: str, fields: list, purpose: str):
    """An official of the deciding organization asks a dataset about the applicant."""
    case = _case_for(user, number, decide=True)
    if case.is_terminal:
        raise DomainError(
            "invalid_state",
            _("办件当前状态为“%(status)s”，不能再发起数据核验")
            % {"status": case.get_status_display()},
            status=409,
        )
    if case.enterprise_code:
        raise DomainError("not_a_person_case", _("法人办件的数据核验请通过企业登记信息核验"))
    if not Dataset.objects.filter(code=dataset, active=True, subject="person").exists():
        raise DomainError(
            "invalid_dataset",
            _("共享目录中没有可按自然人查询的数据集 %(code)s") % {"code": dataset},
            status=400,
        )
    return data_query.data_query_send(
        dataset_code=dataset,
        subject={"id_type": PERSON_ID_TYPE, "id_number": case.applicant_id_number},
        fields=fields,
        purpose=purpose,
        item_code=case.item.basic_code,
        organization_code=case.handling_organization_id,
        use="case",
        reference=case.number,
        case_number=case.number,
        requested_by=user,
    )


def case_data_checks(case: Case) -> list[dict]:
    checks = []
    for q in (
        DataQuery.objects.select_related("requested_by")
        # by reference (the case number), so the register's check of an agent's
        # authorization (data-sharing.md §7.4) is listed with the case's own checks
        .filter(reference=case.number, use__in=("case", "agent_authorization"))
        .order_by("created_at", "id")
    ):
        view = data_query.data_query_view(q)
        if q.use == DataQuery.Use.AGENT_AUTHORIZATION:
            view["representative_matches"] = _representative_matches(case, q)
        checks.append(view)
    return checks


def _representative_matches(case: Case, query: DataQuery) -> bool | None:
    """Whether the register's answer names the legal representative who signed the agent's
    authorization (its ``legal_representative.id_sm3``); None until answered."""
    if query.status != DataQuery.Status.ANSWERED:
        return None
    acting_for = (case.identity_assertion or {}).get("acting_for") or {}
    document = ((acting_for.get("authorization") or {}).get("document")) or {}
    expected = str((document.get("legal_representative") or {}).get("id_sm3") or "")
    record = (data_query.data_query_answer_of(query) or {}).get("record") or {}
    values = {f.get("key"): f.get("value") for f in record.get("fields") or []}
    registered = str(values.get("legal_representative_id") or "")
    if not expected or not registered:
        return False
    return person_id_digest(str(acting_for.get("code") or ""), registered) == expected


def replaced_materials(case: Case, checks: list[dict]) -> list[dict]:
    """免交（数据核验）: the case's materials a data check replaces, with the check."""
    given = set(case.materials.values_list("material_code", flat=True))
    rows = []
    for material in case.item.materials.all():
        if not material.data_check or material.code in given:
            continue
        check = next((c for c in reversed(checks) if c["material_code"] == material.code), None)
        rows.append(
            {
                "material_code": material.code,
                "name": material.name,
                "check": check,
                "replaced": bool(check and check["status"] == "answered"),
            }
        )
    return rows


def case_data_checks_list(*, user, number: str) -> dict:
    case = _case_for(user, number, decide=False)
    checks = case_data_checks(case)
    return {
        "case_number": case.number,
        "checks": checks,
        "options": case_data_check_options(case),
        "materials": replaced_materials(case, checks),
        "can_start": case.handling_organization_id in access_for(user).decide_orgs
        and not case.is_terminal,
    }


data_query.case_checks_register(start=case_data_check_start, listing=case_data_checks_list)
