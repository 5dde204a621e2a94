"""Purpose-bound data queries between nodes: ``data.query`` → ``data.answer``
(docs/data-sharing.md §5, exchange protocol §10.10).

1. The asking node (an official's 数据核验 on a case, a case arriving with materials the
   catalog lets a data check replace, or the enterprise registry check) calls
   ``data_query_send``: the catalog it mirrors must authorize the item, organization,
   fields and purpose (refused at once otherwise, nothing stored); the query is stored
   with the subject SM4-encrypted and ``data.query`` is put in the outbox in the same
   transaction — or, for a dataset of this node, answered at once by the same code.
2. The source node (``data_query_answer``) checks the authorization again for the
   sender's organization, the person's consent where the authorization requires it,
   asks the dataset's provider, answers only the authorized fields in a record signed
   with its SM2 key, appends the use to its audit log and sends ``data.answer``.
3. The asking node (``data_answer_receive``) verifies the record and its signature,
   stores it encrypted, settles the query (``data_query_settled``) and reports the use
   to the person's data-use log (``tongban.sharing.data_use``).

Store and forward only: nothing here calls another node synchronously. A provider that
cannot answer (``ProviderUnavailable``) makes the source's inbox fail the whole message
(HTTP 500, nothing recorded), so the asking node's dispatcher sends it again with
backoff; asked locally, the query is settled ``failed`` and can be asked again.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from uuid6 import uuid7

from tongban.audit.services import audit_append
from tongban.directory.models import Organization
from tongban.directory.signing import peer_public_key, sign_detached
from tongban.errors import DomainError
from tongban.exchange.envelopes import iso
from tongban.exchange.handlers import HandlerRefusal
from tongban.exchange.services import outbox_enqueue
from tongban.gm import sm2
from tongban.gm.canonical import CanonicalizationError, canonical_json
from tongban.gm.sm3 import sm3_hex
from tongban.identity.masking import mask_id_number
from tongban.identity.pii import blind_index, decrypt_at_rest, encrypt_at_rest
from tongban.identity.residence import id_number_is_valid
from tongban.sharing import selectors
from tongban.sharing.consent import data_consent_check
from tongban.sharing.models import DataQuery, Dataset, SharingAuthorization
from tongban.sharing.providers import ProviderUnavailable, provider_for, subject_key
from tongban.sharing.selectors import SharingRefused
from tongban.sharing.signals import data_query_settled

ANSWER_FORMAT = "tongban-data-answer/1"
SETTLED = (DataQuery.Status.ANSWERED, DataQuery.Status.NOT_FOUND)

# what the official reads for a refusal code (the source's own message is kept too)
REFUSAL_LABELS = {
    "unknown_dataset": gettext_lazy("共享目录中没有该数据集"),
    "not_shared": gettext_lazy("该数据集不予共享"),
    "item_not_authorized": gettext_lazy("该事项在本部门未获授权使用该数据集"),
    "purpose_mismatch": gettext_lazy("使用目的与授权不符"),
    "fields_not_authorized": gettext_lazy("所请求的字段未获授权"),
    "consent_required": gettext_lazy("该数据须经本人授权同意方可查询"),
    "consent_invalid": gettext_lazy("本人授权同意无效（签名、对象、期限不符或已使用）"),
    "provider_unavailable": gettext_lazy("数源系统暂时无法答复，请稍后重新核验"),
    "answer_invalid": gettext_lazy("数源节点的答复未通过验证"),
    "not_applicable": gettext_lazy("数源节点无法处理该查询"),
}


def refusal_label(code: str) -> str:
    return str(REFUSAL_LABELS.get(code, code))


# --- shared pieces ---------------------------------------------------------------------


def _subject_clean(dataset: Dataset, subject: object) -> dict:
    """The subject as it travels: ``{"id_type", "id_number"}`` for a person dataset,
    ``{"uscc"}`` for an enterprise one."""
    if not isinstance(subject, dict):
        raise DomainError("invalid_subject", _("查询对象格式不正确"))
    if dataset.subject == "enterprise":
        uscc = str(subject.get("uscc") or "").strip().upper()
        if not uscc or len(uscc) != 18:
            raise DomainError("invalid_subject", _("请提供企业的统一社会信用代码"))
        return {"uscc": uscc}
    id_type = str(subject.get("id_type") or "").strip()
    id_number = str(subject.get("id_number") or "").strip().upper()
    if not id_type or not id_number or len(id_type) > 8 or len(id_number) > 40:
        raise DomainError("invalid_subject", _("请提供查询对象的证件类型和证件号码"))
    return {"id_type": id_type, "id_number": id_number}


def subject_digest(subject: dict) -> str:
    """SM3 of the normalized subject (``111:<id_number>`` or ``uscc:<code>``), hex:
    binds an answer record to its subject without carrying the identifier."""
    return sm3_hex(subject_key(subject).encode())


def _wire_value(value: object) -> object:
    if isinstance(value, (decimal.Decimal, float)):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if value is None or isinstance(value, (str, bool, int)):
        return value
    return str(value)


def _labels(dataset: Dataset) -> dict[str, str]:
    return {f.key: f.label for f in dataset.fields.all()}


def _organization_name(code: str) -> str:
    return Organization.objects.filter(code=code).values_list("name", flat=True).first() or ""


def _item_name(item_code: str) -> str:
    from tongban.catalog.models import ServiceItem  # catalog: below sharing, never cases

    return (
        ServiceItem.objects.filter(basic_code=item_code).values_list("name", flat=True).first()
        or ""
    )


def _settle(query: DataQuery, **changes) -> DataQuery:
    for key, value in changes.items():
        setattr(query, key, value)
    query.save()
    data_query_settled.send(sender=DataQuery, query=query)
    return query


def data_query_subject(query: DataQuery) -> dict:
    return json.loads(decrypt_at_rest(query.subject_encrypted))


def data_query_answer_of(query: DataQuery) -> dict | None:
    """The stored ``{"record", "signature"}`` of an answered query, else None."""
    if not query.answer_encrypted:
        return None
    return json.loads(decrypt_at_rest(query.answer_encrypted))


# --- asking node ------------------------------------------------------------------------


def authorization_covering(
    *, dataset_code: str, item_code: str, organization_code: str, fields: list[str]
) -> SharingAuthorization | None:
    """The authorization of ``item_code`` at ``organization_code`` (or "*") that covers
    ``fields`` of a dataset — its purpose is the one to state — or None."""
    found = None
    for a in SharingAuthorization.objects.filter(
        dataset__code=dataset_code, dataset__active=True, item_code=item_code
    ).exclude(dataset__sharing_type="不予共享"):
        covers = a.organization_code in (organization_code, "*") and set(fields) <= set(a.fields)
        if covers and (found is None or a.organization_code != "*"):
            found = a
    return found


def _consent_for_send(
    consent: object,
    *,
    authorization: SharingAuthorization,
    dataset: Dataset,
    fields: list[str],
    purpose: str,
    organization_code: str,
    case_number: str,
    subject: dict,
) -> str:
    """The consent's id after checking it here as the source will; "" when none is needed."""
    if not authorization.consent_required:
        return ""
    if consent is None:
        raise SharingRefused(
            "consent_required",
            _("数据集 %(name)s 须经本人授权同意方可查询") % {"name": dataset.name},
        )
    try:
        document = data_consent_check(
            consent,
            requester_node=settings.TONGBAN_NODE,
            organization=organization_code,
            dataset=dataset.code,
            fields=fields,
            purpose=purpose,
            case_number=case_number,
            subject=subject,
        )
    except HandlerRefusal as refusal:
        raise SharingRefused("consent_invalid", refusal_label("consent_invalid")) from refusal
    if (
        DataQuery.objects.filter(consent_id=document["id"])
        .exclude(status__in=(DataQuery.Status.REFUSED, DataQuery.Status.FAILED))
        .exists()
    ):
        raise SharingRefused("consent_invalid", _("该本人授权同意已使用过"))
    return document["id"]


