"""本人授权同意: the person's consent to one data query, for authorizations with
``consent_required: true`` (docs/data-sharing.md §5.3, exchange protocol §10.10).

Modelled on the 用证 consent (``tongban.licences.sharing``): the node where the person
consented — their home node online, the window's node at a window — signs a
``tongban-data-consent/1`` document bound to the case number, the dataset, the fields,
the purpose, the requesting (handling) node and organization and the subject. The
handling node attaches it to its ``data.query``; the source node checks it
(``data_consent_check``): a current key of the granting node, the binding, not expired,
not used before."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from uuid6 import uuid7

from tongban.directory.signing import peer_public_key, sign_detached
from tongban.errors import DomainError
from tongban.exchange.envelopes import iso, parse_time
from tongban.exchange.handlers import HandlerRefusal
from tongban.gm import sm2
from tongban.gm.canonical import CanonicalizationError, canonical_json
from tongban.sharing.providers import subject_key

CONSENT_FORMAT = "tongban-data-consent/1"
CHANNELS = ("online", "window")


def data_consent_sign(
    *,
    case_number: str,
    dataset: str,
    fields: list[str],
    purpose: str,
    item: dict,
    requester: dict,
    subject: dict,
    channel: str,
    window: dict | None = None,
    officer: str = "",
) -> dict:
    """The consent this node vouches for: ``subject`` lets ``requester`` (``{"node",
    "organization", "organization_name"}``) read ``fields`` of ``dataset`` for ``purpose``
    in case ``case_number``, once, before it expires."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown consent channel {channel!r}")
    now = timezone.now()
    document = {
        "format": CONSENT_FORMAT,
        "id": str(uuid7()),
        "case": case_number,
        "item": {"code": str(item.get("code", "")), "name": str(item.get("name", ""))},
        "dataset": dataset,
        "fields": list(fields),
        "purpose": purpose,
        "requester": {
            "node": str(requester.get("node", "")),
            "organization": str(requester.get("organization", "")),
            "organization_name": str(requester.get("organization_name", "")),
        },
        "subject": {"id_type": str(subject["id_type"]), "id_number": str(subject["id_number"])},
        "granted_by": {
            "node": settings.TONGBAN_NODE,
            "channel": channel,
            "window": window if channel == "window" else None,
            "officer": officer if channel == "window" else "",
        },
        "granted_at": iso(now),
        "expires_at": iso(now + dt.timedelta(days=settings.TONGBAN_CONSENT_VALIDITY_DAYS)),
    }
    return {"document": document, "signature": sign_detached(canonical_json(document))}


def _refuse(reason: str) -> HandlerRefusal:
    return HandlerRefusal(f"consent: {reason}", code="consent_invalid")


def _object(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def data_consent_check(
    consent: object,
    *,
    requester_node: str,
    organization: str,
    dataset: str,
    fields: list[str],
    purpose: str,
    case_number: str,
    subject: dict,
) -> dict:
    """The consent's document if it was signed by a current key of the granting node and
    binds exactly this query; HandlerRefusal ``consent_invalid`` otherwise. Whether it
    was used before is the caller's to check (by ``document["id"]``)."""
    if not isinstance(consent, dict):
        raise _refuse("no consent")
    document, signature = consent.get("document"), _object(consent.get("signature"))
    if not isinstance(document, dict):
        raise _refuse("missing document")
    try:
        signed = canonical_json(document)
    except CanonicalizationError as exc:
        raise _refuse(str(exc)) from exc
    granted_by = _object(document.get("granted_by"))
    node_id = granted_by.get("node")
    public_key = (
        peer_public_key(node_id, str(signature.get("kid", "")))
        if isinstance(node_id, str)
        else None
    )
    if public_key is None or not sm2.verify_b64(
        public_key, signed, str(signature.get("value", ""))
    ):
        raise _refuse("signature does not verify with a current key of the granting node")
    try:
        expires_at = parse_time(document.get("expires_at"))
    except ValueError as exc:
        raise _refuse("no expiry") from exc
    requester = _object(document.get("requester"))
    try:
        same_subject = subject_key(_object(document.get("subject"))) == subject_key(subject)
    except ValueError:
        same_subject = False
    consented = document.get("fields") if isinstance(document.get("fields"), list) else []
    problems = [
        (document.get("format") != CONSENT_FORMAT, "unknown format"),
        (not isinstance(document.get("id"), str) or not document.get("id"), "no id"),
        (document.get("case") != case_number, "for another case"),
        (document.get("dataset") != dataset, "for another dataset"),
        (not set(fields) <= set(consented), "does not cover the fields asked"),
        (document.get("purpose") != purpose, "for another purpose"),
        (requester.get("node") != requester_node, "names another requesting node"),
        (requester.get("organization") != organization, "names another organization"),
        (not same_subject, "given by another person"),
        (expires_at <= timezone.now(), "expired"),
        (granted_by.get("channel") not in CHANNELS, "unknown channel"),
    ]
    for failed, reason in problems:
        if failed:
            raise _refuse(reason)
    if granted_by.get("channel") == "window":
        from tongban.directory.models import Window

        window = _object(granted_by.get("window"))
        if not Window.objects.filter(
            code=str(window.get("code", "")), node__node_id=node_id, active=True
        ).exists():
            raise _refuse("a window consent must name one of the signing node's windows")
    return document


def data_consents_clean(raw: object) -> list[dict]:
    """``case.data_consents`` of a case.submit body: a list of signed consents (checked
    by shape here; their signature and binding are checked by the source node)."""
    if raw in (None, ""):
        return []
    if not isinstance(raw, list) or len(raw) > 20:
        raise DomainError("invalid_data_consents", _("数据使用授权格式不正确"))
    cleaned = []
    for consent in raw:
        document = _object(_object(consent).get("document"))
        if document.get("format") != CONSENT_FORMAT or not isinstance(
            _object(consent).get("signature"), dict
        ):
            raise DomainError("invalid_data_consents", _("数据使用授权格式不正确"))
        cleaned.append(consent)
    return cleaned
