"""电子证照 writes: the type registry, issuance and status changes at the issuing
node, status lists, the wallet at the holder's home node, 亮证 presentations,
counters, and serving a licence to a case (用证) under a signed consent."""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
from pathlib import Path

import requests
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from stdnum.cn import uscc

from tongban.directory.models import Node, Organization
from tongban.directory.signing import sign_detached
from tongban.errors import DomainError, NotFound, PermissionDenied
from tongban.exchange.envelopes import iso, parse_time
from tongban.exchange.services import outbox_enqueue
from tongban.gm.canonical import canonical_json
from tongban.identity.pii import (
    blind_index,
    decrypt_at_rest,
    decrypt_identifier,
    encrypt_at_rest,
    encrypt_identifier,
)
from tongban.identity.residence import home_node_of, id_number_is_valid
from tongban.identity.selectors import access_for
from tongban.licences import formats
from tongban.licences.models import (
    Licence,
    LicenceCounter,
    LicenceSerialCounter,
    LicenceStatus,
    LicenceType,
    LicenceUse,
    StatusIndexCounter,
    StatusListCache,
    StatusListPublication,
    WalletEntry,
)

log = logging.getLogger(__name__)
DATA_DIR = Path(__file__).resolve().parent / "data"
PURPOSES = {"government_service", "on_site_check", "social_use"}
PROVINCE_NODES = {"31": "sh", "32": "js", "33": "zj", "34": "ah"}


# --- the registry (hub) and its copy on every node ------------------------------


def licence_types_load_seed() -> int:
    """Hub: load the shipped registry of licence types (sample data)."""
    data = json.loads((DATA_DIR / "licence_types.json").read_text(encoding="utf-8"))
    with transaction.atomic():
        for t in data["types"]:
            _type_upsert(
                {
                    "code": t["code"],
                    "name": t["name"],
                    "authority": t["defining_authority"],
                    "holder_type": t["holder_type"],
                    "fields": t["fields"],
                    "validity_years": t["validity"]["years"],
                    "status_max_age_seconds": t["status_max_age_seconds"],
                    "recognition": t["recognition"],
                    "sample": data.get("sample", True),
                }
            )
    return len(data["types"])


def _type_upsert(t: dict) -> LicenceType:
    if len(t["code"]) != 21 or t["holder_type"] not in ("person", "enterprise"):
        raise ValueError(f"bad licence type {t['code']}")
    for purposes in t["recognition"].values():
        if not set(purposes) <= PURPOSES:
            raise ValueError(f"unknown purpose in recognition of {t['code']}")
    _type_fields_check(t["code"], t["fields"])
    row, _ = LicenceType.objects.update_or_create(
        code=t["code"],
        defaults={
            "name": t["name"],
            "authority_code": t["authority"]["code"],
            "authority_name": t["authority"]["name"],
            "holder_type": t["holder_type"],
            "fields": t["fields"],
            "validity_years": t["validity_years"],
            "status_max_age_seconds": t["status_max_age_seconds"],
            "recognition": t["recognition"],
            "sample": t.get("sample", True),
            "active": True,
        },
    )
    return row


def _type_fields_check(code: str, fields: object) -> None:
    """The face-field specs of a type: unique keys, a kind, and the two markers —
    ``identifier`` (a text field that is or contains the 身份证号) and ``same_as``
    (a date field that states the licence's ``valid_from`` / ``valid_to``, at most one each)."""
    if not isinstance(fields, list):
        raise ValueError(f"fields of {code} must be a list")
    keys: set[str] = set()
    same_as: set[str] = set()
    for spec in fields:
        if not isinstance(spec, dict) or not isinstance(spec.get("key"), str) or not spec["key"]:
            raise ValueError(f"a field of {code} has no key")
        key = spec["key"]
        if key in keys or key in ("holder_name", "holder_id"):
            raise ValueError(f"field {key} of {code} is repeated or reserved")
        keys.add(key)
        if spec.get("kind", "text") not in ("text", "date"):
            raise ValueError(f"field {key} of {code} has an unknown kind")
        if not isinstance(spec.get("identifier", False), bool):
            raise ValueError(f"field {key} of {code}: identifier must be true or false")
        if spec.get("identifier") and spec.get("kind", "text") != "text":
            raise ValueError(f"field {key} of {code}: only a text field can be an identifier")
        if "same_as" in spec:
            if spec["same_as"] not in ("valid_from", "valid_to") or spec.get("kind") != "date":
                raise ValueError(f"field {key} of {code}: same_as needs a date field")
            if spec["same_as"] in same_as:
                raise ValueError(f"{code} has two fields for {spec['same_as']}")
            same_as.add(spec["same_as"])