def data_query_send(
    *,
    dataset_code: str,
    subject: dict,
    fields: list[str],
    purpose: str,
    item_code: str,
    organization_code: str,
    use: str = "case",
    reference: str = "",
    case_number: str = "",
    material_code: str = "",
    consent: dict | None = None,
    requested_by=None,
) -> DataQuery:
    """Ask a dataset about one subject for ``item_code`` handled at ``organization_code``
    (a USCC of this node), for ``purpose``. Refused at once (SharingRefused, 403, with
    its code; nothing stored) when this node's copy of the catalog does not authorize it.
    ``item_code`` is opaque here (a 12-digit basic code, or a platform use such as
    ``platform:enterprise_identity``). Returns the DataQuery: ``pending`` until the
    source answers, or already settled for a dataset of this node."""
    if use not in DataQuery.Use.values:
        raise DomainError("invalid_use", _("未知的数据使用用途"))
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise DomainError("invalid_fields", _("字段须为字段编码的列表"))
    item_code, purpose = str(item_code)[:32], str(purpose).strip()
    # the case's checks are looked up by reference (the case number, or a claim's id)
    case_number = str(case_number)[:64]
    reference = str(reference or case_number)[:64]
    fields = list(dict.fromkeys(fields))
    organization = Organization.objects.filter(
        code=organization_code, node__node_id=settings.TONGBAN_NODE, active=True
    ).first()
    if organization is None:
        raise DomainError("unknown_organization", _("使用部门不是本节点的机构"))
    authorization = selectors.authorization_for(
        dataset=dataset_code,
        item=item_code,
        organization=organization_code,
        fields=fields,
        purpose=purpose,
    )
    dataset = Dataset.objects.select_related("node", "organization").get(code=dataset_code)
    subject = _subject_clean(dataset, subject)
    with transaction.atomic():
        consent_id = _consent_for_send(
            consent,
            authorization=authorization,
            dataset=dataset,
            fields=fields,
            purpose=purpose,
            organization_code=organization_code,
            case_number=case_number,
            subject=subject,
        )
        query = DataQuery.objects.create(
            query_id=str(uuid7()),
            use=use,
            reference=reference,
            case_number=case_number,
            material_code=str(material_code)[:64],
            dataset_code=dataset.code,
            dataset_name=dataset.name,
            source_node=dataset.node.node_id,
            subject_encrypted=encrypt_at_rest(json.dumps(subject, ensure_ascii=False)),
            subject_index=blind_index(subject_key(subject)),
            fields=fields,
            purpose=purpose,
            item_code=item_code,
            organization_code=organization_code,
            consent_id=consent_id,
            requested_by=requested_by,
        )
        body = {
            "query_id": query.query_id,
            "dataset": dataset.code,
            "fields": fields,
            "purpose": purpose,
            "item": item_code,
            "organization": organization_code,
            "use": use,
            "case": case_number,
            "subject": subject,
            "consent": consent if consent_id else None,
            "asked_at": iso(query.created_at),
        }
        if query.source_node == settings.TONGBAN_NODE:
            _answer_locally(query, body)
        else:
            outbox_enqueue(
                type="data.query",
                recipient=query.source_node,
                correlation=consent_id or query.query_id,
                subject={"kind": dataset.subject},
                purpose={
                    "code": "data_query",
                    "purpose": purpose,
                    "case": case_number,
                    "consent": consent_id or None,
                },
                body=body,
            )
    return query


