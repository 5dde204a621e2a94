"""Reporting a use of a person's data (我的数据使用记录, docs/data-sharing.md §6).

Every module that uses a resident's data on behalf of an organization — a data query,
a licence served to a case, an online verification of a licence, a case received for
handling — calls :func:`data_use_report` inside its own transaction, at the node that
used the data. The use is appended to this node's audit log (a ``data_use`` leaf whose
entry names the person only by a salted digest) and recorded at the person's home node:
directly when that is this node, else by a ``data.use`` envelope in the same transaction.
"""

from __future__ import annotations

import base64
import datetime as dt

from django.conf import settings
from django.db import transaction
from uuid6 import uuid7

from tongban.audit.services import audit_append
from tongban.gm.canonical import canonical_json
from tongban.gm.sm3 import sm3_hex

ENTRY_FORMAT = "tongban-data-use/1"
# SM3 over this prefix, the use id, a newline and the compact 身份证号 (upper case X).
SUBJECT_PREFIX = b"tongban-data-use-subject/1\n"
ENVELOPE_PURPOSE = {"code": "data_use_log", "name": "数据使用记录"}
# The members of a use, in the leaf entry and in the data.use body (besides the subject).
USE_MEMBERS = (
    "use_id",
    "kind",
    "used_at",
    "user_node",
    "user_organization_code",
    "user_organization_name",
    "dataset_code",
    "dataset_name",
    "fields",
    "case_number",
    "item_name",
    "purpose",
    "legal_basis",
    "consent_id",
)
LIMITS = {
    "user_organization_code": 18,
    "user_organization_name": 128,
    "dataset_code": 64,
    "dataset_name": 128,
    "case_number": 64,
    "item_name": 200,
    "purpose": 200,
    "legal_basis": 300,
    "consent_id": 40,
}


def compact_id_number(id_number: str) -> str:
    return "".join(str(id_number).split()).upper()


def subject_digest(*, use_id: str, id_number: str) -> str:
    """The person as the leaf entry names them: only someone who knows the 身份证号 (the
    home node, the person) can recompute it, and the use id salts it so entries of one
    person cannot be linked."""
    data = SUBJECT_PREFIX + use_id.encode() + b"\n" + compact_id_number(id_number).encode()
    return sm3_hex(data)


LICENCE_SUBJECT_PREFIX = b"tongban-data-use-licence/1\n"


def licence_subject_digest(*, use_id: str, identifier: str) -> str:
    """The person as a verification names them: by the licence they showed (the verifier
    does not see the 身份证号); the holder's home node finds it in their wallet."""
    return sm3_hex(LICENCE_SUBJECT_PREFIX + use_id.encode() + b"\n" + identifier.encode())


def correlation_of(use_id: str) -> str:
    return f"data-use-{use_id}"


def _iso(value: dt.datetime) -> str:
    from tongban.exchange.envelopes import iso

    return iso(value)


def use_entry(
    *, use: dict, subject: str, reporter_node: str, subject_by: str = "id_number"
) -> dict:
    """The audit leaf's entry for a use (its canonical JSON is the leaf's data)."""
    entry = {
        "format": ENTRY_FORMAT,
        "reporter_node": reporter_node,
        "subject": subject,
        "subject_by": subject_by,
    }
    entry.update({key: use[key] for key in USE_MEMBERS})
    return entry


def data_use_report(
    *,
    kind: str,
    subject_id_number: str,
    used_at: dt.datetime,
    user_node: str,
    user_organization_code: str,
    user_organization_name: str,
    dataset_code: str,
    dataset_name: str,
    fields: list[str],
    case_number: str = "",
    item_name: str = "",
    purpose: str,
    legal_basis: str = "",
    consent_id: str = "",
) -> str:
    """Record one use of a person's data; returns its use id.

    Runs inside the caller's transaction at the node that used the data. ``fields`` are
    the Chinese labels the person will read; ``purpose`` is required."""
    from tongban.identity.residence import home_node_of

    id_number = compact_id_number(subject_id_number)
    if not id_number:
        raise ValueError("a data use needs its subject")
    return _report(
        subject={"id_type": "111", "id_number": id_number},
        home=home_node_of(id_number),
        use=_use_build(
            kind=kind,
            used_at=used_at,
            user_node=user_node,
            user_organization_code=user_organization_code,
            user_organization_name=user_organization_name,
            dataset_code=dataset_code,
            dataset_name=dataset_name,
            fields=fields,
            case_number=case_number,
            item_name=item_name,
            purpose=purpose,
            legal_basis=legal_basis,
            consent_id=consent_id,
        ),
    )