def licence_types_document() -> list[dict]:
    """The registry as it travels in the global configuration."""
    return [
        {
            "code": t.code,
            "name": t.name,
            "authority": {"code": t.authority_code, "name": t.authority_name},
            "holder_type": t.holder_type,
            "fields": t.fields,
            "validity_years": t.validity_years,
            "status_max_age_seconds": t.status_max_age_seconds,
            "recognition": t.recognition,
            "sample": t.sample,
        }
        for t in LicenceType.objects.filter(active=True).order_by("code")
    ]


def licence_types_apply(types: list[dict]) -> None:
    """Node: mirror the registry from a verified configuration (in its transaction)."""
    seen = [_type_upsert(t).code for t in types]
    LicenceType.objects.exclude(code__in=seen).update(active=False)


def licence_type_by_name(name: str) -> LicenceType | None:
    return LicenceType.objects.filter(name=name, active=True).first()


# --- counters ------------------------------------------------------------------


def counter_add(*, type_code: str, event: str, amount: int = 1) -> None:
    """Count one event for this node (upsert; safe under concurrency)."""
    key = {
        "node_id": settings.TONGBAN_NODE,
        "type_code": type_code[:21],
        "event": event[:40],
        "day": timezone.localdate(),
    }
    updated = LicenceCounter.objects.filter(**key).update(count=F("count") + amount)
    if updated:
        return
    try:
        with transaction.atomic():
            LicenceCounter.objects.create(**key, count=amount)
    except IntegrityError:
        LicenceCounter.objects.filter(**key).update(count=F("count") + amount)


# --- issuance (issuing node) ----------------------------------------------------


def _holder_clean(licence_type: LicenceType, holder: object) -> tuple[str, str]:
    if not isinstance(holder, dict):
        raise DomainError("invalid_holder", _("持证主体信息格式不正确"))
    name = str(holder.get("name") or "").strip()
    id_number = str(holder.get("id_number") or "").strip().upper()
    if not name or len(name) > 128:
        raise DomainError("invalid_holder", _("请填写持证主体名称（不超过128字）"))
    valid = id_number_is_valid if licence_type.holder_type == "person" else uscc.is_valid
    if not valid(id_number):
        raise DomainError(
            "invalid_holder",
            _("持证主体证件号码无效：自然人须为有效的公民身份号码，法人须为有效的统一社会信用代码"),
        )
    return name, id_number


def _home_node_for(licence_type: LicenceType, id_number: str, requested: str = "") -> str:
    """The holder's home node: for a person of the region the province of their 身份证号
    (ADR 0010); otherwise the one asked for, or the province in their code."""
    resident_home = home_node_of(id_number) if licence_type.holder_type == "person" else ""
    if resident_home:
        if requested and requested != resident_home:
            raise DomainError("invalid_holder", _("持证主体所属节点与其身份证号所属省份不符"))
        return resident_home
    if requested:
        if not Node.objects.filter(node_id=requested, role="node", active=True).exists():
            raise DomainError("invalid_holder", _("持证主体所属节点不存在"))
        return requested
    if licence_type.holder_type == "person":
        from tongban.identity.models import Person

        person = Person.objects.filter(id_number_index=blind_index(id_number)).first()
        if person is not None and person.home_node:
            return person.home_node
        province = id_number[:2]
    else:
        from tongban.identity.models import Enterprise

        enterprise = Enterprise.objects.filter(code=id_number).first()
        if enterprise is not None and enterprise.home_node:
            return enterprise.home_node
        province = id_number[2:4]
    return PROVINCE_NODES.get(province, settings.TONGBAN_NODE)


def _fields_clean(licence_type: LicenceType, fields: object) -> dict:
    if not isinstance(fields, dict):
        raise DomainError("invalid_fields", _("照面信息格式不正确"))
    known = {f["key"]: f for f in licence_type.fields}
    unknown = sorted(set(fields) - set(known))
    if unknown:
        raise DomainError(
            "invalid_fields",
            _("照面信息含有该证照类型没有的项目：%(keys)s") % {"keys": "、".join(unknown)},
        )
    cleaned = {}
    for key, spec in known.items():
        value = str(fields.get(key) or "").strip()
        if not value:
            # a validity date on the face is filled in from the licence's validity
            if spec.get("required") and not spec.get("same_as"):
                raise DomainError(
                    "invalid_fields", _("请填写照面信息“%(label)s”") % {"label": spec["label"]}
                )
            continue
        if len(value) > 500:
            raise DomainError("invalid_fields", _("“%(label)s”过长") % {"label": spec["label"]})
        if spec.get("kind") == "date":
            try:
                value = dt.date.fromisoformat(value).isoformat()
            except ValueError as exc:
                raise DomainError(
                    "invalid_fields",
                    _("“%(label)s”须为日期（YYYY-MM-DD）") % {"label": spec["label"]},
                ) from exc
        cleaned[key] = value
    return cleaned