def _answer_locally(query: DataQuery, body: dict) -> None:
    here = settings.TONGBAN_NODE
    try:
        with transaction.atomic():
            answer = data_query_answer(sender=here, body=body)
    except HandlerRefusal as refusal:
        data_query_refused(query_id=query.query_id, code=refusal.code, message=refusal.message)
        return
    except ProviderUnavailable:
        _settle(
            query,
            status=DataQuery.Status.FAILED,
            refusal_code="provider_unavailable",
            refusal_message=refusal_label("provider_unavailable")[:300],
            answered_at=timezone.now(),
        )
        return
    data_answer_receive(body={"query_id": query.query_id, **answer}, sender=here)


def data_query_refused(*, query_id: str, code: str, message: str = "") -> DataQuery | None:
    """Asking node: the source refused the query (or rejected its envelope)."""
    query = (
        DataQuery.objects.select_for_update()
        .filter(query_id=query_id, status=DataQuery.Status.PENDING)
        .first()
    )
    if query is None:
        return None
    return _settle(
        query,
        status=DataQuery.Status.REFUSED,
        refusal_code=str(code)[:40],
        refusal_message=str(message or refusal_label(code))[:300],
        answered_at=timezone.now(),
    )


# --- source node ------------------------------------------------------------------------


def _query_body(body: object) -> dict:
    if not isinstance(body, dict):
        raise HandlerRefusal("malformed data.query: body is not an object")
    fields = body.get("fields")
    text = ("query_id", "dataset", "purpose", "item", "organization")
    if (
        not all(isinstance(body.get(k), str) and body.get(k) for k in text)
        or not isinstance(fields, list)
        or not fields
        or not all(isinstance(f, str) for f in fields)
        or not isinstance(body.get("case", ""), str)
        or len(body["item"]) > 32
    ):
        raise HandlerRefusal(
            "malformed data.query: query_id, dataset, fields, purpose, item, organization"
        )
    return body


