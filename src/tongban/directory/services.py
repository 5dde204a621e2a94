"""Directory writes: hub registrations, configuration publishing and, on nodes,
verifying and applying the hub's signed global configuration."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from stdnum.cn import uscc

from tongban.directory.models import (
    CachedConfiguration,
    ConfigurationPoll,
    ConfigurationPublication,
    Node,
    NodeKey,
    Organization,
    TrustAnchor,
    Window,
)
from tongban.directory.signing import sign_detached
from tongban.gm import sm2
from tongban.gm.canonical import canonical_json
from tongban.gm.strict_json import StrictJSONError, loads_strict

log = logging.getLogger(__name__)

CONFIGURATION_FORMAT = "tongban-global-configuration/1"
DATA_DIR = Path(__file__).resolve().parent / "data"


class ConfigurationError(ValueError):
    """A global configuration that must not be used (bad signature, stale, malformed)."""


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if value else None


def _parse(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


# --- hub: registrations -------------------------------------------------------


@transaction.atomic
def node_register(
    *,
    node_id: str,
    name: str,
    base_url: str,
    app_name: str = "",
    region: str = "",
    role: str = "node",
) -> Node:
    node, _ = Node.objects.update_or_create(
        node_id=node_id,
        defaults={
            "name": name,
            "base_url": base_url.rstrip("/"),
            "app_name": app_name,
            "region": region,
            "role": role,
            "active": True,
        },
    )
    return node


@transaction.atomic
def node_key_add(
    *,
    node_id: str,
    kid: str,
    public_key: str,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> NodeKey:
    sm2.load_public_key(public_key)  # raises KeyFormatError on garbage
    node = Node.objects.get(node_id=node_id)
    key = NodeKey.objects.filter(kid=kid).first()
    if key is not None:
        if key.node_id != node.pk or key.public_key != public_key:
            raise ValueError(f"key id {kid} is already listed with another key or node")
        # listing a known key again keeps its validity start: older envelopes still verify
        if not_after is not None:
            key.not_after = not_after
            key.save(update_fields=["not_after"])
        return key
    return NodeKey.objects.create(
        node=node,
        kid=kid,
        public_key=public_key,
        not_before=not_before or timezone.now() - dt.timedelta(minutes=5),
        not_after=not_after,
    )


@transaction.atomic
def node_oidc_set(*, node_id: str, issuer: str, jwks: dict) -> Node:
    """List a node's OpenID Connect issuer and public signing keys (for single sign-on)."""
    from joserfc.jwk import KeySet

    KeySet.import_key_set(jwks)  # raises on garbage
    node = Node.objects.get(node_id=node_id)
    node.oidc_issuer, node.oidc_jwks = issuer, jwks
    node.save(update_fields=["oidc_issuer", "oidc_jwks", "updated_at"])
    return node


@transaction.atomic
def node_key_revoke(*, kid: str) -> None:
    from tongban.licences.trust_snapshot import trust_snapshot_clear

    NodeKey.objects.filter(kid=kid).update(revoked=True)
    transaction.on_commit(trust_snapshot_clear)


@transaction.atomic
def organization_upsert(
    *,
    code: str,
    name: str,
    region: str,
    node_id: str,
    short_name: str = "",
    kind: str = "",
    sample: bool = False,
) -> Organization:
    if not uscc.is_valid(code):
        raise ValueError(f"统一社会信用代码无效: {code}")
    org, _ = Organization.objects.update_or_create(
        code=code,
        defaults={
            "name": name,
            "region": region,
            "node": Node.objects.get(node_id=node_id),
            "short_name": short_name,
            "kind": kind,
            "sample": sample,
            "active": True,
        },
    )
    return org


@transaction.atomic
def window_upsert(
    *,
    code: str,
    name: str,
    node_id: str,
    region: str,
    organization_code: str,
    address: str = "",
    sample: bool = False,
) -> Window:
    window, _ = Window.objects.update_or_create(
        code=code,
        defaults={
            "name": name,
            "node": Node.objects.get(node_id=node_id),
            "region": region,
            "organization": Organization.objects.get(code=organization_code),
            "address": address,
            "sample": sample,
            "active": True,
        },
    )
    return window