def _serial_allocate(type_code: str, organization_code: str, year: int) -> str:
    counter, _ = LicenceSerialCounter.objects.select_for_update().get_or_create(
        type_code=type_code, organization_code=organization_code, year=year
    )
    counter.last += 1
    counter.save(update_fields=["last"])
    return f"{year:04d}{counter.last:08d}"


def _status_index_allocate() -> int:
    counter, _ = StatusIndexCounter.objects.select_for_update().get_or_create(pk=1)
    counter.last += 1
    counter.save(update_fields=["last"])
    return counter.last


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _validity_agree(
    licence_type: LicenceType,
    cleaned: dict,
    valid_from: dt.date | None,
    valid_to: dt.date | None,
    today: dt.date,
) -> tuple[dt.date, dt.date | None]:
    """One source of truth for a licence's dates: the face fields that state them
    (``same_as`` in the registry, e.g. 有效期至) and the licence's ``valid_from`` /
    ``valid_to`` are the same value. Given on one side, it is copied to the other;
    given on both, they must agree; given on neither, ``valid_from`` is today and
    ``valid_to`` follows from the type's validity. ``cleaned`` is completed in place."""
    labels = {f["key"]: f["label"] for f in licence_type.fields}

    def agree(which: str, given: dt.date | None, label: str) -> dt.date | None:
        key = licence_type.validity_field(which)
        face = cleaned.get(key) if key else None
        if face and given is not None and face != given.isoformat():
            raise DomainError(
                "invalid_validity",
                _("照面信息“%(field)s”（%(face)s）与证照%(what)s（%(given)s）不一致")
                % {"field": labels[key], "face": face, "what": label, "given": given.isoformat()},
            )
        return dt.date.fromisoformat(face) if face else given

    valid_from = agree("valid_from", valid_from, _("有效期起")) or today
    valid_to = agree("valid_to", valid_to, _("有效期止"))
    if valid_to is None and licence_type.validity_years:
        valid_to = _add_years(valid_from, licence_type.validity_years) - dt.timedelta(days=1)
    if valid_to is not None and valid_to < valid_from:
        raise DomainError("invalid_validity", _("有效期止不能早于有效期起"))
    if key := licence_type.validity_field("valid_from"):
        cleaned[key] = valid_from.isoformat()
    if (key := licence_type.validity_field("valid_to")) and valid_to is not None:
        cleaned[key] = valid_to.isoformat()
    return valid_from, valid_to


def _sign_licence(
    *,
    identifier: str,
    licence_type: LicenceType,
    org: Organization,
    version: int,
    holder_name: str,
    holder_id: str,
    fields: dict,
    issued_at: dt.datetime,
    valid_from: dt.date,
    valid_to: dt.date | None,
    status_index: int,
    case_number: str,
    holder_node: str,
) -> tuple[dict, dict, list[str]]:
    claims = [("holder_name", holder_name), ("holder_id", holder_id)] + list(fields.items())
    disclosures = [formats.disclosure_make(k, v) for k, v in claims]
    payload = {
        "format": formats.LICENCE_FORMAT,
        "identifier": identifier,
        "type": {"code": licence_type.code, "name": licence_type.name},
        "version": version,
        "issuer": {"node": settings.TONGBAN_NODE, "code": org.code, "name": org.name},
        "area_code": org.region,
        "holder_type": formats.HOLDER_ID_TYPES[licence_type.holder_type],
        # only this node may make presentations (亮证) of the licence
        "holder_node": holder_node,
        "issued_at": iso(issued_at),
        "valid_from": valid_from.isoformat(),
        "valid_to": valid_to.isoformat() if valid_to else None,
        "related_case": case_number or None,
        "status": {"node": settings.TONGBAN_NODE, "idx": status_index},
        "sd_alg": formats.SD_ALG,
        "_sd": sorted(formats.disclosure_digest(d) for d in disclosures),
    }
    return payload, sign_detached(canonical_json(payload)), disclosures


def _may_issue(user, org: Organization) -> None:
    if user is None:  # a case result, issued by the deciding authority's own action
        return
    if org.code not in access_for(user).decide_orgs:
        raise PermissionDenied(_("您不是该发证机构的审批人员"))