def data_use_report_licence(*, licence_identifier: str, holder_node: str, **use) -> str:
    """As :func:`data_use_report`, for a use that names the person only by a licence they
    showed (an online verification of a 亮证 code): reported to the licence's holder node,
    which finds the holder in its wallet."""
    return _report(
        subject={"licence": str(licence_identifier)},
        home=holder_node,
        use=_use_build(**use),
    )


def _use_build(
    *,
    kind,
    used_at,
    user_node,
    user_organization_code,
    user_organization_name,
    dataset_code,
    dataset_name,
    fields,
    case_number="",
    item_name="",
    purpose,
    legal_basis="",
    consent_id="",
) -> dict:
    from tongban.sharing.models import DataUseRecord

    if kind not in DataUseRecord.Kind.values:
        raise ValueError(f"unknown data use kind {kind!r}")
    if not str(purpose).strip():
        raise ValueError("a data use needs its purpose")
    use_id = str(uuid7())
    use = {
        "use_id": use_id,
        "kind": kind,
        "used_at": _iso(used_at),
        "user_node": str(user_node)[:16],
        "user_organization_code": user_organization_code,
        "user_organization_name": user_organization_name,
        "dataset_code": dataset_code,
        "dataset_name": dataset_name,
        "fields": [str(label)[:64] for label in fields],
        "case_number": case_number,
        "item_name": item_name,
        "purpose": str(purpose).strip(),
        "legal_basis": legal_basis,
        "consent_id": consent_id,
    }
    for key, limit in LIMITS.items():
        use[key] = str(use[key] or "")[:limit]
    return use


def _subject_entry(use_id: str, subject: dict) -> tuple[str, str]:
    """(digest, subject_by) of a data.use subject."""
    if "licence" in subject:
        return licence_subject_digest(use_id=use_id, identifier=subject["licence"]), "licence"
    return subject_digest(use_id=use_id, id_number=subject["id_number"]), "id_number"


def _person_index_of(subject: dict) -> str:
    """The blind index of the person a subject names here ("" when this node does not
    know them: a licence not in any wallet here, or one of an enterprise)."""
    from tongban.identity.pii import blind_index

    if "licence" in subject:
        from tongban.licences.models import WalletEntry

        return (
            WalletEntry.objects.filter(identifier=subject["licence"], holder_type="person")
            .values_list("holder_id_index", flat=True)
            .first()
            or ""
        )
    return blind_index(compact_id_number(subject["id_number"]))


def _report(*, subject: dict, home: str, use: dict) -> str:
    node = settings.TONGBAN_NODE
    use_id = use["use_id"]
    digest, subject_by = _subject_entry(use_id, subject)
    entry = use_entry(use=use, subject=digest, reporter_node=node, subject_by=subject_by)
    with transaction.atomic():
        index = audit_append(kind="data_use", entry=entry)
        if not home:
            return use_id
        data = canonical_json(entry)
        if home == node:
            person_index = _person_index_of(subject)
            if person_index:
                data_use_record_store(
                    use=use,
                    person_index=person_index,
                    reporter_node=node,
                    audit_index=index,
                    entry=data,
                )
        else:
            _send(
                type="data.use",
                recipient=home,
                use_id=use_id,
                body={
                    "use": use,
                    "subject": subject,
                    "audit": {"index": index, "entry": base64.b64encode(data).decode()},
                },
            )
    return use_id


def data_use_record_store(
    *, use: dict, person_index: str, reporter_node: str, audit_index: int, entry: bytes
):
    """Home node: keep the use for the person (once per use id); returns the record."""
    from tongban.sharing.models import DataUseRecord

    record, _ = DataUseRecord.objects.get_or_create(
        use_id=use["use_id"],
        defaults={
            "kind": use["kind"],
            "person_index": person_index,
            "used_at": _parse(use["used_at"]),
            "user_node": use["user_node"],
            "user_organization_code": use["user_organization_code"],
            "user_organization_name": use["user_organization_name"],
            "dataset_code": use["dataset_code"],
            "dataset_name": use["dataset_name"],
            "fields": list(use["fields"]),
            "case_number": use["case_number"],
            "item_name": use["item_name"],
            "purpose": use["purpose"],
            "legal_basis": use["legal_basis"],
            "consent_id": use["consent_id"],
            "reporter_node": reporter_node,
            "audit_index": audit_index,
            "audit_entry": entry,
        },
    )
    return record