@transaction.atomic
def directory_load_seed() -> tuple[int, int]:
    """Load the shipped organizations and windows (sample data) into the hub."""
    orgs = json.loads((DATA_DIR / "organizations.json").read_text(encoding="utf-8"))
    windows = json.loads((DATA_DIR / "windows.json").read_text(encoding="utf-8"))
    for o in orgs:
        organization_upsert(
            code=o["code"],
            name=o["name"],
            region=o["region"],
            node_id=o["node"],
            short_name=o.get("short_name", ""),
            kind=o.get("kind", ""),
            sample=o.get("sample", False),
        )
    for w in windows:
        window_upsert(
            code=w["code"],
            name=w["name"],
            node_id=w["node"],
            region=w["region"],
            organization_code=w["organization"],
            address=w.get("address", ""),
            sample=w.get("sample", False),
        )
    return len(orgs), len(windows)


# --- hub: the signed global configuration --------------------------------------


def configuration_document(*, serial: int, issued_at: dt.datetime, expires_at: dt.datetime) -> dict:
    from tongban.catalog.models import Release
    from tongban.licences.services import licence_types_document
    from tongban.sharing.services import sharing_catalog_document

    nodes = []
    for node in Node.objects.prefetch_related("keys").order_by("node_id"):
        nodes.append(
            {
                "node_id": node.node_id,
                "role": node.role,
                "name": node.name,
                "app_name": node.app_name,
                "region": node.region,
                "base_url": node.base_url,
                "oidc_issuer": node.oidc_issuer,
                "oidc_jwks": node.oidc_jwks,
                "active": node.active,
                "keys": [
                    {
                        "kid": k.kid,
                        "public_key": k.public_key,
                        "not_before": _iso(k.not_before),
                        "not_after": _iso(k.not_after),
                    }
                    for k in node.keys.all()
                    if not k.revoked
                ],
            }
        )
    release = Release.objects.filter(current=True).first()
    return {
        "format": CONFIGURATION_FORMAT,
        "serial": serial,
        "issued_at": _iso(issued_at),
        "expires_at": _iso(expires_at),
        "nodes": nodes,
        "organizations": [
            {
                "code": o.code,
                "name": o.name,
                "short_name": o.short_name,
                "region": o.region,
                "node": o.node.node_id,
                "kind": o.kind,
                "sample": o.sample,
                "active": o.active,
            }
            for o in Organization.objects.select_related("node").order_by("code")
        ],
        "windows": [
            {
                "code": w.code,
                "name": w.name,
                "node": w.node.node_id,
                "region": w.region,
                "organization": w.organization.code,
                "address": w.address,
                "sample": w.sample,
                "active": w.active,
            }
            for w in Window.objects.select_related("node", "organization").order_by("code")
        ],
        "licence_types": licence_types_document(),
        # 政务数据共享清单目录 (docs/data-sharing.md); None while the hub has none
        "sharing": sharing_catalog_document(),
        "catalog": (
            {
                "release": release.version,
                "sm3": release.sm3,
                "path": f"/api/v1/catalog/releases/{release.version}",
            }
            if release
            else None
        ),
    }


@transaction.atomic
def configuration_publish() -> ConfigurationPublication:
    last = ConfigurationPublication.objects.select_for_update().order_by("-serial").first()
    serial = last.serial + 1 if last else 1
    issued_at = timezone.now().replace(microsecond=0)
    expires_at = issued_at + dt.timedelta(seconds=settings.TONGBAN_CONFIG_VALIDITY_SECONDS)
    document = configuration_document(serial=serial, issued_at=issued_at, expires_at=expires_at)
    wrapper = {"configuration": document, "signature": sign_detached(canonical_json(document))}
    return ConfigurationPublication.objects.create(
        serial=serial,
        document=canonical_json(wrapper).decode(),
        issued_at=issued_at,
        expires_at=expires_at,
    )