def licence_issue(
    *,
    user,
    type_code: str,
    organization_code: str,
    holder: dict,
    fields: dict,
    valid_from: dt.date | None = None,
    valid_to: dt.date | None = None,
    holder_home_node: str = "",
    case_number: str = "",
    family: str = "",
    version: int = 1,
    serial: str = "",
) -> Licence:
    """Issue (颁发) a licence at this node and send it to the holder's wallet."""
    licence_type = LicenceType.objects.filter(code=type_code, active=True).first()
    if licence_type is None:
        raise DomainError("unknown_licence_type", _("证照类型不存在"))
    org = (
        Organization.objects.select_related("node")
        .filter(code=organization_code, node__node_id=settings.TONGBAN_NODE, active=True)
        .first()
    )
    if org is None:
        raise DomainError("unknown_organization", _("发证机构不存在或不属于本节点"))
    _may_issue(user, org)
    holder_name, holder_id = _holder_clean(licence_type, holder)
    cleaned = _fields_clean(licence_type, fields)
    home_node = _home_node_for(licence_type, holder_id, holder_home_node)
    now = timezone.now()
    today = timezone.localdate(now)
    valid_from, valid_to = _validity_agree(licence_type, cleaned, valid_from, valid_to, today)
    with transaction.atomic():
        serial = serial or _serial_allocate(licence_type.code, org.code, today.year)
        identifier = formats.identifier_build(
            type_code=licence_type.code, issuer_code=org.code, serial=serial, version=version
        )
        status_index = _status_index_allocate()
        payload, signature, disclosures = _sign_licence(
            identifier=identifier,
            licence_type=licence_type,
            org=org,
            version=version,
            holder_name=holder_name,
            holder_id=holder_id,
            fields=cleaned,
            issued_at=now,
            valid_from=valid_from,
            valid_to=valid_to,
            status_index=status_index,
            case_number=case_number,
            holder_node=home_node,
        )
        licence = Licence.objects.create(
            identifier=identifier,
            family=family or _family_of(identifier),
            licence_type=licence_type,
            organization=org,
            serial=serial,
            version=version,
            holder_name=holder_name,
            holder_id_encrypted=encrypt_identifier(holder_id),
            holder_id_index=blind_index(holder_id),
            holder_home_node=home_node,
            issued_on=today,
            valid_from=valid_from,
            valid_to=valid_to,
            status=LicenceStatus.VALID,
            status_index=status_index,
            status_changed_at=now,
            payload=payload,
            signature=signature,
            disclosures_encrypted=encrypt_at_rest(json.dumps(disclosures)),
            case_number=case_number,
            issued_by=(user.display_name or user.username) if user else "",
        )
        _announce_issued(licence, holder_id=holder_id, disclosures=disclosures)
        counter_add(type_code=licence_type.code, event="issue")
    return licence


def _announce_issued(licence: Licence, *, holder_id: str, disclosures: list[str]) -> None:
    body = {
        "licence": {"payload": licence.payload, "signature": licence.signature},
        "disclosures": disclosures,
        "holder": {
            "type": licence.licence_type.holder_type,
            "name": licence.holder_name,
            "id_number": holder_id,
        },
        "status": licence.status,
        "status_changed_at": iso(licence.status_changed_at),
    }
    if licence.holder_home_node == settings.TONGBAN_NODE:
        wallet_receive(body=body, sender=settings.TONGBAN_NODE)
        return
    outbox_enqueue(
        type="licence.issued",
        recipient=licence.holder_home_node,
        correlation=f"licence-{licence.family}",
        subject={"holder_type": licence.licence_type.holder_type},
        purpose={"code": "wallet", "name": "证照归集"},
        body=body,
    )


_STATUS_ACTIONS = {
    "suspend": ({LicenceStatus.VALID}, LicenceStatus.SUSPENDED),
    "reinstate": ({LicenceStatus.SUSPENDED}, LicenceStatus.VALID),
    "revoke": ({LicenceStatus.VALID, LicenceStatus.SUSPENDED}, LicenceStatus.REVOKED),
}


def _lock_own(user, identifier: str) -> Licence:
    licence = (
        Licence.objects.select_for_update()
        .select_related("licence_type", "organization")
        .filter(identifier=identifier)
        .first()
    )
    if licence is None or licence.organization_id not in access_for(user).view_orgs:
        raise NotFound(_("证照不存在"))
    _may_issue(user, licence.organization)
    return licence