def _parse(value: str) -> dt.datetime:
    from tongban.exchange.envelopes import parse_time

    return parse_time(value)


# --- receiving a use at the home node ---------------------------------------------------


class DataUseRefused(ValueError):
    """A data.* message that cannot apply here (answered ``not_applicable``)."""


def _text(value: object, name: str, limit: int, *, required: bool = False) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise DataUseRefused(f"{name} must be a string of at most {limit} characters")
    if required and not value.strip():
        raise DataUseRefused(f"{name} is required")
    return value


def _use_clean(use: object) -> dict:
    from tongban.sharing.models import DataUseRecord

    if not isinstance(use, dict) or set(use) != set(USE_MEMBERS):
        raise DataUseRefused(f"use must have exactly the members {', '.join(USE_MEMBERS)}")
    _text(use["use_id"], "use_id", 40, required=True)
    if use["kind"] not in DataUseRecord.Kind.values:
        raise DataUseRefused(f"unknown kind {use['kind']!r}")
    try:
        _parse(use["used_at"])
    except ValueError as exc:
        raise DataUseRefused(f"used_at: {exc}") from exc
    _text(use["user_node"], "user_node", 16, required=True)
    for key, limit in LIMITS.items():
        _text(use[key], key, limit, required=key in ("user_organization_name", "purpose"))
    fields = use["fields"]
    if not isinstance(fields, list) or not all(isinstance(f, str) and len(f) <= 64 for f in fields):
        raise DataUseRefused("fields must be a list of labels")
    return use


def data_use_receive(*, sender: str, body: dict):
    """Home node: a ``data.use`` from the node that used a resident's data. The leaf entry
    it carries must be exactly the use with the subject's digest; stored once per use id."""
    from tongban.identity.residence import home_node_of, id_number_is_valid

    if not isinstance(body, dict):
        raise DataUseRefused("body must be an object")
    use = _use_clean(body.get("use"))
    subject = body.get("subject")
    audit = body.get("audit")
    if isinstance(subject, dict) and set(subject) == {"licence"}:
        _text(subject["licence"], "subject.licence", 96, required=True)
    elif isinstance(subject, dict) and set(subject) == {"id_type", "id_number"}:
        if subject["id_type"] != "111":
            raise DataUseRefused("subject.id_type must be '111'")
        number = _text(subject["id_number"], "id_number", 18, required=True)
        subject = {"id_type": "111", "id_number": compact_id_number(number)}
        if not id_number_is_valid(subject["id_number"]) or (
            home_node_of(subject["id_number"]) != settings.TONGBAN_NODE
        ):
            raise DataUseRefused("the subject is not a resident of this node")
    else:
        raise DataUseRefused("subject must be {id_type: '111', id_number} or {licence}")
    person_index = _person_index_of(subject)
    if not person_index:
        raise DataUseRefused("no wallet here holds that licence of a person")
    if not isinstance(audit, dict):
        raise DataUseRefused("audit must be {index, entry}")
    index = audit.get("index")
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise DataUseRefused("audit.index must be a non-negative integer")
    try:
        entry = base64.b64decode(str(audit.get("entry", "")), validate=True)
    except ValueError as exc:
        raise DataUseRefused("audit.entry must be standard base64") from exc
    digest, subject_by = _subject_entry(use["use_id"], subject)
    expected = use_entry(use=use, subject=digest, reporter_node=sender, subject_by=subject_by)
    if canonical_json(expected) != entry:
        raise DataUseRefused("audit.entry is not the canonical entry of this use")
    return data_use_record_store(
        use=use, person_index=person_index, reporter_node=sender, audit_index=index, entry=entry
    )


# --- flags (异议) -------------------------------------------------------------------------

FLAG_WORKING_DAYS = 15
REASON_MAX = 500
ANSWER_MAX = 2000


def flag_deadline(raised_at: dt.datetime) -> dt.date:
    """15 working days (工作日, chinesecalendar's holidays and 调休) after the day the flag
    was raised (local date); weekends only for a year the calendar does not know."""
    import chinese_calendar
    from django.utils import timezone

    day = timezone.localdate(raised_at)
    counted = 0
    while counted < FLAG_WORKING_DAYS:
        day += dt.timedelta(days=1)
        try:
            working = chinese_calendar.is_workday(day)
        except NotImplementedError:
            working = day.weekday() < 5
        counted += working
    return day