def data_query_answer(*, sender: str, body: dict, correlation: str = "") -> dict:
    """Source node: answer ``body`` (a data.query) from ``sender`` — or refuse it with
    HandlerRefusal and a code — and return ``{"record", "signature"}``. Raises
    ProviderUnavailable, recording nothing, when the dataset's system cannot answer."""
    here = settings.TONGBAN_NODE
    body = _query_body(body)
    dataset = (
        Dataset.objects.select_related("organization")
        .filter(code=body["dataset"], active=True, node_id=here)
        .first()
    )
    if dataset is None:
        raise HandlerRefusal(f"no dataset {body['dataset']} at {here}", code="unknown_dataset")
    organization = body["organization"]
    if not Organization.objects.filter(code=organization, node__node_id=sender).exists():
        raise HandlerRefusal(
            f"organization {organization} is not one of {sender}'s", code="item_not_authorized"
        )
    fields = list(dict.fromkeys(body["fields"]))
    try:
        authorization = selectors.authorization_for(
            dataset=dataset,
            item=body["item"],
            organization=organization,
            fields=fields,
            purpose=body["purpose"],
        )
        subject = _subject_clean(dataset, body.get("subject"))
    except DomainError as exc:
        code = exc.code if isinstance(exc, SharingRefused) else "not_applicable"
        raise HandlerRefusal(str(exc.message), code=code) from exc
    consent_id = ""
    if authorization.consent_required:
        document = data_consent_check(
            body.get("consent"),
            requester_node=sender,
            organization=organization,
            dataset=dataset.code,
            fields=fields,
            purpose=authorization.purpose,
            case_number=str(body.get("case", "")),
            subject=subject,
        )
        consent_id = document["id"]
        if _consent_used(consent_id, sender=sender, correlation=correlation):
            raise HandlerRefusal("consent: already used", code="consent_invalid")
    values = provider_for(dataset).lookup(subject, fields)  # ProviderUnavailable propagates
    labels = _labels(dataset)
    now = timezone.now()
    record = {
        "format": ANSWER_FORMAT,
        "query_id": body["query_id"],
        "dataset": dataset.code,
        "dataset_name": dataset.name,
        "sample": dataset.sample,
        "source": {
            "node": here,
            "organization": dataset.organization_id,
            "organization_name": dataset.organization.name,
        },
        "requester": {"node": sender, "organization": organization},
        "item": body["item"],
        "case": str(body.get("case", "")),
        "purpose": authorization.purpose,
        "legal_basis": authorization.legal_basis,
        "consent_id": consent_id,
        "subject_sm3": subject_digest(subject),
        "found": values is not None,
        "fields": [
            {"key": key, "label": labels.get(key, key), "value": _wire_value(values.get(key))}
            for key in fields  # only what was asked and authorized, whatever came back
        ]
        if values is not None
        else [],
        "answered_at": iso(now),
    }
    signature = sign_detached(canonical_json(record))
    audit_append(
        kind="data_use",
        entry={
            "type": "data.query",
            "query_id": body["query_id"],
            "dataset": dataset.code,
            "fields": fields,
            "requester_node": sender,
            "requester_organization": organization,
            "item": body["item"],
            "case": record["case"],
            "purpose": authorization.purpose,
            "legal_basis": authorization.legal_basis,
            "consent_id": consent_id,
            "subject_index": blind_index(subject_key(subject)),  # keyed: no identifier
            "found": record["found"],
            "answered_at": record["answered_at"],
        },
    )
    answer = {"record": record, "signature": signature}
    if sender != here:
        outbox_enqueue(
            type="data.answer",
            recipient=sender,
            correlation=body["query_id"],
            purpose={"code": "data_query", "purpose": authorization.purpose},
            body={"query_id": body["query_id"], **answer},
        )
    return answer