def _status_set(licence: Licence, status: str, reason: str, now: dt.datetime) -> None:
    licence.status = status
    licence.status_reason = reason[:200]
    licence.status_changed_at = now
    licence.save(update_fields=["status", "status_reason", "status_changed_at"])
    body = {
        "identifier": licence.identifier,
        "status": status,
        "reason": licence.status_reason,
        "changed_at": iso(now),
    }
    if licence.holder_home_node == settings.TONGBAN_NODE:
        wallet_status_receive(body=body, sender=settings.TONGBAN_NODE)
    else:
        outbox_enqueue(
            type="licence.status",
            recipient=licence.holder_home_node,
            correlation=f"licence-{licence.family}",
            purpose={"code": "wallet", "name": "证照状态"},
            body=body,
        )
    counter_add(type_code=licence.licence_type.code, event=f"status_{status}")


def licence_status_change(*, user, identifier: str, action: str, reason: str = "") -> Licence:
    """暂扣 (suspend), 恢复 (reinstate) or 吊销/注销 (revoke) a licence."""
    if action not in _STATUS_ACTIONS:
        raise DomainError("unknown_action", _("不支持的操作"))
    reason = (reason or "").strip()
    if action != "reinstate" and not reason:
        raise DomainError("reason_required", _("请填写原因"))
    with transaction.atomic():
        licence = _lock_own(user, identifier)
        allowed, target = _STATUS_ACTIONS[action]
        if licence.status not in allowed:
            raise DomainError(
                "invalid_transition",
                _("证照当前状态为“%(status)s”，不能执行该操作")
                % {"status": licence.get_status_display()},
                status=409,
            )
        _status_set(licence, target, reason, timezone.now())
    return licence


def licence_renew(
    *, user, identifier: str, fields: dict | None = None, valid_to: dt.date | None = None
) -> Licence:
    """换发: a new version with the same serial; the old version is superseded."""
    with transaction.atomic():
        old = _lock_own(user, identifier)
        if old.status in (LicenceStatus.REVOKED, LicenceStatus.SUPERSEDED):
            raise DomainError(
                "invalid_transition",
                _("证照当前状态为“%(status)s”，不能换发") % {"status": old.get_status_display()},
                status=409,
            )
        values = licence_values(old)
        # the new version's validity dates come from valid_from/valid_to, not the old face
        dates = _validity_keys(old.licence_type)
        face = {k: v for k, v in values.items() if k not in ("holder_name", "holder_id", *dates)}
        face.update(fields or {})
        new = licence_issue(
            user=user,
            type_code=old.licence_type.code,
            organization_code=old.organization_id,
            holder={"name": values["holder_name"], "id_number": values["holder_id"]},
            fields=face,
            valid_from=timezone.localdate(),
            valid_to=valid_to,
            holder_home_node=old.holder_home_node,
            family=old.family,
            version=old.version + 1,
            serial=old.serial,
        )
        _status_set(old, LicenceStatus.SUPERSEDED, f"换发为第{new.version}版", timezone.now())
    return new


def _validity_keys(licence_type: LicenceType) -> set[str]:
    return {k for k in map(licence_type.validity_field, ("valid_from", "valid_to")) if k}


def licence_disclosures(licence: Licence | WalletEntry) -> list[str]:
    return json.loads(decrypt_at_rest(licence.disclosures_encrypted))


def licence_values(licence: Licence | WalletEntry) -> dict:
    values = {}
    for disclosure in licence_disclosures(licence):
        _salt, key, value = formats.disclosure_open(disclosure)
        values[key] = value
    return values


def licence_holder_id(licence: Licence) -> str:
    return decrypt_identifier(licence.holder_id_encrypted)


# --- status lists ----------------------------------------------------------------