def use_summary(record) -> dict:
    return {
        "kind": record.kind,
        "used_at": _iso(record.used_at),
        "user_organization_name": record.user_organization_name,
        "dataset_name": record.dataset_name,
        "fields": list(record.fields),
        "case_number": record.case_number,
        "item_name": record.item_name,
        "purpose": record.purpose,
    }


def data_use_flag_raise(*, user, use_id: str, reason: str):
    """The person questions one of their uses (提出异议); the flag goes to the data officer
    of the using organization's node. Returns the record."""
    from django.utils import timezone
    from django.utils.translation import gettext as _

    from tongban.errors import DomainError, NotFound
    from tongban.identity.selectors import access_for
    from tongban.sharing.data_use_selectors import data_uses_visible_to

    reason = reason.strip() if isinstance(reason, str) else ""
    errors = {}
    if not reason:
        errors["reason"] = _("请填写异议理由")
    elif len(reason) > REASON_MAX:
        errors["reason"] = _("异议理由不超过 %(n)s 个字") % {"n": REASON_MAX}
    if errors:
        raise DomainError("invalid_flag", _("异议填写有误"), details={"fields": errors})
    with transaction.atomic():
        record = (
            data_uses_visible_to(access_for(user))
            .select_for_update()
            .filter(use_id=str(use_id)[:40])
            .first()
        )
        if record is None:
            raise NotFound(_("数据使用记录不存在"))
        if record.flag:
            raise DomainError("already_flagged", _("已对这条记录提出过异议"), status=409)
        now = timezone.now()
        record.flag = record.Flag.OPEN
        record.flag_reason = reason
        record.flagged_at = now
        record.flag_deadline = flag_deadline(now)
        record.save(update_fields=["flag", "flag_reason", "flagged_at", "flag_deadline"])
        flag = {
            "flag_id": str(uuid7()),
            "use_id": record.use_id,
            "organization_code": record.user_organization_code,
            "use": use_summary(record),
            "reason": reason,
            "raised_at": _iso(now),
        }
        if record.user_node == settings.TONGBAN_NODE:
            data_use_flag_store(home_node=settings.TONGBAN_NODE, flag=flag)
        else:
            _send(
                type="data.flag",
                recipient=record.user_node,
                use_id=record.use_id,
                body=flag,
            )
    return record


def _send(*, type: str, recipient: str, use_id: str, body: dict) -> None:
    """A data-use message to another node, in the caller's transaction; the use id orders
    the messages about one use."""
    from tongban.exchange.services import outbox_enqueue

    outbox_enqueue(
        type=type,
        recipient=recipient,
        correlation=correlation_of(use_id),
        purpose=ENVELOPE_PURPOSE,
        body=body,
    )


def data_use_flag_store(*, home_node: str, flag: dict):
    """Using node: keep a flag for the using organization's 数据专员 (once per flag id)."""
    from tongban.sharing.models import DataUseFlag

    raised_at = _parse(flag["raised_at"])
    row, _ = DataUseFlag.objects.get_or_create(
        flag_id=flag["flag_id"],
        defaults={
            "use_id": flag["use_id"],
            "home_node": home_node,
            "organization_code": flag["organization_code"],
            "use_summary": flag["use"],
            "reason": flag["reason"],
            "raised_at": raised_at,
            "deadline": flag_deadline(raised_at),
        },
    )
    return row


def data_use_flag_receive(*, sender: str, body: dict):
    """Using node: a ``data.flag`` from the person's home node."""
    from tongban.directory.models import Organization
    from tongban.sharing.models import DataUseFlag

    if not isinstance(body, dict) or set(body) != {
        "flag_id",
        "use_id",
        "organization_code",
        "use",
        "reason",
        "raised_at",
    }:
        raise DataUseRefused(
            "body must be {flag_id, use_id, organization_code, use, reason, raised_at}"
        )
    _text(body["flag_id"], "flag_id", 40, required=True)
    _text(body["use_id"], "use_id", 40, required=True)
    _text(body["reason"], "reason", REASON_MAX, required=True)
    code = _text(body["organization_code"], "organization_code", 18)
    if not isinstance(body["use"], dict):
        raise DataUseRefused("use must be an object")
    try:
        _parse(body["raised_at"])
    except ValueError as exc:
        raise DataUseRefused(f"raised_at: {exc}") from exc
    if (
        code
        and not Organization.objects.filter(code=code, node__node_id=settings.TONGBAN_NODE).exists()
    ):
        raise DataUseRefused("the organization is not one of this node's")
    existing = DataUseFlag.objects.filter(use_id=body["use_id"]).first()
    if existing is not None and existing.flag_id != body["flag_id"]:
        raise DataUseRefused("this use was already flagged")
    return data_use_flag_store(home_node=sender, flag=body)


