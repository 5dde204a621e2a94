"""核验: decide what a presentation QR code proves, offline.

Offline means: only the cached global configuration (issuer and holder-node
keys, licence types) and the cached status lists of issuing nodes are used.
``online=True`` (the default: 联网查询) first fetches the issuing node's current
status list, and falls back to the cached one, saying so, when it cannot.

The verdicts, most serious first:
``tampered``, ``unknown_issuer``, ``expired_presentation``, ``revoked``,
``superseded``, ``suspended``, ``licence_expired``, ``status_unknown``, ``valid``.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tongban.gm import sm2
from tongban.gm.canonical import canonical_json
from tongban.licences import formats
from tongban.licences.formats import FormatError
from tongban.licences.models import LicenceType, StatusListCache
from tongban.licences.trust_snapshot import trust_snapshot

log = logging.getLogger(__name__)
CLOCK_SKEW = dt.timedelta(minutes=5)

VERDICTS = {
    "valid": _("有效"),
    "status_unknown": _("状态未知（状态列表过旧，请联网核验）"),
    "licence_expired": _("证照已过有效期"),
    "suspended": _("证照已暂扣"),
    "superseded": _("证照已换发新版本，此版本失效"),
    "revoked": _("证照已吊销/注销"),
    "expired_presentation": _("亮证码已过期"),
    "unknown_issuer": _("颁发节点或签名密钥不在目录中"),
    "tampered": _("亮证码被篡改或格式错误"),
}


@dataclass
class Verdict:
    verdict: str
    reason: str = ""
    type_code: str = ""
    type_name: str = ""
    identifier: str = ""
    issuer_node: str = ""
    issuer_code: str = ""
    issuer_name: str = ""
    holder_node: str = ""
    valid_from: str = ""
    valid_to: str | None = None
    disclosed: list[dict] = field(default_factory=list)  # [{"key", "label", "value"}]
    presentation_expires_at: str = ""
    nonce: str = ""
    status_checked_at: str = ""
    status_source: str = ""  # "cache" / "online" / "issuer" / ""
    status_age_seconds: int | None = None  # how old the status was when verified
    online_failed: bool = False  # asked online, the issuer did not answer: cache used
    licence_type: LicenceType | None = None

    @property
    def ok(self) -> bool:
        return self.verdict == "valid"

    @property
    def label(self) -> str:
        return str(VERDICTS[self.verdict])

    def as_dict(self) -> dict:
        return {
            "verdict": self.verdict,
            "label": self.label,
            "reason": self.reason,
            "licence": {
                "identifier": self.identifier,
                "type": {"code": self.type_code, "name": self.type_name},
                "issuer": {
                    "node": self.issuer_node,
                    "code": self.issuer_code,
                    "name": self.issuer_name,
                },
                "valid_from": self.valid_from,
                "valid_to": self.valid_to,
            },
            "disclosed": self.disclosed,
            "holder_node": self.holder_node,
            "presentation_expires_at": self.presentation_expires_at,
            "status": {
                "checked_at": self.status_checked_at,
                "source": self.status_source,
                "age_seconds": self.status_age_seconds,
                "online_failed": self.online_failed,
            },
        }


class _Stop(Exception):
    def __init__(self, verdict: str, reason: str):
        self.verdict = verdict
        self.reason = reason


def _time(value: object) -> dt.datetime:
    if not isinstance(value, str):
        raise _Stop("tampered", "time field missing")
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise _Stop("tampered", "time field malformed") from exc
    if parsed.tzinfo is None:
        raise _Stop("tampered", "time without zone")
    return parsed


def _date(value: object) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise _Stop("tampered", "date field malformed") from exc


def _check_signature(node_id: object, signature: object, data: dict, *, at: dt.datetime) -> None:
    if not isinstance(node_id, str) or not isinstance(signature, dict):
        raise _Stop("tampered", "signature missing")
    trust = trust_snapshot()
    if node_id not in trust.nodes:
        raise _Stop("unknown_issuer", f"node {node_id} is not in the directory")
    kid = signature.get("kid")
    public_key = trust.public_key(node_id, kid, at=at) if isinstance(kid, str) else None
    if public_key is None:
        raise _Stop("unknown_issuer", f"key {kid!r} is not a listed key of {node_id}")
    value = signature.get("value")
    if signature.get("alg") != sm2.ALGORITHM or not isinstance(value, str):
        raise _Stop("tampered", "unsupported signature")
    if not sm2.verify_b64(public_key, canonical_json(data), value):
        raise _Stop("tampered", "signature does not verify")


def licence_check(licence: object, disclosures: object, result: Verdict) -> tuple[dict, dict]:
    """Issuer signature, identifier and disclosures of a licence; returns
    (payload, {key: value of each disclosure})."""
    try:
        payload = formats.signed_part(licence, "payload")  # type: ignore[arg-type]
    except FormatError as exc:
        raise _Stop("tampered", str(exc)) from exc
    if payload.get("format") != formats.LICENCE_FORMAT:
        raise _Stop("tampered", "unknown licence format")
    try:
        ident = formats.identifier_parse(payload.get("identifier"))
    except FormatError as exc:
        raise _Stop("tampered", str(exc)) from exc
    issuer = payload.get("issuer") if isinstance(payload.get("issuer"), dict) else {}
    type_ = payload.get("type") if isinstance(payload.get("type"), dict) else {}
    result.identifier = payload["identifier"]
    result.type_code = str(type_.get("code", ""))
    result.issuer_node = str(issuer.get("node", ""))
    result.issuer_code = str(issuer.get("code", ""))
    result.issuer_name = str(issuer.get("name", ""))
    if ident.type_code != result.type_code or ident.issuer_code != result.issuer_code:
        raise _Stop("tampered", "identifier does not match the licence's type or issuer")
    if payload.get("version") != ident.version:
        raise _Stop("tampered", "identifier does not match the licence's version")
    status_ref = payload.get("status")
    if not isinstance(status_ref, dict) or status_ref.get("node") != result.issuer_node:
        raise _Stop("tampered", "the status entry is not the issuer's")
    issued_at = _time(payload.get("issued_at"))
    _check_signature(result.issuer_node, licence.get("signature"), payload, at=issued_at)  # type: ignore[union-attr]
    trust = trust_snapshot()
    licence_type = trust.licence_types.get(result.type_code)
    if licence_type is None:
        raise _Stop("unknown_issuer", f"licence type {result.type_code} is not in the registry")
    if trust.organization_nodes.get(result.issuer_code) != result.issuer_node:
        raise _Stop("unknown_issuer", "issuing organization is not one of the issuing node's")
    result.type_name = licence_type.name
    result.licence_type = licence_type
    result.valid_from = str(payload.get("valid_from", ""))
    result.valid_to = payload.get("valid_to")

    digests = payload.get("_sd")
    if not isinstance(digests, list) or payload.get("sd_alg") != formats.SD_ALG:
        raise _Stop("tampered", "licence has no digest list")
    if not isinstance(disclosures, list) or len(disclosures) > 64:
        raise _Stop("tampered", "disclosures must be a list")
    labels = licence_type.claim_labels()
    values: dict[str, object] = {}
    for disclosure in disclosures:
        try:
            _salt, key, value = formats.disclosure_open(disclosure)
        except FormatError as exc:
            raise _Stop("tampered", str(exc)) from exc
        if formats.disclosure_digest(disclosure) not in digests:
            raise _Stop("tampered", f"disclosure of {key!r} does not match any signed digest")
        if key in values:
            raise _Stop("tampered", f"{key!r} disclosed twice")
        values[key] = value
        result.disclosed.append(
            {"key": key, "label": labels.get(key, key), "value": value, "masked": False}
        )
    order = ["holder_name", "holder_id"] + [f["key"] for f in licence_type.fields]
    result.disclosed.sort(key=lambda d: order.index(d["key"]) if d["key"] in order else 99)
    return payload, values


@functools.lru_cache(maxsize=16)
def _status_bytes(document: str) -> bytes:
    """A cached list's statuses, inflated once per list (lists change every few minutes)."""
    return formats.status_list_unpack(json.loads(document)["status_list"]["lst"])