def status_list_publish() -> StatusListPublication:
    """Sign this node's status list as it is now, and use it locally at once."""
    now = timezone.now().replace(microsecond=0)
    rows = Licence.objects.exclude(status=LicenceStatus.VALID).values_list("status_index", "status")
    size = (StatusIndexCounter.objects.filter(pk=1).values_list("last", flat=True).first() or 0) + 1
    lst = formats.status_list_pack({i: formats.STATUS_VALUES[s] for i, s in rows}, max(size, 1))
    body = {
        "format": formats.STATUS_LIST_FORMAT,
        "node": settings.TONGBAN_NODE,
        "bits": formats.STATUS_BITS,
        "lst": lst,
        "size": size,
        "iat": iso(now),
        "exp": iso(now + dt.timedelta(seconds=settings.TONGBAN_STATUS_LIST_TTL_SECONDS)),
        "ttl": settings.TONGBAN_STATUS_LIST_REFRESH_SECONDS,
    }
    wrapper = {"status_list": body, "signature": sign_detached(canonical_json(body))}
    with transaction.atomic():
        last = StatusListPublication.objects.select_for_update().order_by("-serial").first()
        publication = StatusListPublication.objects.create(
            serial=(last.serial + 1) if last else 1,
            document=canonical_json(wrapper).decode(),
            issued_at=now,
            expires_at=now + dt.timedelta(seconds=settings.TONGBAN_STATUS_LIST_TTL_SECONDS),
        )
        old = StatusListPublication.objects.order_by("-serial").values_list("serial", flat=True)[3:]
        StatusListPublication.objects.filter(serial__in=list(old)).delete()
        _status_list_cache_store(settings.TONGBAN_NODE, wrapper, now)
    return publication


def status_list_current() -> StatusListPublication:
    """The list to serve: re-signed after any change, and every half refresh interval,
    so a verifier's copy is never older than about 1.5 refresh intervals."""
    last = StatusListPublication.objects.order_by("-serial").first()
    half = dt.timedelta(seconds=settings.TONGBAN_STATUS_LIST_REFRESH_SECONDS / 2)
    if (
        last is None
        or last.issued_at + half <= timezone.now()
        or Licence.objects.filter(status_changed_at__gte=last.issued_at).exists()
    ):
        return status_list_publish()
    return last


def status_list_verify(wrapper: object, *, node_id: str) -> dict:
    """Check a peer's status list: its shape, its node's key and signature."""
    from tongban.directory.signing import peer_public_key
    from tongban.gm import sm2

    body = formats.signed_part(wrapper, "status_list")  # type: ignore[arg-type]
    signature = wrapper.get("signature") if isinstance(wrapper, dict) else None
    if body.get("format") != formats.STATUS_LIST_FORMAT or body.get("node") != node_id:
        raise formats.FormatError("not this node's status list")
    if body.get("bits") != formats.STATUS_BITS or not isinstance(body.get("lst"), str):
        raise formats.FormatError("unsupported status list")
    if not isinstance(signature, dict):
        raise formats.FormatError("status list is not signed")
    public_key = peer_public_key(node_id, str(signature.get("kid", "")))
    if public_key is None or not sm2.verify_b64(
        public_key, canonical_json(body), str(signature.get("value", ""))
    ):
        raise formats.FormatError("status list signature does not verify")
    try:
        parse_time(body.get("iat")), parse_time(body.get("exp"))
    except ValueError as exc:
        raise formats.FormatError("status list times are malformed") from exc
    formats.status_list_unpack(body["lst"])
    return body


def _status_list_cache_store(node_id: str, wrapper: dict, fetched_at: dt.datetime) -> None:
    body = wrapper["status_list"]
    issued_at = parse_time(body["iat"])
    current = StatusListCache.objects.select_for_update().filter(node_id=node_id).first()
    if current is not None and current.issued_at > issued_at:
        return  # never go back to an older list
    StatusListCache.objects.update_or_create(
        node_id=node_id,
        defaults={
            "document": canonical_json(wrapper).decode(),
            "issued_at": issued_at,
            "expires_at": parse_time(body["exp"]),
            "fetched_at": fetched_at,
            "last_error": "",
        },
    )


def status_list_refresh(*, node_id: str, session: requests.Session | None = None) -> None:
    """Fetch, verify and cache one issuing node's status list."""
    if node_id == settings.TONGBAN_NODE:
        status_list_current()
        return
    node = Node.objects.filter(node_id=node_id, role="node", active=True).first()
    if node is None:
        raise formats.FormatError(f"{node_id} is not in the directory")
    http = session or requests
    try:
        response = http.get(
            f"{node.base_url}/api/v1/licences/status-lists/{node_id}",
            timeout=settings.TONGBAN_EXCHANGE_TIMEOUT_SECONDS,
        )
        response.raise_for_status()
        wrapper = formats.json_strict(
            response.content, what="status list", max_bytes=formats.MAX_STATUS_LIST_DOCUMENT
        )
        status_list_verify(wrapper, node_id=node_id)
    except (requests.RequestException, ValueError) as exc:
        StatusListCache.objects.filter(node_id=node_id).update(
            last_error=str(exc)[:300], last_error_at=timezone.now()
        )
        raise
    with transaction.atomic():
        _status_list_cache_store(node_id, wrapper, timezone.now())


