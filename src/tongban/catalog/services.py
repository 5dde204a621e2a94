"""Catalog releases: published by the hub, imported by every node."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import requests
from django.conf import settings
from django.db import transaction

from tongban.catalog.composition import (
    CompositionError,
    composition_clean,
    result_extra_sources,
)
from tongban.catalog.models import Implementation, Material, Release, ServiceItem
from tongban.catalog.results import ResultDeclarationError, result_declaration_clean
from tongban.directory.models import Organization
from tongban.gm.canonical import canonical_json
from tongban.gm.sm3 import digests_equal, sm3_hex
from tongban.gm.strict_json import StrictJSONError, loads_strict

DATA_DIR = Path(__file__).resolve().parent / "data"
# 实施编码 = 实施主体统一社会信用代码 (18) + 实施主体性质 (1) + 基本编码 (12)
IMPLEMENTING_BODY_STATUTORY = "1"


class CatalogError(ValueError):
    pass


# the 2026Q4 release is 170 KB
MAX_RELEASE_BYTES = 16 * 1024 * 1024


def catalog_release_parse(content: bytes) -> dict:
    """A release fetched from the hub, as I-JSON (RFC 7493); CatalogError otherwise.

    Its SM3 is checked over the canonical form of what was parsed, so a text
    that two parsers read differently (duplicate member names, lone
    surrogates, integers beyond 2^53 - 1) is refused before that check."""
    try:
        document = loads_strict(content, max_bytes=MAX_RELEASE_BYTES)
    except StrictJSONError as exc:
        raise CatalogError(f"catalog release is not I-JSON ({exc.reason})") from exc
    if not isinstance(document, dict):
        raise CatalogError("catalog release is not an object")
    return document


# a material replaceable by a data check: "<node>.<dataset>.<field>[,<field>…]"
DATA_CHECK = re.compile(
    r"^[a-z]{2,8}\.[a-z][a-z0-9_]{1,54}\.[a-z][a-z0-9_]{0,63}(,[a-z][a-z0-9_]{0,63})*$"
)


def material_data_check_clean(value: object, *, where: str) -> str:
    """A material's ``data_check`` (可由数据共享核验替代), by shape: the dataset and its
    fields are checked against the sharing catalog when a data check is made."""
    if value in (None, ""):
        return ""
    if not isinstance(value, str) or len(value) > 300 or not DATA_CHECK.match(value):
        raise CatalogError(
            f"{where}: data_check must be '<dataset code>.<field>[,<field>…]', got {value!r}"
        )
    return value


def implementation_code(organization_code: str, basic_code: str) -> str:
    return f"{organization_code}{IMPLEMENTING_BODY_STATUTORY}{basic_code}"


def _search_text(item: dict) -> str:
    parts = [item["name"], item.get("area", ""), *item.get("keywords", [])]
    parts += [m["name"] for m in item.get("materials", [])]
    return " ".join(parts).lower()


@transaction.atomic
def catalog_release_import(*, document: dict, sm3: str) -> Release:
    """Import one release (canonical document + its SM3) and make it current."""
    raw = canonical_json(document)
    if not digests_equal(sm3_hex(raw), sm3):
        raise CatalogError("catalog release digest mismatch")
    version = document["release"]
    release, created = Release.objects.get_or_create(
        version=version,
        defaults={
            "published_on": dt.date.fromisoformat(document["published"]),
            "sm3": sm3,
            "document": raw.decode(),
        },
    )
    if not created and release.sm3 != sm3:
        raise CatalogError(f"release {version} already imported with another digest")
    orgs = set(Organization.objects.values_list("code", flat=True))
    by_code = {item["basic_code"]: item for item in document["items"]}
    try:
        # 接续办 stages and 集成办 parts (catalog/composition.py)
        compositions = {code: composition_clean(item, by_code) for code, item in by_code.items()}
    except CompositionError as exc:
        raise CatalogError(f"catalog release {version}: {exc}") from exc
    try:
        results = {
            code: result_declaration_clean(item, extra=result_extra_sources(item, by_code))
            for code, item in by_code.items()
        }
    except ResultDeclarationError as exc:
        raise CatalogError(f"catalog release {version}: {exc}") from exc
    data_checks = {
        (item["basic_code"], m["code"]): material_data_check_clean(
            m.get("data_check"),
            where=f"catalog release {version}: item {item['basic_code']} material {m['code']}",
        )
        for item in document["items"]
        for m in item.get("materials", [])
    }
    codes = []
    for item in document["items"]:
        obj, _ = ServiceItem.objects.update_or_create(
            basic_code=item["basic_code"],
            defaults={
                "name": item["name"],
                "audience": item["audience"],
                "area": item["area"],
                "mode": item["mode"],
                "legal_limit_days": item["legal_limit_days"],
                "promised_limit_days": item["promised_limit_days"],
                "fee": item.get("fee", "不收费"),
                "min_assurance": item.get("min_assurance", "L2"),
                "result_kind": item.get("result_kind", "certificate"),
                "result": results[item["basic_code"]],
                "stages": compositions[item["basic_code"]][0],
                "parts": compositions[item["basic_code"]][1],
                "form_schema": item.get("form", []),
                "keywords": item.get("keywords", []),
                "guide": item.get("guide", ""),
                "search_text": _search_text(item),
                "sample": item.get("sample", False),
                "release": release,
                "active": True,
            },
        )
        codes.append(obj.basic_code)
        obj.materials.all().delete()
        Material.objects.bulk_create(
            Material(
                item=obj,
                code=m["code"],
                name=m["name"],
                required=m.get("required", True),
                file_types=m.get("file_types", ["pdf", "jpg", "png"]),
                max_size_mb=m.get("max_size_mb", 10),
                licence_type=m.get("licence_type") or "",
                data_check=data_checks[(obj.basic_code, m["code"])],
                position=i,
            )
            for i, m in enumerate(item.get("materials", []))
        )
        keep = []
        for r in item.get("responsible", []):
            if r["organization"] not in orgs:
                continue  # an organization this directory does not (yet) list
            code = implementation_code(r["organization"], obj.basic_code)
            Implementation.objects.update_or_create(
                code=code,
                defaults={"item": obj, "organization_id": r["organization"], "region": r["region"]},
            )
            keep.append(code)
        obj.implementations.exclude(code__in=keep).delete()
    ServiceItem.objects.exclude(basic_code__in=codes).update(active=False)
    Release.objects.exclude(pk=release.pk).update(current=False)
    release.current = True
    release.save(update_fields=["current"])
    return release


def catalog_release_publish(*, path: Path | None = None) -> Release:
    """Hub: import a release file and publish it in the global configuration."""
    from tongban.directory.services import configuration_publish

    path = path or DATA_DIR / "catalog_2026Q4.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    with transaction.atomic():
        release = catalog_release_import(document=document, sm3=sm3_hex(canonical_json(document)))
        configuration_publish()
    return release


def catalog_sync(*, session: requests.Session | None = None) -> Release | None:
    """Node: fetch the release named by the global configuration if it is new here."""
    from tongban.directory.services import current_configuration

    config = current_configuration()
    wanted = (config or {}).get("catalog")
    if not wanted:
        return None
    current = Release.objects.filter(current=True).first()
    if (
        current is not None
        and current.version == wanted["release"]
        and current.sm3 == wanted["sm3"]
    ):
        return None
    http = session or requests
    response = http.get(
        settings.TONGBAN_HUB_URL + wanted["path"], timeout=settings.TONGBAN_EXCHANGE_TIMEOUT_SECONDS
    )
    response.raise_for_status()
    return catalog_release_import(
        document=catalog_release_parse(response.content), sm3=wanted["sm3"]
    )