def status_of(
    issuer_node: str, index: object, licence_type: LicenceType, *, now: dt.datetime
) -> tuple[str | None, StatusListCache | None]:
    """The licence's status from the cached list, or None if unknown/too stale.

    At the issuing node itself the licence register is authoritative."""
    if issuer_node == settings.TONGBAN_NODE:
        from tongban.licences.models import Licence

        status = (
            Licence.objects.filter(status_index=index).values_list("status", flat=True).first()
            if isinstance(index, int)
            else None
        )
        return status, None
    cached = StatusListCache.objects.filter(node_id=issuer_node).first()
    if cached is None or not isinstance(index, int):
        return None, cached
    age = (now - cached.issued_at).total_seconds()
    if age > licence_type.status_max_age_seconds or cached.expires_at <= now:
        return None, cached
    value = formats.status_list_value(_status_bytes(cached.document), index)
    return (formats.STATUS_NAMES.get(value) if value is not None else None), cached


ONLINE_REUSE_SECONDS = 2  # a list fetched this recently counts as fetched now (a burst of scans)
ONLINE_RETRY_SECONDS = 30  # after a failed fetch, use the cache this long without asking


def status_list_fetch_online(issuer_node: str, *, session=None) -> bool:
    """联网查询: fetch the issuing node's current status list now (a copy fetched in
    the last few seconds counts as fetched). False when it could not be had; the
    caller falls back to the cached list and says so. At the issuer, True."""
    if issuer_node == settings.TONGBAN_NODE:
        return True
    now = timezone.now()
    cached = StatusListCache.objects.filter(node_id=issuer_node).first()
    if cached is not None:
        if cached.fetched_at >= now - dt.timedelta(seconds=ONLINE_REUSE_SECONDS):
            return True
        if cached.last_error_at and cached.last_error_at >= now - dt.timedelta(
            seconds=ONLINE_RETRY_SECONDS
        ):
            return False  # the issuer just failed to answer: do not wait on it again
    from tongban.licences.services import status_list_refresh

    try:
        status_list_refresh(node_id=issuer_node, session=session)
    except Exception as exc:  # noqa: BLE001 — the cached answer still stands
        log.warning("online status check of %s failed: %s", issuer_node, exc)
        return False
    return True