def status_lists_refresh_due(*, session: requests.Session | None = None) -> int:
    """Worker: refresh every issuing node's list whose copy is older than the schedule."""
    due = timezone.now() - dt.timedelta(seconds=settings.TONGBAN_STATUS_LIST_REFRESH_SECONDS)
    fresh = set(
        StatusListCache.objects.filter(fetched_at__gt=due).values_list("node_id", flat=True)
    )
    refreshed = 0
    for node_id in Node.objects.filter(role="node", active=True).values_list("node_id", flat=True):
        if node_id in fresh:
            continue
        try:
            status_list_refresh(node_id=node_id, session=session)
            refreshed += 1
        except Exception as exc:  # noqa: BLE001 — one unreachable peer must not stop the rest
            log.info("status list of %s not refreshed: %s", node_id, exc)
    return refreshed


# --- the wallet (holder's home node) -----------------------------------------------


def wallet_receive(*, body: dict, sender: str) -> WalletEntry:
    """Store (or update) a licence an issuing node sent for one of our holders."""
    from tongban.licences.verification import Verdict, _Stop, licence_check

    licence = body.get("licence")
    disclosures = body.get("disclosures")
    holder = body.get("holder") if isinstance(body.get("holder"), dict) else {}
    result = Verdict(verdict="tampered")
    try:
        payload, values = licence_check(licence, disclosures, result)
    except _Stop as stop:
        raise DomainError("invalid_licence", f"{stop.verdict}: {stop.reason}") from stop
    if result.issuer_node != sender:
        raise DomainError("invalid_licence", "licence issued by another node than the sender")
    if len(values) != len(payload["_sd"]) or values.get("holder_id") != holder.get("id_number"):
        raise DomainError("invalid_licence", "the wallet needs every disclosure of the holder")
    status = body.get("status")
    if status not in LicenceStatus.values:
        raise DomainError("invalid_licence", "unknown status")
    licence_type = LicenceType.objects.get(code=result.type_code)
    entry, _ = WalletEntry.objects.update_or_create(
        identifier=payload["identifier"],
        defaults={
            "family": _family_of(payload["identifier"]),
            "holder_id_index": blind_index(str(values["holder_id"])),
            "holder_type": licence_type.holder_type,
            "type_code": licence_type.code,
            "type_name": licence_type.name,
            "issuer_node": result.issuer_node,
            "issuer_code": result.issuer_code,
            "issuer_name": result.issuer_name,
            "version": int(payload.get("version") or 1),
            "valid_from": dt.date.fromisoformat(payload["valid_from"]),
            "valid_to": dt.date.fromisoformat(payload["valid_to"]) if payload["valid_to"] else None,
            "status": status,
            "status_changed_at": parse_time(body.get("status_changed_at")),
            "payload": payload,
            "signature": licence["signature"],
            "disclosures_encrypted": encrypt_at_rest(json.dumps(disclosures)),
        },
    )
    return entry


def _family_of(identifier: str) -> str:
    """Versions of one licence share type, issuer and serial: the identifier up to the version."""
    from tongban.gm.sm3 import sm3_hex

    return sm3_hex(identifier.rsplit(".", 2)[0].encode())[:32]


def wallet_status_receive(*, body: dict, sender: str) -> None:
    entry = (
        WalletEntry.objects.select_for_update()
        .filter(identifier=str(body.get("identifier")), issuer_node=sender)
        .first()
    )
    if entry is None:
        raise DomainError("unknown_licence", "no such licence in a wallet here")
    if body.get("status") not in LicenceStatus.values:
        raise DomainError("invalid_licence", "unknown status")
    entry.status = body["status"]
    entry.status_changed_at = parse_time(body.get("changed_at"))
    entry.save(update_fields=["status", "status_changed_at"])


def wallet_use_receive(*, body: dict, sender: str) -> None:
    """Holder's history: an issuing node reports that a licence was used for a case."""
    entry = WalletEntry.objects.filter(
        identifier=str(body.get("identifier")), issuer_node=sender
    ).first()
    if entry is None:
        raise DomainError("unknown_licence", "no such licence in a wallet here")
    LicenceUse.objects.get_or_create(
        consent_id=str(body.get("consent_id"))[:36],
        defaults={
            "identifier": entry.identifier,
            "holder_id_index": entry.holder_id_index,
            "type_name": entry.type_name,
            "requester_node": str(body.get("requester_node", ""))[:16],
            "requester_code": str(body.get("requester_code", ""))[:18],
            "requester_name": str(body.get("requester_name", ""))[:128],
            "case_number": str(body.get("case_number", ""))[:64],
            "item_name": str(body.get("item_name", ""))[:128],
            "purpose": str(body.get("purpose", ""))[:32],
            "used_at": parse_time(body.get("used_at")),
        },
    )