def configuration_refresh_if_due() -> ConfigurationPublication | None:
    """Hub worker: re-sign before half of the validity has passed."""
    last = ConfigurationPublication.objects.order_by("-serial").first()
    half = dt.timedelta(seconds=settings.TONGBAN_CONFIG_VALIDITY_SECONDS / 2)
    if last is None or last.expires_at - timezone.now() < half:
        return configuration_publish()
    return None


# --- node: trust and verification ---------------------------------------------


@transaction.atomic
def trust_anchor_install(*, kid: str, public_key: str) -> TrustAnchor:
    sm2.load_public_key(public_key)
    anchor, _ = TrustAnchor.objects.update_or_create(kid=kid, defaults={"public_key": public_key})
    return anchor


def _hub_keys() -> dict[str, str]:
    keys = {a.kid: a.public_key for a in TrustAnchor.objects.all()}
    current = CachedConfiguration.objects.order_by("-serial").first()
    if current is not None:
        document = json.loads(current.document)["configuration"]
        for node in document["nodes"]:
            if node["role"] == "hub":
                keys.update({k["kid"]: k["public_key"] for k in node["keys"]})
    return keys


MAX_CONFIGURATION_BYTES = 8 * 1024 * 1024


def configuration_parse(content: bytes) -> object:
    """The hub's answer as I-JSON (RFC 7493); ConfigurationError otherwise.

    A text that two parsers read differently (duplicate member names, lone
    surrogates, integers beyond 2^53 - 1) is refused before its signature is
    checked: the signature covers only what *this* parser understood."""
    try:
        return loads_strict(content, max_bytes=MAX_CONFIGURATION_BYTES)
    except StrictJSONError as exc:
        raise ConfigurationError(f"configuration is not I-JSON ({exc.reason})") from exc


def configuration_verify(wrapper: object) -> dict:
    """Check the hub signature, format and expiry; return the configuration."""
    document = wrapper.get("configuration") if isinstance(wrapper, dict) else None
    signature = wrapper.get("signature") if isinstance(wrapper, dict) else None
    if not isinstance(document, dict) or not isinstance(signature, dict):
        raise ConfigurationError("malformed configuration")
    kid, value = signature.get("kid"), signature.get("value")
    if not isinstance(kid, str) or not isinstance(value, str):
        raise ConfigurationError("malformed configuration")
    public_key = _hub_keys().get(kid)
    if public_key is None:
        raise ConfigurationError(f"configuration signed by unknown hub key {kid}")
    if not sm2.verify_b64(public_key, canonical_json(document), value):
        raise ConfigurationError("configuration signature does not verify")
    if document.get("format") != CONFIGURATION_FORMAT:
        raise ConfigurationError("unknown configuration format")
    try:
        expires_at = _parse(document.get("expires_at"))
    except (AttributeError, ValueError) as exc:
        raise ConfigurationError("malformed configuration expiry") from exc
    if expires_at is None or expires_at.tzinfo is None:
        raise ConfigurationError("malformed configuration expiry")
    if expires_at <= timezone.now():
        raise ConfigurationError("configuration has expired")
    return document