def data_use_flag_answer(*, user, flag_id: str, answer: str):
    """The 数据专员 of the using organization answers a flag; the answer goes to the
    person's home node. Returns the flag."""
    from django.utils import timezone
    from django.utils.translation import gettext as _

    from tongban.errors import DomainError, NotFound
    from tongban.sharing.data_use_selectors import flags_visible_to

    answer = answer.strip() if isinstance(answer, str) else ""
    errors = {}
    if not answer:
        errors["answer"] = _("请填写答复")
    elif len(answer) > ANSWER_MAX:
        errors["answer"] = _("答复不超过 %(n)s 个字") % {"n": ANSWER_MAX}
    if errors:
        raise DomainError("invalid_answer", _("答复填写有误"), details={"fields": errors})
    with transaction.atomic():
        flag = flags_visible_to(user).select_for_update().filter(flag_id=str(flag_id)[:40]).first()
        if flag is None:
            raise NotFound(_("异议不存在"))
        if flag.status != flag.Status.OPEN:
            raise DomainError("already_answered", _("这条异议已经答复"), status=409)
        now = timezone.now()
        flag.status = flag.Status.ANSWERED
        flag.answer = answer
        flag.answered_by = user
        flag.answered_at = now
        flag.save(update_fields=["status", "answer", "answered_by", "answered_at"])
        message = {
            "flag_id": flag.flag_id,
            "use_id": flag.use_id,
            "answer": answer,
            "answered_at": _iso(now),
        }
        if flag.home_node == settings.TONGBAN_NODE:
            data_use_answer_store(sender=settings.TONGBAN_NODE, body=message)
        else:
            _send(
                type="data.flag_answer",
                recipient=flag.home_node,
                use_id=flag.use_id,
                body=message,
            )
    return flag


def data_use_answer_store(*, sender: str, body: dict):
    """Home node: the using node's answer to a flag goes on the person's record and into
    their 消息中心. ``sender`` must be the node that used the data."""
    from tongban.sharing.models import DataUseRecord

    if not isinstance(body, dict) or set(body) != {"flag_id", "use_id", "answer", "answered_at"}:
        raise DataUseRefused("body must be {flag_id, use_id, answer, answered_at}")
    _text(body["use_id"], "use_id", 40, required=True)
    _text(body["flag_id"], "flag_id", 40, required=True)
    answer = _text(body["answer"], "answer", ANSWER_MAX, required=True)
    try:
        answered_at = _parse(body["answered_at"])
    except ValueError as exc:
        raise DataUseRefused(f"answered_at: {exc}") from exc
    record = DataUseRecord.objects.select_for_update().filter(use_id=body["use_id"]).first()
    if record is None or record.user_node != sender:
        raise DataUseRefused("no use of this node is kept here under that use id")
    if record.flag == record.Flag.ANSWERED:
        return record
    if record.flag != record.Flag.OPEN:
        raise DataUseRefused("that use was not flagged")
    record.flag = record.Flag.ANSWERED
    record.flag_answer = answer
    record.flag_answered_at = answered_at
    record.save(update_fields=["flag", "flag_answer", "flag_answered_at"])
    _notify_answer(record)
    return record


def _notify_answer(record) -> None:
    """A notice in the person's 消息中心 (addressed by the blind index, as notice_store
    does; the 身份证号 is not kept here to call it with)."""
    from django.utils.translation import gettext as _

    from tongban.notices.models import Notice

    Notice.objects.create(
        recipient_index=record.person_index,
        title=_("数据使用异议已答复")[:128],
        text=(
            _("%(org)s 已答复您对 %(data)s 使用的异议：%(answer)s")
            % {
                "org": record.user_organization_name,
                "data": record.dataset_name,
                "answer": record.flag_answer,
            }
        )[:2000],
        link="/me/data-use/",
        case_number=record.case_number[:64],
        origin_node=record.user_node,
    )