def _masked_check(masked: object, result: Verdict, disclosed: dict) -> None:
    """The holder's node may state identifier fields masked (ADR 0009): only those of
    the type, not disclosed in full, with at least one hidden character."""
    if not isinstance(masked, dict) or len(masked) > 8:
        raise _Stop("tampered", "masked fields malformed")
    licence_type = result.licence_type
    allowed = set(licence_type.identifier_fields) if licence_type else set()
    labels = licence_type.claim_labels() if licence_type else {}
    for key, value in masked.items():
        if key not in allowed or key in disclosed:
            raise _Stop("tampered", f"{key!r} cannot be shown masked")
        if not isinstance(value, str) or not 0 < len(value) <= 64 or "*" not in value:
            raise _Stop("tampered", f"masked {key!r} malformed")
        result.disclosed.append(
            {"key": key, "label": labels.get(key, key), "value": value, "masked": True}
        )
    order = ["holder_name", "holder_id"] + [f["key"] for f in licence_type.fields]
    result.disclosed.sort(key=lambda d: order.index(d["key"]) if d["key"] in order else 99)


def presentation_verify(
    text: str, *, now: dt.datetime | None = None, online: bool = True, session=None
) -> Verdict:
    """Verify a 亮证 QR text; never raises for bad input."""
    now = now or timezone.now()
    result = Verdict(verdict="tampered")
    try:
        _verify(text, result, now=now, online=online, session=session)
    except _Stop as stop:
        result.verdict, result.reason = stop.verdict, stop.reason
        if stop.verdict in ("tampered", "unknown_issuer"):
            result.disclosed = []  # nothing from an unverified code is shown as fact
    except Exception:  # a verifier must answer, whatever arrives
        log.exception("verification failed unexpectedly")
        result.verdict, result.reason, result.disclosed = "tampered", "unreadable", []
    return result


def _verify(text: str, result: Verdict, *, now: dt.datetime, online: bool, session) -> None:
    try:
        document = formats.qr_decode(text)
    except FormatError as exc:
        raise _Stop("tampered", str(exc)) from exc
    if document.get("format") != formats.PRESENTATION_FORMAT:
        raise _Stop("tampered", "not a presentation")
    licence = document.get("licence")
    disclosures = document.get("disclosures")
    payload, _values = licence_check(licence, disclosures, result)

    try:
        binding = formats.signed_part(document, "binding")
    except FormatError as exc:
        raise _Stop("tampered", str(exc)) from exc
    result.holder_node = str(binding.get("holder_node", ""))
    result.nonce = str(binding.get("nonce", ""))[:32]
    issued_at, expires_at = _time(binding.get("iat")), _time(binding.get("exp"))
    if result.holder_node != payload.get("holder_node"):
        raise _Stop("tampered", "presentation not made by the holder's home node")
    _check_signature(result.holder_node, document.get("binding_signature"), binding, at=issued_at)
    if binding.get("sd_hash") != formats.presentation_sd_hash(licence, disclosures):
        raise _Stop("tampered", "presentation was not made for these disclosures")
    if not result.nonce or len(result.nonce) < 16:
        raise _Stop("tampered", "presentation has no nonce")
    _masked_check(binding.get("masked", {}), result, _values)
    result.presentation_expires_at = binding["exp"]
    if issued_at > now + CLOCK_SKEW:
        raise _Stop("tampered", "presentation made in the future")
    if expires_at <= now:
        raise _Stop("expired_presentation", "presentation has expired")

    licence_type = result.licence_type
    status_ref = payload.get("status") if isinstance(payload.get("status"), dict) else {}
    fetched = online and status_list_fetch_online(result.issuer_node, session=session)
    result.online_failed = online and not fetched
    status, cached = status_of(result.issuer_node, status_ref.get("idx"), licence_type, now=now)
    if cached is not None:
        result.status_checked_at = cached.issued_at.isoformat()
        result.status_source = "online" if fetched else "cache"
        result.status_age_seconds = max(0, int((now - cached.issued_at).total_seconds()))
    elif result.issuer_node == settings.TONGBAN_NODE:
        result.status_checked_at = now.isoformat()
        result.status_source = "issuer"  # the issuing node's own register, at this moment
        result.status_age_seconds = 0
    if status in ("revoked", "superseded", "suspended"):
        raise _Stop(status, f"status list of {result.issuer_node} says {status}")
    today = timezone.localdate(now)
    valid_from, valid_to = _date(payload.get("valid_from")), _date(payload.get("valid_to"))
    if (valid_to is not None and valid_to < today) or (valid_from and valid_from > today):
        raise _Stop("licence_expired", "outside the licence's validity period")
    if status is None:
        raise _Stop("status_unknown", "no status list young enough for this licence type")
    result.verdict = "valid"
