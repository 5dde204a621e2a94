"""Regressions of an outside probe of the API: out-of-range numbers, token clients
answered with CSRF errors, an untrue OpenAPI document, untidy file names and
numbers stored as given, JSON in other media types and encodings."""

from __future__ import annotations

import json
from typing import get_args

import jsonschema_rs
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from pydantic import BaseModel

from tests.api.test_cases_api import application
from tests.factories import ESTABLISHMENT, PDF, materials_payload, user_with
from tests.pages.test_pages import APPLY_URL, apply_data
from tongban.api import api as ninja_api
from tongban.cases.models import CaseMaterial
from tongban.identity.services import api_token_create, api_token_revoke

BIG = str(2**63)


@pytest.fixture
def clerk(region):
    return user_with("qingpu.clerk", role="clerk", window=region.window("sh-310118-01"))


def error_code(response) -> str:
    return response.json()["error"]["code"]


# --- 1. numbers beyond the database's range answer 422, not 500 -----------------------


@pytest.mark.parametrize("path", ["/items", "/cases", "/licences"])
@pytest.mark.parametrize("param", ["offset", "limit"])
def test_out_of_range_offsets_and_limits_answer_422(region, api, clerk, path, param):
    api.login(clerk)
    for value in (BIG, "-1", "1000001" if param == "offset" else "201"):
        response = api.get(path, **{param: value})
        assert response.status_code == 422, (path, param, value, response.content)
        assert error_code(response) == "invalid_request"
        assert param in response.json()["error"]["details"]["fields"]


def test_out_of_range_path_ids_answer_422(region, api, clerk):
    api.login(clerk)
    response = api.get(f"/cases/X/materials/{BIG}")
    assert response.status_code == 422 and error_code(response) == "invalid_request"
    response = Client().delete(f"/api/v1/auth/tokens/{BIG}", **api.headers)
    assert response.status_code == 422 and error_code(response) == "invalid_request"


# --- 2. token clients: 401 + WWW-Authenticate, never a CSRF answer --------------------


def _csrf_client() -> Client:
    return Client(enforce_csrf_checks=True)


@pytest.mark.parametrize("method", ["post", "delete"])
def test_missing_bad_or_revoked_token_answers_401_with_challenge(region, clerk, method):
    _, valid_secret = api_token_create(user=clerk, name="kept")
    revoked, revoked_secret = api_token_create(user=clerk, name="gone")
    api_token_revoke(user=clerk, token_id=revoked.pk)
    path = "/api/v1/cases" if method == "post" else "/api/v1/auth/tokens/1"
    for header, invalid in (
        (None, False),
        ("Bearer tb_not-a-token", True),
        ("Bearer ", True),
        (f"Bearer {revoked_secret}", True),
    ):
        client = _csrf_client()
        extra = {"HTTP_AUTHORIZATION": header} if header is not None else {}
        if method == "post":
            response = client.post(path, "{}", content_type="application/json", **extra)
        else:
            response = client.delete(path, **extra)
        assert response.status_code == 401, (header, response.content)
        assert error_code(response) == "unauthenticated"
        challenge = response["WWW-Authenticate"]
        assert challenge.startswith('Bearer realm="tongban-sh"')
        assert ('error="invalid_token"' in challenge) is invalid, challenge
    # the same requests with the user's valid token get past authentication
    client = _csrf_client()
    valid = {"HTTP_AUTHORIZATION": f"Bearer {valid_secret}"}
    if method == "post":
        response = client.post(path, "{}", content_type="application/json", **valid)
        assert response.status_code == 422, response.content  # the body, not the token
    else:
        response = client.delete(path, **valid)
        assert response.status_code == 204, response.content