# --- inclusion proofs (home node, worker) ------------------------------------------------

PROOF_BATCH = 200
PROOF_RECHECK_SECONDS = 300  # a proof without witnesses is taken again after this long


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


class _ProofSource:
    """The reporting node's log: this node's own tables, or a peer over HTTP."""

    def __init__(self, node_id: str, session=None):
        self.node_id = node_id
        self.local = node_id == settings.TONGBAN_NODE
        self.session = session

    def _get(self, path: str, **params):
        import requests

        from tongban.directory.models import Node

        node = Node.objects.filter(node_id=self.node_id, active=True).first()
        if node is None:
            raise LookupError(f"{self.node_id} is not in the directory")
        http = self.session or requests
        response = http.get(
            f"{node.base_url}/api/v1{path}",
            params=params,
            timeout=settings.TONGBAN_EXCHANGE_TIMEOUT_SECONDS,
        )
        if response.status_code != 200:
            raise LookupError(f"{path}: HTTP {response.status_code}")
        return response

    def checkpoint_note(self) -> str | None:
        if self.local:
            from tongban.audit.selectors import latest_checkpoint

            cp = latest_checkpoint()
            return (cp.cosigned_note or cp.note) if cp is not None else None
        return self._get("/audit/checkpoint").content.decode("utf-8")

    def inclusion(self, index: int, size: int) -> list[bytes]:
        if self.local:
            from tongban.audit.selectors import inclusion_proof

            return inclusion_proof(index, size)
        data = self._get("/audit/proof/inclusion", index=index, size=size).json()
        return [base64.b64decode(h, validate=True) for h in data["proof"]]


def checkpoint_verify(node_id: str, note: str):
    """The checkpoint of ``node_id``'s log in ``note`` if a key of that node in this node's
    directory signed it (tongban.audit.checkpoint.checkpoint_open), else CheckpointError."""
    from tongban.audit.checkpoint import CheckpointError, checkpoint_open, log_origin
    from tongban.audit.witness import node_public_keys

    last: Exception = CheckpointError(f"no key of {node_id} in the directory")
    for key in node_public_keys(node_id):
        try:
            return checkpoint_open(note, public_key_hex=key, origin=log_origin(node_id))
        except CheckpointError as exc:
            last = exc
    raise last


def data_use_proofs_collect(*, session=None, limit: int = PROOF_BATCH) -> int:
    """For records without an inclusion proof: fetch the reporting node's latest checkpoint,
    verify its signature (and which witnesses cosigned it), and — when it covers the leaf —
    the inclusion proof of SM3(0x00 || entry) against its root. A proof against a
    checkpoint without cosignatures is taken again every PROOF_RECHECK_SECONDS until the
    reporting node serves a cosigned one. Returns how many (new) proofs were stored."""
    import logging

    from django.utils import timezone

    from tongban.audit import merkle
    from tongban.audit.witness import checkpoint_witnesses
    from tongban.sharing.models import DataUseRecord

    log = logging.getLogger("tongban.sharing.data_use")
    fields = ("pk", "reporter_node", "audit_index", "audit_entry", "proof")
    pending = list(
        DataUseRecord.objects.filter(proof__isnull=True, audit_index__isnull=False)
        .order_by("reporter_node", "audit_index")
        .only(*fields)[:limit]
    )
    # proofs taken against a checkpoint no witness had cosigned yet: taken again, now and
    # then, until one is cosigned
    stale = timezone.now() - dt.timedelta(seconds=PROOF_RECHECK_SECONDS)
    pending += [
        r
        for r in DataUseRecord.objects.filter(proof__isnull=False, proof_checked_at__lt=stale)
        .order_by("proof_checked_at")
        .only(*fields)[:limit]
        if not (r.proof or {}).get("witnesses")
    ]
    proved = 0
    by_node: dict[str, list] = {}
    for record in pending:
        by_node.setdefault(record.reporter_node, []).append(record)
    for node_id, records in by_node.items():
        source = _ProofSource(node_id, session)
        try:
            note = source.checkpoint_note()
            if note is None:
                continue
            checkpoint = checkpoint_verify(node_id, note)
        except Exception as exc:  # noqa: BLE001 — a peer down or a bad note: try again later
            log.warning("checkpoint of %s not usable for data-use proofs: %s", node_id, exc)
            continue
        witnesses = checkpoint_witnesses(note)
        for record in records:
            if record.audit_index >= checkpoint.size:
                continue
            if record.proof is not None and not witnesses:  # still no cosigned checkpoint
                DataUseRecord.objects.filter(pk=record.pk).update(proof_checked_at=timezone.now())
                continue
            try:
                hashes = source.inclusion(record.audit_index, checkpoint.size)
            except Exception as exc:  # noqa: BLE001
                log.warning("inclusion proof from %s failed: %s", node_id, exc)
                break
            leaf = merkle.leaf_hash(bytes(record.audit_entry))
            now = timezone.now()
            if not merkle.verify_inclusion(
                record.audit_index, checkpoint.size, leaf, hashes, checkpoint.root
            ):
                log.error(
                    "data-use leaf %s of %s is NOT in its checkpoint of size %s",
                    record.audit_index,
                    node_id,
                    checkpoint.size,
                )
                DataUseRecord.objects.filter(pk=record.pk).update(proof_checked_at=now)
                continue
            proof = {
                "size": checkpoint.size,
                "root": _b64(checkpoint.root),
                "hashes": [_b64(h) for h in hashes],
                "checkpoint": note,
                "witnesses": witnesses,
            }
            DataUseRecord.objects.filter(pk=record.pk).update(proof=proof, proof_checked_at=now)
            proved += 1
    return proved