def _consent_used(consent_id: str, *, sender: str, correlation: str) -> bool:
    """A consent answers one query: a data.query carrying it travels with the consent's
    id as its correlation, so an earlier one applied here is the same consent again."""
    if sender == settings.TONGBAN_NODE:
        return DataQuery.objects.filter(consent_id=consent_id, status__in=SETTLED).exists()
    if correlation != consent_id:
        raise HandlerRefusal(
            "consent: a data.query with a consent has the consent's id as correlation",
            code="consent_invalid",
        )
    from tongban.exchange.models import InboxMessage

    return InboxMessage.objects.filter(
        type="data.query", sender=sender, correlation=consent_id, status="applied"
    ).exists()


# --- asking node: the answer --------------------------------------------------------------


def _record_problem(query: DataQuery, record: object, signature: object, sender: str) -> str:
    """Why an answer record cannot be trusted for ``query``, or "" when it can."""
    if not isinstance(record, dict) or not isinstance(signature, dict):
        return "answer has no record or signature"
    try:
        signed = canonical_json(record)
    except CanonicalizationError as exc:
        return f"record cannot be canonicalized: {exc}"
    public_key = peer_public_key(sender, str(signature.get("kid", "")))
    if public_key is None or not sm2.verify_b64(
        public_key, signed, str(signature.get("value", ""))
    ):
        return "signature does not verify with a current key of the source node"
    source = record.get("source") if isinstance(record.get("source"), dict) else {}
    requester = record.get("requester") if isinstance(record.get("requester"), dict) else {}
    fields = record.get("fields") if isinstance(record.get("fields"), list) else None
    keys = [f.get("key") for f in fields if isinstance(f, dict)] if fields is not None else []
    problems = [
        (record.get("format") != ANSWER_FORMAT, "unknown record format"),
        (record.get("query_id") != query.query_id, "record is for another query"),
        (record.get("dataset") != query.dataset_code, "record is for another dataset"),
        (source.get("node") != sender, "record names another source node"),
        (requester.get("node") != settings.TONGBAN_NODE, "record names another requester"),
        (requester.get("organization") != query.organization_code, "another organization"),
        (record.get("subject_sm3") != subject_digest(data_query_subject(query)), "another subject"),
        (not isinstance(record.get("found"), bool), "record says neither found nor not found"),
        (fields is None or len(keys) != len(fields), "malformed fields"),
        (not set(keys) <= set(query.fields), "record carries fields that were not asked for"),
        (record.get("found") is True and set(keys) != set(query.fields), "fields missing"),
    ]
    return next((reason for failed, reason in problems if failed), "")


def data_answer_receive(*, body: dict, sender: str) -> DataQuery:
    """Asking node: verify and record the source's answer to one of our queries."""
    if not isinstance(body, dict) or not isinstance(body.get("query_id"), str):
        raise HandlerRefusal("malformed data.answer")
    query = (
        DataQuery.objects.select_for_update()
        .filter(query_id=body["query_id"], source_node=sender)
        .first()
    )
    if query is None or query.status != DataQuery.Status.PENDING:
        raise HandlerRefusal("no query of ours is waiting for this answer")
    record, signature = body.get("record"), body.get("signature")
    problem = _record_problem(query, record, signature, sender)
    now = timezone.now()
    if problem:
        return _settle(
            query,
            status=DataQuery.Status.FAILED,
            refusal_code="answer_invalid",
            refusal_message=problem[:300],
            answered_at=now,
        )
    query.answer_encrypted = encrypt_at_rest(
        json.dumps({"record": record, "signature": signature}, ensure_ascii=False)
    )
    status = DataQuery.Status.ANSWERED if record["found"] else DataQuery.Status.NOT_FOUND
    _settle(query, status=status, answered_at=now)
    subject = data_query_subject(query)
    if "id_number" in subject:  # an enterprise has no person's log
        data_query_use_report(query, subject_id_number=subject["id_number"])
    return query