def test_bearer_requests_are_not_csrf_checked_but_sessions_are(region, clerk):
    _, secret = api_token_create(user=clerk, name="t")
    body = json.dumps({"note": ""})
    # a token client with a stale session cookie in the jar: judged by the token alone
    client = _csrf_client()
    client.force_login(clerk)
    response = client.post(
        "/api/v1/cases/NOPE/accept",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code == 404, response.content  # got past authentication
    # the same session without a token and without the CSRF token: 403 csrf_failed
    response = client.post("/api/v1/cases/NOPE/accept", body, content_type="application/json")
    assert response.status_code == 403 and error_code(response) == "csrf_failed"
    # with the CSRF token: through
    client.get("/")  # sets the CSRF cookie
    from django.conf import settings

    csrf = client.cookies[settings.CSRF_COOKIE_NAME].value
    response = client.post(
        "/api/v1/cases/NOPE/accept", body, content_type="application/json", HTTP_X_CSRFTOKEN=csrf
    )
    assert response.status_code == 404, response.content


# --- 3. the OpenAPI document is true -------------------------------------------------


def _models_in(annotation, found: set) -> None:
    """Every pydantic model reachable from a type annotation."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation in found:
            return
        found.add(annotation)
        for field in annotation.model_fields.values():
            _models_in(field.annotation, found)
        return
    for arg in get_args(annotation):
        _models_in(arg, found)


def test_schema_names_are_unique_across_the_api(db):
    """No two models of the API share a name: OpenAPI components are keyed by the class
    name, so the second would shadow the first (the catalog's ``MaterialOut`` was
    published with the fields of the cases' one)."""
    models: set = set()
    for bound in ninja_api._get_bound_routers():
        for path_view in bound.path_operations.values():
            for op in path_view.operations:
                for model in [*op.models, *op.response_models.values()]:
                    if model not in (None, Ellipsis):
                        _models_in(model, models)
    by_name: dict[str, set[str]] = {}
    for model in models:
        if model.__name__ == "NinjaResponseSchema" or model.__module__.startswith("ninja"):
            continue
        by_name.setdefault(model.__name__, set()).add(f"{model.__module__}.{model.__qualname__}")
    shared = {name: sorted(where) for name, where in by_name.items() if len(where) > 1}
    assert not shared, shared
    served = Client().get("/api/v1/openapi.json").json()["components"]["schemas"]
    assert {"ItemMaterialOut", "CaseMaterialOut", "ErrorOut"} <= set(served)


def test_item_detail_validates_against_its_published_schema(region, api):
    spec = Client().get("/api/v1/openapi.json").json()
    response = api.get(f"/items/{ESTABLISHMENT}")
    assert response.status_code == 200, response.content
    schema = spec["paths"]["/api/v1/items/{basic_code}"]["get"]["responses"]["200"]["content"][
        "application/json"
    ]["schema"]
    jsonschema_rs.validate({**schema, "components": spec["components"]}, response.json())


def test_every_operation_lists_the_framework_answers(db):
    spec = Client().get("/api/v1/openapi.json").json()
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            codes = set(op["responses"])
            if op.get("security"):
                assert {"401", "403"} <= codes, (method, path)
            if op.get("parameters") or op.get("requestBody"):
                assert "422" in codes, (method, path)
            if "application/json" in op.get("requestBody", {}).get("content", {}):
                assert {"400", "413", "415"} <= codes, (method, path)
            assert any(c.startswith("2") for c in codes), (method, path)


# --- 4. untidy input is refused or tidied ---------------------------------------------


def test_upload_file_names_are_normalized_when_stored_and_echoed(region, api, clerk):
    names = {
        "M01": "申请\r\n书.pdf",
        "M02": "章程\x07\x1b[31m.pdf",
        "M03": "invoice\u202efdp.exe.pdf",
        "M04": "..\\..\\windows\\win.ini.pdf",
        "M05": "长" * 5000 + ".pdf",
    }
    materials = materials_payload()
    for m in materials:
        m["filename"] = names[m["material_code"]]
    response = api.login(clerk).post("/cases", application(region, materials=materials))
    assert response.status_code == 201, response.content
    echoed = {m["material_code"]: m["filename"] for m in response.json()["materials"]}
    stored = dict(CaseMaterial.objects.values_list("material_code", "filename"))
    expected = {
        "M01": "申请书.pdf",
        "M02": "章程[31m.pdf",
        "M03": "invoicefdp.exe.pdf",
        "M04": "win.ini.pdf",
        "M05": "长" * 96 + ".pdf",
    }
    assert echoed == expected and stored == expected


def test_nul_in_an_api_file_name_is_refused(region, api, clerk):
    materials = materials_payload()
    materials[0]["filename"] = "申请\x00书.pdf"
    response = api.login(clerk).post("/cases", application(region, materials=materials))
    assert response.status_code == 400 and error_code(response) == "invalid_json"
    assert not CaseMaterial.objects.exists()


def test_page_upload_file_names_are_normalized(client, region, clerk):
    names = {"M01": "申请\x00书.pdf", "M02": "a\u202egpj.pdf", "M03": "x" * 300 + ".pdf"}
    files = {
        code: SimpleUploadedFile(
            names.get(code, f"{code}.pdf"), PDF + code.encode(), "application/pdf"
        )
        for code in ("M01", "M02", "M03", "M04", "M05")
    }
    client.force_login(clerk)
    response = client.post(APPLY_URL, apply_data(region, files=files), follow=True)
    assert response.status_code == 200
    stored = dict(CaseMaterial.objects.values_list("material_code", "filename"))
    assert stored["M01"] == "申请书.pdf" and stored["M02"] == "agpj.pdf"
    assert stored["M03"] == "x" * 96 + ".pdf"
    page = response.content.decode()
    assert "\x00" not in page and "\u202e" not in page


@pytest.mark.parametrize(
    "capital", ["1e400", "9e99999", "NaN", "Infinity", "1E+3", "0x10", "1" * 20]
)
def test_unbounded_decimals_are_refused_with_the_field_error(region, api, clerk, capital):
    body = application(region)
    body["form"]["registered_capital"] = capital
    response = api.login(clerk).post("/cases", body)
    assert response.status_code == 400, response.content
    assert error_code(response) == "invalid_form"
    assert "registered_capital" in response.json()["error"]["details"]["fields"]


def test_plain_decimals_are_still_accepted(region, api, clerk):
    body = application(region)
    body["form"]["registered_capital"] = "500.25"
    response = api.login(clerk).post("/cases", body)
    assert response.status_code == 201, response.content
    assert response.json()["form"]["registered_capital"] == "500.25"


def test_json_as_text_plain_answers_415(region, api, clerk):
    api.login(clerk)
    body = json.dumps({"note": ""})
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/xml"):
        response = Client().post(
            "/api/v1/cases/NOPE/accept", body, content_type=content_type, **api.headers
        )
        assert response.status_code == 415, (content_type, response.content)
        assert error_code(response) == "unsupported_media_type"


def test_json_in_utf16_answers_415(region, api, clerk):
    api.login(clerk)
    text = json.dumps({"note": "受理"}, ensure_ascii=False)
    for raw in (text.encode("utf-16"), text.encode("utf-16-le"), text.encode("utf-32")):
        response = api.post("/cases/NOPE/accept", raw=raw)
        assert response.status_code == 415, response.content
        assert error_code(response) == "unsupported_media_type"
    response = Client().post(
        "/api/v1/cases/NOPE/accept",
        text.encode("utf-8"),
        content_type="application/json; charset=utf-16",
        **api.headers,
    )
    assert response.status_code == 415


def test_strict_json_bodies(region, api, clerk):
    api.login(clerk)
    for raw, reason in (
        (b'{"note": "a", "note": "b"}', "duplicate_member"),
        (b"[" * 100 + b"]" * 100, "too_deep"),
        (b'{"note": "\\u0000"}', None),
        (b'{"note": ', "invalid_json"),
    ):
        response = api.post("/cases/NOPE/accept", raw=raw)
        assert response.status_code == 400, (raw[:20], response.content)
        assert error_code(response) == "invalid_json"
        if reason:
            assert response.json()["error"]["details"]["reason"] == reason


def test_nul_in_query_answers_422(region, api):
    response = api.get("/items", q="a\x00b")
    assert response.status_code == 422 and error_code(response) == "invalid_request"


def test_nul_in_a_path_parameter_answers_422(region, api, clerk):
    for path in ("/items/0003%00", "/licences/status-lists/s%00h"):
        response = api.get(path)
        assert response.status_code == 422, (path, response.content)
        assert error_code(response) == "invalid_request"
    response = api.login(clerk).get("/cases/X%00/materials/1")
    assert response.status_code == 422 and error_code(response) == "invalid_request"


def test_registration_refusals_are_documented(region, api):
    """A domain error an operation raises is in its OpenAPI responses (403 at
    registration was not)."""
    from tests.factories import id_number

    response = api.post(
        "/auth/register",
        {
            "username": "outsider",
            "name": "刘洋",
            "id_number": id_number("11010119900101123"),  # 北京: outside the region
            "phone": "13800001111",
            "password": "Outside-Region-2026",
        },
    )
    assert response.status_code == 403, response.content
    spec = Client().get("/api/v1/openapi.json").json()
    assert "403" in spec["paths"]["/api/v1/auth/register"]["post"]["responses"]