def proof_verify(record) -> bool:
    """Re-check a stored proof: the checkpoint's signature and the leaf's inclusion."""
    from tongban.audit import merkle

    if not record.proof or record.audit_index is None:
        return False
    try:
        checkpoint = checkpoint_verify(record.reporter_node, record.proof["checkpoint"])
        hashes = [base64.b64decode(h, validate=True) for h in record.proof["hashes"]]
    except (ValueError, KeyError, TypeError):
        return False
    return checkpoint.size == record.proof["size"] and merkle.verify_inclusion(
        record.audit_index,
        checkpoint.size,
        merkle.leaf_hash(bytes(record.audit_entry)),
        hashes,
        checkpoint.root,
    )


# --- online verifications of a 亮证 code -----------------------------------------------------


def licence_verification_report(*, verdict, user=None) -> str | None:
    """An online verification at this node of a person's 亮证 code (the verdict of
    tongban.licences.verification.presentation_verify) is a use of their licence: by the
    verifying staff member's organization, else by the public ("<node> 公众核验"). A code
    whose licence did not verify (tampered, unknown issuer) names nobody and is not one."""
    from django.utils import timezone

    from tongban.directory.models import Node
    from tongban.identity.models import StaffAssignment

    licence_type = getattr(verdict, "licence_type", None)
    if (
        verdict.verdict in ("tampered", "unknown_issuer")
        or licence_type is None
        or licence_type.holder_type != "person"
        or not verdict.identifier
        or not verdict.holder_node
    ):
        return None
    node = settings.TONGBAN_NODE
    organization = None
    if user is not None and getattr(user, "is_authenticated", False) and user.kind == "staff":
        assignment = (
            StaffAssignment.objects.filter(user=user)
            .exclude(organization=None)
            .select_related("organization")
            .order_by("id")
            .first()
        )
        if assignment is None:
            assignment = (
                StaffAssignment.objects.filter(user=user)
                .exclude(window=None)
                .select_related("window__organization")
                .order_by("id")
                .first()
            )
            organization = getattr(assignment.window, "organization", None) if assignment else None
        else:
            organization = assignment.organization
    if organization is not None:
        code, name = organization.code, organization.name
        purpose = "工作人员核验持证人出示的电子证照"
    else:
        node_name = Node.objects.filter(node_id=node).values_list("name", flat=True).first()
        code, name = "", f"{node_name or node} 公众核验"
        purpose = "核验持证人出示的电子证照（亮证）"
    return data_use_report_licence(
        licence_identifier=verdict.identifier,
        holder_node=verdict.holder_node,
        kind="licence_verification",
        used_at=timezone.now(),
        user_node=node,
        user_organization_code=code,
        user_organization_name=name,
        dataset_code=verdict.type_code,
        dataset_name=verdict.type_name,
        fields=[d["label"] for d in verdict.disclosed if not d.get("masked")],
        purpose=purpose,
        legal_basis="持证人出示（亮证）",
    )
