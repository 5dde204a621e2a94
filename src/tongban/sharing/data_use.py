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
    "case_number": 40,
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


def correlation_of(use_id: str) -> str:
    return f"data-use-{use_id}"


def _iso(value: dt.datetime) -> str:
    from tongban.exchange.envelopes import iso

    return iso(value)


def use_entry(*, use: dict, subject: str, reporter_node: str) -> dict:
    """The audit leaf's entry for a use (its canonical JSON is the leaf's data)."""
    entry = {"format": ENTRY_FORMAT, "reporter_node": reporter_node, "subject": subject}
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
    from tongban.sharing.models import DataUseRecord

    if kind not in DataUseRecord.Kind.values:
        raise ValueError(f"unknown data use kind {kind!r}")
    if not str(purpose).strip():
        raise ValueError("a data use needs its purpose")
    id_number = compact_id_number(subject_id_number)
    if not id_number:
        raise ValueError("a data use needs its subject")
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
    node = settings.TONGBAN_NODE
    entry = use_entry(
        use=use, subject=subject_digest(use_id=use_id, id_number=id_number), reporter_node=node
    )
    with transaction.atomic():
        index = audit_append(kind="data_use", entry=entry)
        home = home_node_of(id_number)
        if not home:
            return use_id
        data = canonical_json(entry)
        if home == node:
            data_use_record_store(
                use=use, id_number=id_number, reporter_node=node, audit_index=index, entry=data
            )
        else:
            from tongban.exchange.services import outbox_enqueue

            outbox_enqueue(
                type="data.use",
                recipient=home,
                correlation=correlation_of(use_id),
                purpose=ENVELOPE_PURPOSE,
                body={
                    "use": use,
                    "subject": {"id_type": "111", "id_number": id_number},
                    "audit": {"index": index, "entry": base64.b64encode(data).decode()},
                },
            )
    return use_id


def data_use_record_store(
    *, use: dict, id_number: str, reporter_node: str, audit_index: int, entry: bytes
):
    """Home node: keep the use for the person (once per use id); returns the record."""
    from tongban.identity.pii import blind_index
    from tongban.sharing.models import DataUseRecord

    record, _ = DataUseRecord.objects.get_or_create(
        use_id=use["use_id"],
        defaults={
            "kind": use["kind"],
            "person_index": blind_index(compact_id_number(id_number)),
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