# --- 亮证: a presentation for a QR code ---------------------------------------------


def presentation_create(
    *,
    user,
    identifier: str,
    fields: list[str],
    ttl_seconds: int | None = None,
    masked: list[str] | None = None,
) -> dict:
    """Make a QR text that discloses only ``fields``, bound to a nonce, for a short time.

    Identifier fields (the 身份证号, ``LicenceType.identifier_fields``) are disclosed
    only when named in ``fields``. Those named in ``masked`` — by default every one
    not disclosed — travel masked in the binding (``3304**********1236``), signed by
    this node, so a verifier can compare the visible digits with a card."""
    from tongban.licences.selectors import wallet_entry_for

    entry = wallet_entry_for(user, identifier)
    if entry.status != LicenceStatus.VALID:
        raise DomainError(
            "licence_not_valid",
            _("该证照状态为“%(status)s”，不能亮证") % {"status": entry.get_status_display()},
            status=409,
        )
    today = timezone.localdate()
    if (entry.valid_to and entry.valid_to < today) or entry.valid_from > today:
        raise DomainError("licence_expired", _("该证照不在有效期内，不能亮证"), status=409)
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise DomainError("invalid_fields", _("请选择要出示的信息项"))
    wanted = set(fields)
    chosen, known = [], set()
    for disclosure in licence_disclosures(entry):
        _salt, key, _value = formats.disclosure_open(disclosure)
        known.add(key)
        if key in wanted:
            chosen.append(disclosure)
    if wanted - known:
        raise DomainError("invalid_fields", _("所选信息项不属于该证照"))
    licence_type = LicenceType.objects.filter(code=entry.type_code).first()
    identifier_keys = set(licence_type.identifier_fields) if licence_type else set()
    if masked is None:
        masked = sorted((identifier_keys & known) - wanted)
    if not isinstance(masked, list) or not set(masked) <= (identifier_keys & known):
        raise DomainError("invalid_fields", _("只有证件号码类信息项可以部分遮蔽出示"))
    masked_values = {}
    if masked:
        values = licence_values(entry)
        masked_values = {
            k: licence_type.mask_value(k, values[k]) for k in sorted(set(masked) - wanted)
        }
    ttl = ttl_seconds or settings.TONGBAN_PRESENTATION_TTL_SECONDS
    if not 10 <= ttl <= 3600:
        raise DomainError("invalid_ttl", _("亮证码有效时间须在10秒到1小时之间"))
    now = timezone.now()
    licence = {"payload": entry.payload, "signature": entry.signature}
    binding = {
        "holder_node": settings.TONGBAN_NODE,
        "nonce": formats.b64u(secrets.token_bytes(16)),
        "iat": iso(now),
        "exp": iso(now + dt.timedelta(seconds=ttl)),
        "sd_hash": formats.presentation_sd_hash(licence, chosen),
    }
    if masked_values:
        binding["masked"] = masked_values
    document = {
        "format": formats.PRESENTATION_FORMAT,
        "licence": licence,
        "disclosures": chosen,
        "binding": binding,
        "binding_signature": sign_detached(canonical_json(binding)),
    }
    counter_add(type_code=entry.type_code, event="show")
    return {
        "qr_text": formats.qr_encode(document),
        "expires_at": binding["exp"],
        "disclosed": sorted(wanted),
        "masked": sorted(masked_values),
        "identifier": entry.identifier,
    }


def verification_record(*, verdict, channel: str, online: bool = False, user=None) -> None:
    """Count a verification at this node, by result and type; the first of a 亮证 code
    here is a use in the holder's data-use log (``user``: the verifying account, if any)."""
    from tongban.licences.models import VerificationRecord
    from tongban.sharing.data_use import licence_verification_report

    if verdict.nonce and not VerificationRecord.objects.filter(nonce=verdict.nonce).exists():
        licence_verification_report(verdict=verdict, user=user)
    _verification_count(verdict=verdict, channel=channel, online=online)


def _verification_count(*, verdict, channel: str, online: bool) -> None:
    from tongban.licences.models import VerificationRecord

    VerificationRecord.objects.create(
        verdict=verdict.verdict,
        type_code=verdict.type_code[:21],
        issuer_node=verdict.issuer_node[:16],
        nonce=verdict.nonce,
        channel=channel,
        online=online,
    )
    counter_add(type_code=verdict.type_code or "-", event=f"verify_{verdict.verdict}")