def data_query_use_report(query: DataQuery, *, subject_id_number: str) -> None:
    """The person's data-use log (我的数据使用记录): this node used their data through an
    answered query — the query's subject, or a person the answer names (a register's
    legal representative)."""
    from tongban.sharing.data_use import data_use_report

    record = (data_query_answer_of(query) or {}).get("record") or {}

    dataset = Dataset.objects.filter(code=query.dataset_code).first()
    labels = _labels(dataset) if dataset else {}
    data_use_report(
        kind="data_query",
        subject_id_number=subject_id_number,
        used_at=query.answered_at,
        user_node=settings.TONGBAN_NODE,
        user_organization_code=query.organization_code,
        user_organization_name=_organization_name(query.organization_code),
        dataset_code=query.dataset_code,
        dataset_name=query.dataset_name,
        fields=[labels.get(k, k) for k in query.fields],
        case_number=query.case_number,
        item_name=_item_name(query.item_code),
        purpose=query.purpose,
        legal_basis=str(record.get("legal_basis", "")),
        consent_id=query.consent_id,
    )


# --- the case a 数据核验 belongs to ---------------------------------------------------------
# The cases app registers how to start and list the checks of a case it holds (scoped to
# the staff who may handle it): sharing's API serves them without importing cases.

_case_checks: dict[str, object] = {}


def case_checks_register(*, start, listing) -> None:
    """``start(*, user, number, dataset, fields, purpose) -> DataQuery`` and
    ``listing(*, user, number) -> dict`` (the case's checks and their options)."""
    _case_checks.update(start=start, listing=listing)


def case_checks():
    if not _case_checks:
        raise RuntimeError("the cases app has not registered its data checks")
    return _case_checks["start"], _case_checks["listing"]


# --- how a query is shown (the official's 数据核验 panel, the API) -----------------------------


def _signature_verifies(query: DataQuery, answer: dict) -> bool:
    """The stored record's signature, checked again with the source's key valid when it
    was received."""
    signature = answer.get("signature") or {}
    public_key = peer_public_key(
        query.source_node, str(signature.get("kid", "")), at=query.answered_at
    )
    try:
        signed = canonical_json(answer.get("record"))
    except CanonicalizationError:
        return False
    return bool(public_key) and sm2.verify_b64(public_key, signed, str(signature.get("value", "")))


def _shown(value):
    """A 身份证号 in an answer is shown masked, in pages and the API alike (the official
    needs to know it matches, which the case's checks say, not to read it)."""
    if isinstance(value, str) and id_number_is_valid(value.strip().upper()):
        return mask_id_number(value.strip().upper())
    return value


def data_query_view(query: DataQuery) -> dict:
    """A query as the official reads it: the source, the fields with their values (when
    answered), the times, whether the signature verifies, or why it was refused."""
    dataset = Dataset.objects.select_related("organization").filter(code=query.dataset_code).first()
    labels = _labels(dataset) if dataset else {}
    answer = data_query_answer_of(query) or {}
    record = answer.get("record") or {}
    values = {f.get("key"): f.get("value") for f in record.get("fields") or []}
    source = record.get("source") or {}
    return {
        "query_id": query.query_id,
        "use": query.use,
        "case_number": query.reference if query.use == DataQuery.Use.CASE else query.case_number,
        "material_code": query.material_code,
        "dataset": query.dataset_code,
        "dataset_name": query.dataset_name,
        "source_node": query.source_node,
        "source_organization": source.get("organization")
        or (dataset.organization_id if dataset else ""),
        "source_organization_name": source.get("organization_name")
        or (dataset.organization.name if dataset else ""),
        "fields": [
            {"key": key, "label": labels.get(key, key), "value": _shown(values.get(key))}
            for key in query.fields
        ],
        "purpose": query.purpose,
        "legal_basis": str(record.get("legal_basis", "")),
        "consent_id": query.consent_id,
        "status": query.status,
        "status_label": str(query.get_status_display()),
        "asked_at": query.created_at,
        "answered_at": query.answered_at,
        "signature_verified": _signature_verifies(query, answer) if answer else False,
        "sample": bool(record.get("sample", dataset.sample if dataset else False)),
        "refusal_code": query.refusal_code,
        "refusal_label": refusal_label(query.refusal_code) if query.refusal_code else "",
        "refusal_message": query.refusal_message,
        "requested_by": (
            (query.requested_by.display_name or query.requested_by.username)
            if query.requested_by_id
            else ""
        ),
    }