@transaction.atomic
def configuration_apply(*, wrapper: dict) -> CachedConfiguration | None:
    """Verify and mirror a configuration; returns None if it is not newer."""
    document = configuration_verify(wrapper)
    current = CachedConfiguration.objects.select_for_update().order_by("-serial").first()
    if current is not None and document["serial"] <= current.serial:
        return None

    seen_nodes = []
    for n in document["nodes"]:
        node, _ = Node.objects.update_or_create(
            node_id=n["node_id"],
            defaults={
                "role": n["role"],
                "name": n["name"],
                "app_name": n["app_name"],
                "region": n["region"],
                "base_url": n["base_url"],
                "oidc_issuer": n.get("oidc_issuer", ""),
                "oidc_jwks": n.get("oidc_jwks") or {},
                "active": n["active"],
            },
        )
        seen_nodes.append(node.node_id)
        kids = []
        for k in n["keys"]:
            NodeKey.objects.update_or_create(
                kid=k["kid"],
                defaults={
                    "node": node,
                    "public_key": k["public_key"],
                    "not_before": _parse(k["not_before"]),
                    "not_after": _parse(k["not_after"]),
                    "revoked": False,
                },
            )
            kids.append(k["kid"])
        NodeKey.objects.filter(node=node).exclude(kid__in=kids).update(revoked=True)
    Node.objects.exclude(node_id__in=seen_nodes).update(active=False)

    nodes = {n.node_id: n for n in Node.objects.all()}
    seen_orgs = []
    for o in document["organizations"]:
        Organization.objects.update_or_create(
            code=o["code"],
            defaults={
                "name": o["name"],
                "short_name": o["short_name"],
                "region": o["region"],
                "node": nodes[o["node"]],
                "kind": o["kind"],
                "sample": o["sample"],
                "active": o["active"],
            },
        )
        seen_orgs.append(o["code"])
    Organization.objects.exclude(code__in=seen_orgs).update(active=False)

    orgs = {o.code: o for o in Organization.objects.all()}
    seen_windows = []
    for w in document["windows"]:
        Window.objects.update_or_create(
            code=w["code"],
            defaults={
                "name": w["name"],
                "node": nodes[w["node"]],
                "region": w["region"],
                "organization": orgs[w["organization"]],
                "address": w["address"],
                "sample": w["sample"],
                "active": w["active"],
            },
        )
        seen_windows.append(w["code"])
    Window.objects.exclude(code__in=seen_windows).update(active=False)

    from tongban.licences.services import licence_types_apply

    licence_types_apply(document.get("licence_types") or [])

    from tongban.sharing.services import sharing_catalog_apply

    sharing_catalog_apply(document.get("sharing"))

    cached = CachedConfiguration.objects.create(
        serial=document["serial"],
        document=canonical_json(wrapper).decode(),
        issued_at=_parse(document["issued_at"]),
        expires_at=_parse(document["expires_at"]),
    )
    stale = CachedConfiguration.objects.order_by("-serial").values_list("serial", flat=True)[5:]
    CachedConfiguration.objects.filter(serial__in=list(stale)).delete()
    from tongban.identity.oidc_provider import federation_clients_sync
    from tongban.licences.trust_snapshot import trust_snapshot_clear

    federation_clients_sync()  # the other nodes, as relying parties of this one
    transaction.on_commit(trust_snapshot_clear)  # revocations above were bulk updates
    return cached


def configuration_poll(*, session: requests.Session | None = None) -> CachedConfiguration | None:
    """Node: fetch the hub's configuration, apply it, then sync the catalog."""
    from tongban.catalog.services import catalog_sync

    http = session or requests
    poll, _ = ConfigurationPoll.objects.get_or_create(pk=1)
    poll.last_attempt_at = timezone.now()
    try:
        response = http.get(
            f"{settings.TONGBAN_HUB_URL}/api/v1/global-configuration",
            timeout=settings.TONGBAN_EXCHANGE_TIMEOUT_SECONDS,
        )
        response.raise_for_status()
        applied = configuration_apply(wrapper=configuration_parse(response.content))
        catalog_sync(session=session)
    except (requests.RequestException, ValueError, ConfigurationError) as exc:
        poll.last_error = str(exc)[:300]
        poll.save()
        log.warning("global configuration poll failed: %s", exc)
        raise
    poll.last_success_at = timezone.now()
    poll.last_error = ""
    poll.save()
    if applied is not None:
        log.info("applied global configuration serial %s", applied.serial)
    return applied


def current_configuration() -> dict | None:
    """The configuration this deployment works with (hub: latest publication)."""
    model = ConfigurationPublication if settings.TONGBAN_ROLE == "hub" else CachedConfiguration
    row = model.objects.order_by("-serial").first()
    return json.loads(row.document)["configuration"] if row else None
