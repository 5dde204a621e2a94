"""The sharing catalog: validated on load at the hub, published in the signed global
configuration ("sharing" section), mirrored at every node (docs/data-sharing.md)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from django.db import transaction

from tongban.directory.models import Node, Organization
from tongban.directory.services import ConfigurationError
from tongban.sharing.models import (
    ANY_ORGANIZATION,
    CLASSIFICATIONS,
    FIELD_TYPES,
    SHARING_TYPES,
    SUBJECTS,
    Dataset,
    DatasetField,
    SharingAuthorization,
)

DATA_DIR = Path(__file__).resolve().parent / "data"
SEED_FILE = DATA_DIR / "sharing_catalog.json"
SHARING_FORMAT = "tongban-sharing-catalog/1"
_CODE = re.compile(r"^[a-z]{2,8}\.[a-z][a-z0-9_]{1,54}$")
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_ITEM = re.compile(r"^\d{12}$")
# uses of the platform itself, not of a 事项 (docs/data-sharing.md §7)
PLATFORM_USES = ("platform:enterprise_identity", "platform:agent_authorization")


class SharingCatalogError(ConfigurationError):
    """A sharing catalog that is refused; the message names the bad entry."""


def _text(entry: dict, key: str, where: str, *, max_length: int, required: bool = True) -> str:
    value = entry.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > max_length:
        raise SharingCatalogError(
            f"{where}: {key} must be a non-empty text of at most {max_length}"
        )
    return value.strip()


def sharing_catalog_clean(section: object, *, organizations: dict[str, str]) -> dict:
    """Validate a sharing section; ``organizations`` maps organization code → node id.

    Returns the normalized section; SharingCatalogError names the first bad entry."""
    if not isinstance(section, dict):
        raise SharingCatalogError("sharing catalog: not an object")
    datasets_in, auths_in = section.get("datasets"), section.get("authorizations")
    if not isinstance(datasets_in, list) or not isinstance(auths_in, list):
        raise SharingCatalogError("sharing catalog: datasets and authorizations must be lists")
    datasets: list[dict] = []
    fields_of: dict[str, dict[str, dict]] = {}
    types = {t for t, _ in SHARING_TYPES}
    classes = {c for c, _ in CLASSIFICATIONS}
    subjects = {s for s, _ in SUBJECTS}
    for i, d in enumerate(datasets_in):
        where = f"dataset #{i + 1}"
        if not isinstance(d, dict):
            raise SharingCatalogError(f"{where}: not an object")
        code = d.get("code")
        if not isinstance(code, str) or not _CODE.match(code):
            raise SharingCatalogError(f"{where}: code {code!r} must look like <node>.<name>")
        where = f"dataset {code}"
        if code in fields_of:
            raise SharingCatalogError(f"{where}: listed twice")
        node, org = d.get("node"), d.get("organization")
        if org not in organizations:
            raise SharingCatalogError(f"{where}: unknown organization {org!r}")
        if organizations[org] != node:
            raise SharingCatalogError(
                f"{where}: organization {org} belongs to node {organizations[org]}, not {node!r}"
            )
        if not code.startswith(f"{node}."):
            raise SharingCatalogError(f"{where}: code must start with its node {node!r}")
        if d.get("sharing_type") not in types:
            raise SharingCatalogError(f"{where}: sharing_type must be one of {sorted(types)}")
        if d.get("subject") not in subjects:
            raise SharingCatalogError(f"{where}: subject must be one of {sorted(subjects)}")
        raw_fields = d.get("fields")
        if not isinstance(raw_fields, list) or not raw_fields:
            raise SharingCatalogError(f"{where}: fields must be a non-empty list")
        fields: dict[str, dict] = {}
        for f in raw_fields:
            if not isinstance(f, dict) or not isinstance(f.get("key"), str):
                raise SharingCatalogError(f"{where}: a field without a key")
            key = f["key"]
            fwhere = f"{where} field {key}"
            if not _KEY.match(key) or key in fields:
                raise SharingCatalogError(f"{fwhere}: bad or repeated key")
            if f.get("type") not in FIELD_TYPES:
                raise SharingCatalogError(f"{fwhere}: type must be one of {FIELD_TYPES}")
            if f.get("classification") not in classes:
                raise SharingCatalogError(f"{fwhere}: classification must be one of 一般/重要/核心")
            if not isinstance(f.get("personal"), bool):
                raise SharingCatalogError(f"{fwhere}: personal must be true or false")
            fields[key] = {
                "key": key,
                "label": _text(f, "label", fwhere, max_length=64),
                "type": f["type"],
                "classification": f["classification"],
                "personal": f["personal"],
            }
        fields_of[code] = fields
        datasets.append(
            {
                "code": code,
                "name": _text(d, "name", where, max_length=128),
                "node": node,
                "organization": org,
                "subject": d["subject"],
                "sharing_type": d["sharing_type"],
                "description": _text(d, "description", where, max_length=300, required=False),
                "fields": list(fields.values()),
                "sample": bool(d.get("sample", False)),
            }
        )
    sharing_type = {d["code"]: d["sharing_type"] for d in datasets}
    authorizations: list[dict] = []
    for i, a in enumerate(auths_in):
        where = f"authorization #{i + 1}"
        if not isinstance(a, dict):
            raise SharingCatalogError(f"{where}: not an object")
        code = a.get("dataset")
        if code not in fields_of:
            raise SharingCatalogError(f"{where}: unknown dataset {code!r}")
        where = f"authorization #{i + 1} ({code} ← {a.get('item')!r} @ {a.get('organization')!r})"
        if sharing_type[code] == "不予共享":
            raise SharingCatalogError(f"{where}: dataset {code} is 不予共享")
        item = a.get("item")
        if not isinstance(item, str) or not (_ITEM.match(item) or item in PLATFORM_USES):
            raise SharingCatalogError(
                f"{where}: item must be a 12-digit basic code or one of {', '.join(PLATFORM_USES)}"
            )
        org = a.get("organization")
        if org != ANY_ORGANIZATION and org not in organizations:
            raise SharingCatalogError(f"{where}: unknown organization {org!r}")
        wanted = a.get("fields")
        if (
            not isinstance(wanted, list)
            or not wanted
            or not all(isinstance(k, str) for k in wanted)
        ):
            raise SharingCatalogError(f"{where}: fields must be a non-empty list of field keys")
        unknown = [k for k in wanted if k not in fields_of[code]]
        if unknown:
            raise SharingCatalogError(
                f"{where}: fields not in dataset {code}: {', '.join(unknown)}"
            )
        if len(set(wanted)) != len(wanted):
            raise SharingCatalogError(f"{where}: a field is listed twice")
        consent = a.get("consent_required", False)
        if not isinstance(consent, bool):
            raise SharingCatalogError(f"{where}: consent_required must be true or false")
        legal_basis = _text(a, "legal_basis", where, max_length=300, required=False)
        if not legal_basis and not consent:
            raise SharingCatalogError(f"{where}: needs a legal_basis or consent_required")
        authorizations.append(
            {
                "dataset": code,
                "item": a["item"],
                "organization": org,
                "fields": list(wanted),
                "purpose": _text(a, "purpose", where, max_length=200),
                "legal_basis": legal_basis,
                "consent_required": consent,
                "sample": bool(a.get("sample", False)),
            }
        )
    return {"format": SHARING_FORMAT, "datasets": datasets, "authorizations": authorizations}


def _directory_organizations() -> dict[str, str]:
    return dict(Organization.objects.values_list("code", "node__node_id"))


@transaction.atomic
def sharing_catalog_store(*, section: dict) -> tuple[int, int]:
    """Validate a sharing section against this directory and mirror it (hub and nodes)."""
    clean = sharing_catalog_clean(section, organizations=_directory_organizations())
    nodes = {n.node_id: n for n in Node.objects.all()}
    seen = []
    for d in clean["datasets"]:
        dataset, _ = Dataset.objects.update_or_create(
            code=d["code"],
            defaults={
                "name": d["name"],
                "node": nodes[d["node"]],
                "organization_id": d["organization"],
                "subject": d["subject"],
                "sharing_type": d["sharing_type"],
                "description": d["description"],
                "sample": d["sample"],
                "active": True,
            },
        )
        dataset.fields.all().delete()
        DatasetField.objects.bulk_create(
            DatasetField(dataset=dataset, position=i, **f) for i, f in enumerate(d["fields"])
        )
        seen.append(dataset.code)
    Dataset.objects.exclude(code__in=seen).update(active=False)
    SharingAuthorization.objects.all().delete()
    SharingAuthorization.objects.bulk_create(
        SharingAuthorization(
            dataset_id=a["dataset"],
            item_code=a["item"],
            organization_code=a["organization"],
            fields=a["fields"],
            purpose=a["purpose"],
            legal_basis=a["legal_basis"],
            consent_required=a["consent_required"],
            sample=a["sample"],
            position=i,
        )
        for i, a in enumerate(clean["authorizations"])
    )
    return len(clean["datasets"]), len(clean["authorizations"])


def sharing_catalog_load_seed(path: Path = SEED_FILE) -> tuple[int, int]:
    """Hub: load the shipped (sample) sharing catalog; refuses a bad one."""
    section = json.loads(path.read_text(encoding="utf-8"))
    if section.get("format") != SHARING_FORMAT:
        raise SharingCatalogError(f"{path.name}: unknown format {section.get('format')!r}")
    return sharing_catalog_store(section=section)


def sharing_catalog_document() -> dict | None:
    """Hub: the "sharing" section of the global configuration (None when empty)."""
    datasets = list(
        Dataset.objects.filter(active=True)
        .select_related("node")
        .prefetch_related("fields", "authorizations")
    )
    if not datasets:
        return None
    return {
        "format": SHARING_FORMAT,
        "datasets": [
            {
                "code": d.code,
                "name": d.name,
                "node": d.node.node_id,
                "organization": d.organization_id,
                "subject": d.subject,
                "sharing_type": d.sharing_type,
                "description": d.description,
                "fields": [
                    {
                        "key": f.key,
                        "label": f.label,
                        "type": f.type,
                        "classification": f.classification,
                        "personal": f.personal,
                    }
                    for f in d.fields.all()
                ],
                "sample": d.sample,
            }
            for d in datasets
        ],
        "authorizations": [
            {
                "dataset": a.dataset_id,
                "item": a.item_code,
                "organization": a.organization_code,
                "fields": a.fields,
                "purpose": a.purpose,
                "legal_basis": a.legal_basis,
                "consent_required": a.consent_required,
                "sample": a.sample,
            }
            for d in datasets
            for a in d.authorizations.all()
        ],
    }


def sharing_catalog_apply(section: dict | None) -> None:
    """Node: mirror the section of a verified configuration (in its transaction).

    A configuration without one (an older hub) leaves the mirror as it is."""
    if section is None:
        return
    if not isinstance(section, dict) or section.get("format") != SHARING_FORMAT:
        raise SharingCatalogError("sharing catalog: unknown format")
    sharing_catalog_store(section=section)
