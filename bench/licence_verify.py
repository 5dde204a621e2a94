"""电子证照 on one core: what verifying and making a 亮证 QR code costs.

Baseline: the raw SM2 verify rate of ``tongban.gm.sm2.verify`` over a fixed
64-byte message, measured exactly as ``bench/sm2_verify.py`` does, in the same
run. Every other figure is also given as a ratio of that rate:

* ``presentation_verify`` (``tongban.licences.verification``) on a valid QR
  text, offline — what a verifier's scan costs: Base45 + zlib + JSON, the
  identifier's MOD 37,36 check, two SM2 verifications (issuer and holder
  node) over RFC 8785 JSON, SM3 of each disclosure and of the binding, and its
  database look-ups (directory, keys, licence type, organization, status).
  Twice: for a licence issued by another province (zj) whose status comes
  from the cached signed status list (``--status-list-size`` licences, 1 %
  revoked), and for one issued by this node (status from the licence
  register). Plus the same checks without the database (``pure``);
* ``presentation_create`` — the holder's home node making a QR text with two
  fields disclosed (wallet look-up, SM4 decryption of the disclosures, SM2
  signature of the binding, zlib + Base45, a counter update);
* rendering that text as a QR image with segno, separately: a PNG
  (``qr_images.qr_png``, error level L, scale 4) and the SVG data URI the 亮证
  page embeds (``qr_svg_data_uri``); and reading it back from the PNG with
  zxing-cpp (``qr_text_from_image``, what the verification page and API do
  with an uploaded picture);
* the QR text's size in characters with 0, 1, 2 and all fields disclosed,
  and the QR version it needs (alphanumeric mode, error level L).

It runs node ``sh`` in this process on a fresh SQLite database in a temporary
directory (migrate + ``tests.factories.RegionData.create()``: the directory,
keys of sh and of its peers, the licence registry), issues a 机动车驾驶证 to
陈静 at sh and one built and signed by zj as the peer test does, and deletes
the directory afterwards. Needs no PostgreSQL and no running region.

    .venv/bin/python bench/licence_verify.py [--seconds 1.5] [--status-list-size 100000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import shutil
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from common import (  # noqa: E402
    REPO,
    emit_result,
    git_revision,
    ratio,
    result_from_subprocess,
    sqlite_node,
    table,
    wait_quiet,
)
from sm2_verify import ROUNDS, one_core, rate  # noqa: E402

NAME = "licence_verify"
DRIVING = "11100000000013338W003"  # 机动车驾驶证 (sample registry)
SH_POLICE = "上海市公安局"
ZJ_POLICE = "浙江省公安厅"
HOLDER_ID17 = "31010419850612001"
FIELDS = {
    "licence_number": "310104198506120019",
    "address": "上海市浦东新区世纪大道100号",
    "birth_date": "1985-06-12",
    "first_issue_date": "2010-05-01",
    "vehicle_class": "C1",
    "valid_from": "2026-05-01",
    "valid_until": "2032-05-01",
    "file_number": "310012345678",
}
SHOWN = ["holder_name", "vehicle_class"]  # the two fields of a typical 亮证


def _prepare(status_list_size: int) -> dict:
    """The region's data, a licence issued here and one issued by zj, both in 陈静's wallet."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))  # tests.factories
    from django.conf import settings
    from django.db import transaction
    from django.utils import timezone
    from tests.factories import RegionData, id_number, user_with

    from tongban.directory.models import Organization
    from tongban.gm.canonical import canonical_json
    from tongban.identity.services import person_upsert
    from tongban.licences import formats, services

    region = RegionData.create()
    holder_id = id_number(HOLDER_ID17)
    person = person_upsert(name="陈静", id_number=holder_id, home_node="sh")
    holder = user_with("chenjing", person=person, assurance="L3")  # a proven identity (ADR 0010)
    fields = {**FIELDS, "licence_number": holder_id}

    local = services.licence_issue(
        user=None,
        type_code=DRIVING,
        organization_code=region.org(SH_POLICE).code,
        holder={"name": "陈静", "id_number": holder_id},
        fields=fields,
    )

    # zj's licence, built from the published formats and signed with zj's key
    org = Organization.objects.get(name=ZJ_POLICE)
    index = status_list_size // 2
    identifier = formats.identifier_build(
        type_code=DRIVING, issuer_code=org.code, serial="202600004242", version=1
    )
    claims = [("holder_name", "陈静"), ("holder_id", holder_id), *fields.items()]
    disclosures = [formats.disclosure_make(k, v) for k, v in claims]
    now = timezone.now()
    today = timezone.localdate()
    payload = {
        "format": formats.LICENCE_FORMAT,
        "identifier": identifier,
        "type": {"code": DRIVING, "name": "机动车驾驶证"},
        "version": 1,
        "issuer": {"node": "zj", "code": org.code, "name": org.name},
        "area_code": org.region,
        "holder_type": "111",
        "holder_node": "sh",
        "issued_at": now.isoformat(),
        "valid_from": today.isoformat(),
        "valid_to": (today + dt.timedelta(days=6 * 365)).isoformat(),
        "related_case": None,
        "status": {"node": "zj", "idx": index},
        "sd_alg": formats.SD_ALG,
        "_sd": sorted(formats.disclosure_digest(d) for d in disclosures),
    }
    licence = {"payload": payload, "signature": region.signer("zj")(canonical_json(payload))}
    with transaction.atomic():
        services.wallet_receive(
            body={
                "licence": licence,
                "disclosures": disclosures,
                "holder": {"type": "person", "name": "陈静", "id_number": holder_id},
                "status": "valid",
                "status_changed_at": now.isoformat(),
            },
            sender="zj",
        )

    # zj's signed status list as the scheduled refresh would have cached it: 1 % revoked
    rng = random.Random(36904)
    revoked = {
        i: formats.STATUS_VALUES["revoked"]
        for i in rng.sample(range(status_list_size), status_list_size // 100)
        if i != index
    }
    body = {
        "format": formats.STATUS_LIST_FORMAT,
        "node": "zj",
        "bits": formats.STATUS_BITS,
        "lst": formats.status_list_pack(revoked, status_list_size),
        "size": status_list_size,
        "iat": now.replace(microsecond=0).isoformat(),
        "exp": (
            now.replace(microsecond=0)
            + dt.timedelta(seconds=settings.TONGBAN_STATUS_LIST_TTL_SECONDS)
        ).isoformat(),
        "ttl": settings.TONGBAN_STATUS_LIST_REFRESH_SECONDS,
    }
    wrapper = {"status_list": body, "signature": region.signer("zj")(canonical_json(body))}
    services.status_list_verify(wrapper, node_id="zj")
    with transaction.atomic():
        services._status_list_cache_store("zj", wrapper, now)
    return {
        "region": region,
        "holder": holder,
        "local": local.identifier,
        "peer": identifier,
        "status_list_bytes": len(canonical_json(wrapper)),
        "status_list_lst_chars": len(body["lst"]),
    }


def _qr_sizes(holder, identifier: str, all_fields: list[str]) -> dict:
    """Characters of the QR text, and the QR symbol it needs, by number of fields disclosed."""
    import segno

    from tongban.gm.canonical import canonical_json
    from tongban.licences import formats, services

    out = {}
    for label, fields in (
        ("0_fields", []),
        ("1_field", ["vehicle_class"]),
        ("2_fields", SHOWN),
        (f"all_{len(all_fields)}_fields", all_fields),
    ):
        text = services.presentation_create(user=holder, identifier=identifier, fields=fields)[
            "qr_text"
        ]
        document = formats.qr_decode(text)
        symbol = segno.make(text, error="l", boost_error=False)
        out[label] = {
            "fields": len(fields),
            "qr_text_chars": len(text),
            "canonical_json_bytes": len(canonical_json(document)),
            "zlib_bytes": (len(text) - len(formats.QR_PREFIX)) * 2 // 3,
            "qr_version": symbol.version,
            "qr_modules_per_side": symbol.symbol_size(border=0)[0],
            "qr_mode": symbol.mode,
            "qr_error": symbol.error,
        }
    return out


def run(*, seconds: float = 1.5, status_list_size: int = 100_000) -> dict:
    data_dir = Path(tempfile.mkdtemp(prefix="tongban-bench-licence-"))
    try:
        sqlite_node(data_dir)
        with one_core():
            return _run(seconds=seconds, status_list_size=status_list_size)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def _run(*, seconds: float, status_list_size: int) -> dict:
    import zlib

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tongban.directory.models import NodeKey
    from tongban.gm import sm2
    from tongban.gm.canonical import canonical_json
    from tongban.licences import formats, qr_images, services
    from tongban.licences.models import StatusListCache, WalletEntry
    from tongban.licences.verification import presentation_verify

    # (a) the baseline, exactly as sm2_verify.py
    key = sm2.SigningKey.generate()
    public = key.public_key_hex
    message = b"tongban benchmark: a fixed 64-byte message for SM2 verification."[:64]
    signature = key.sign(message)
    assert sm2.verify(public, message, signature)

    prepared = _prepare(status_list_size)
    holder = prepared["holder"]
    ttl = 3600  # long enough for the whole run; the default is 180 s

    def show(identifier: str, fields: list[str]) -> str:
        return services.presentation_create(
            user=holder, identifier=identifier, fields=fields, ttl_seconds=ttl
        )["qr_text"]

    peer_text = show(prepared["peer"], SHOWN)
    local_text = show(prepared["local"], SHOWN)
    for text, source in ((peer_text, "cache"), (local_text, "issuer")):
        verdict = presentation_verify(text, online=False)
        assert verdict.verdict == "valid", (verdict.verdict, verdict.reason)
        assert verdict.status_source == source, verdict.status_source
    queries = {}
    for name, text in (("peer", peer_text), ("local", local_text)):
        with CaptureQueriesContext(connection) as ctx:
            presentation_verify(text, online=False)
        queries[name] = len(ctx.captured_queries)
    with CaptureQueriesContext(connection) as ctx:
        show(prepared["peer"], SHOWN)
    queries["create"] = len(ctx.captured_queries)

    # the same checks as presentation_verify, without the database: keys known in advance
    keys = {k.kid: k.public_key for k in NodeKey.objects.all()}
    cached_list = StatusListCache.objects.get(node_id="zj").document

    def verify_pure(text: str) -> None:
        document = formats.qr_decode(text)
        licence, disclosures, binding = (
            document["licence"],
            document["disclosures"],
            document["binding"],
        )
        payload = licence["payload"]
        formats.identifier_parse(payload["identifier"])
        if not sm2.verify_b64(
            keys[licence["signature"]["kid"]],
            canonical_json(payload),
            licence["signature"]["value"],
        ):
            raise AssertionError("issuer signature")
        for d in disclosures:
            formats.disclosure_open(d)
            if formats.disclosure_digest(d) not in payload["_sd"]:
                raise AssertionError("digest")
        if binding["sd_hash"] != formats.presentation_sd_hash(licence, disclosures):
            raise AssertionError("sd_hash")
        if not sm2.verify_b64(
            keys[document["binding_signature"]["kid"]],
            canonical_json(binding),
            document["binding_signature"]["value"],
        ):
            raise AssertionError("binding signature")
        status_list = json.loads(cached_list)["status_list"]
        value = formats.status_list_value(
            formats.status_list_unpack(status_list["lst"]), payload["status"]["idx"]
        )
        if value != 0:
            raise AssertionError("status")

    verify_pure(peer_text)
    png = qr_images.qr_png(peer_text)
    assert qr_images.qr_text_from_image(png) == peer_text

    print(
        f"电子证照 on one core, ≤{seconds} s per figure in {ROUNDS} interleaved rounds "
        f"(best kept); SQLite in a temporary directory; zj status list of "
        f"{status_list_size:,} licences"
    )
    quiet = wait_quiet()
    cases = [
        (
            "sm2_verify_raw",
            "SM2 verify, 64 B (tongsuopy) — baseline",
            lambda: sm2.verify(public, message, signature),
            seconds,
        ),
        (
            "presentation_verify_peer",
            "presentation_verify, zj licence, cached status list",
            lambda: presentation_verify(peer_text, online=False),
            seconds,
        ),
        (
            "presentation_verify_local",
            "presentation_verify, sh licence, status from the register",
            lambda: presentation_verify(local_text, online=False),
            seconds,
        ),
        (
            "presentation_verify_pure",
            "the same checks without the database (2 SM2 verifies)",
            lambda: verify_pure(peer_text),
            seconds,
        ),
        (
            "presentation_create",
            "presentation_create, 2 fields (SM2 sign, SM4, DB)",
            lambda: show(prepared["peer"], SHOWN),
            seconds,
        ),
        (
            "qr_png",
            "QR image: segno PNG of a 2-field text (L, scale 4)",
            lambda: qr_images.qr_png(peer_text),
            seconds,
        ),
        (
            "qr_svg",
            "QR image: segno SVG data URI (the 亮证 page's)",
            lambda: qr_images.qr_svg_data_uri(peer_text),
            seconds,
        ),
        (
            "qr_read_png",
            "QR image → text: zxing-cpp reading that PNG",
            lambda: qr_images.qr_text_from_image(png),
            seconds,
        ),
        (
            "qr_decode",
            "QR text → JSON (Base45 + zlib + json.loads)",
            lambda: formats.qr_decode(peer_text),
            seconds,
        ),
    ]
    rounds: dict[str, list[dict]] = {name: [] for name, *_ in cases}
    for _ in range(ROUNDS):
        for name, _label, fn, secs in cases:
            rounds[name].append(rate(fn, seconds=secs / ROUNDS, min_iterations=3))
    # still valid at the end (nothing expired or changed meanwhile)
    assert presentation_verify(peer_text, online=False).verdict == "valid"
    assert presentation_verify(local_text, online=False).verdict == "valid"

    results = {}
    for name, label, _fn, _secs in cases:
        best = max(rounds[name], key=lambda r: r["per_second"])
        results[name] = {
            "label": label,
            **best,
            "iterations": sum(r["iterations"] for r in rounds[name]),
            "rounds_per_second": [r["per_second"] for r in rounds[name]],
        }
    base = results["sm2_verify_raw"]["per_second"]
    rows = []
    for r in results.values():
        r["ratio_to_raw_verify"] = ratio(r["per_second"], base, 4)
        rows.append([r["label"], r["per_second"], r["us_per_op"], r["ratio_to_raw_verify"]])

    entry = WalletEntry.objects.get(identifier=prepared["peer"])
    all_fields = [formats.disclosure_open(d)[1] for d in services.licence_disclosures(entry)]
    sizes = _qr_sizes(holder, prepared["peer"], all_fields)
    size_rows = [
        [
            label,
            s["qr_text_chars"],
            s["canonical_json_bytes"],
            s["zlib_bytes"],
            s["qr_version"],
            f"{s['qr_modules_per_side']}×{s['qr_modules_per_side']}",
        ]
        for label, s in sizes.items()
    ]
    raw_list = formats.status_list_unpack(json.loads(cached_list)["status_list"]["lst"])
    return {
        "revision": git_revision(),
        "machine_before": quiet,
        "database": "sqlite (temporary file, this process)",
        "setup": {
            "licence_type": f"{DRIVING} 机动车驾驶证",
            "fields_in_licence": len(all_fields),
            "fields_shown": SHOWN,
            "status_list_size": status_list_size,
            "status_list_raw_bytes": len(raw_list),
            "status_list_zlib_bytes": len(zlib.compress(raw_list, 9)),
            "status_list_document_bytes": prepared["status_list_bytes"],
            "png_bytes": len(png),
            "queries_per_verify_peer": queries["peer"],
            "queries_per_verify_local": queries["local"],
            "queries_per_create": queries["create"],
        },
        "qr_sizes": sizes,
        "results": results,
        "table": table(rows, ["operation", "ops/s", "µs/op", "÷ raw verify"]),
        "size_table": table(
            size_rows,
            ["disclosed", "QR chars", "JSON bytes", "zlib bytes", "QR version", "modules"],
        ),
    }


def run_in_subprocess(*, seconds: float = 1.0, status_list_size: int = 100_000) -> dict:
    """For run_all: Django can be set up once per process, and run_all's is zj's."""
    args = ["--seconds", str(seconds), "--status-list-size", str(status_list_size)]
    return result_from_subprocess(__file__, args, label="licence")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=1.5, help="time budget per figure")
    parser.add_argument(
        "--status-list-size", type=int, default=100_000, help="licences in zj's status list"
    )
    parser.add_argument(
        "--json-out", default="", help="write the result here instead of bench/results/"
    )
    args = parser.parse_args(argv)
    result = run(seconds=args.seconds, status_list_size=args.status_list_size)
    print(result["table"])
    print()
    print(result["size_table"])
    s = result["setup"]
    print(
        f"queries per verification: {s['queries_per_verify_peer']} (zj licence), "
        f"{s['queries_per_verify_local']} (sh licence); per presentation "
        f"{s['queries_per_create']}; status list {s['status_list_size']:,} licences = "
        f"{s['status_list_document_bytes']:,} B signed document"
    )
    emit_result(NAME, result, args.json_out)
    return result


if __name__ == "__main__":
    main()
