"""/api/v1/health and the hub's signed global configuration."""

from __future__ import annotations

import json

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from ninja import Router, Schema

import tongban
from tongban.api_errors import ErrorOut, errors
from tongban.directory.models import CachedConfiguration, ConfigurationPublication

router = Router(tags=["directory"])


class HealthOut(Schema):
    node: str
    role: str
    version: str
    status: str
    database: str
    configuration_serial: int | None
    configuration_expires_at: str | None


@router.get("/health", response=HealthOut, summary="节点健康状态")
def health(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        database = "ok"
    except Exception:  # noqa: BLE001 — reported, not raised
        database = "unavailable"
    model = ConfigurationPublication if settings.TONGBAN_ROLE == "hub" else CachedConfiguration
    config = (
        model.objects.order_by("-serial").only("serial", "expires_at").first()
        if database == "ok"
        else None
    )
    status = "ok"
    if database != "ok":
        status = "degraded"
    elif config is None:
        status = "unconfigured"
    elif config.expires_at <= timezone.now():
        status = "configuration_expired"
    return {
        "node": settings.TONGBAN_NODE,
        "role": settings.TONGBAN_ROLE,
        "version": tongban.__version__,
        "status": status,
        "database": database,
        "configuration_serial": config.serial if config else None,
        "configuration_expires_at": config.expires_at.isoformat() if config else None,
    }


@router.get(
    "/global-configuration",
    response={200: dict, **errors(404)},
    summary="签名的全局配置（枢纽发布）",
)
def global_configuration(request):
    """The newest signed configuration: ``{"configuration": {...}, "signature": {...}}``."""
    model = ConfigurationPublication if settings.TONGBAN_ROLE == "hub" else CachedConfiguration
    row = model.objects.order_by("-serial").first()
    if row is None:
        return JsonResponse(
            {"error": {"code": "not_found", "message": "尚未发布全局配置", "details": {}}},
            status=404,
        )
    return JsonResponse(json.loads(row.document), json_dumps_params={"ensure_ascii": False})


class TrustKeyOut(Schema):
    kid: str
    public_key: str
    fingerprint: str


class TrustAnchorOut(Schema):
    node: str
    role: str
    source: str
    algorithm: str
    fingerprint_definition: str
    kid: str
    public_key: str
    fingerprint: str
    keys: list[TrustKeyOut]


@router.get(
    "/trust-anchor",
    response={200: TrustAnchorOut, 404: ErrorOut},
    summary="枢纽信任锚（公钥与 SM3 指纹）",
)
def trust_anchor(request):
    """The hub's SM2 public key this deployment trusts: the hub answers with its
    active signing key, a node with the hub key(s) it has pinned. Anonymous.
    ``fingerprint`` = SM3 of the 65-byte uncompressed key, upper-case hex in
    groups of 4 (docs/operations.md §6a)."""
    from tongban.directory.trust import trust_anchor_published

    return trust_anchor_published()
