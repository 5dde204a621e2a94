"""The OpenAPI document and its docs page, served without any CDN."""


def test_openapi_document_lists_the_api(client, db):
    spec = client.get("/api/v1/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    for path in (
        "/api/v1/health",
        "/api/v1/items",
        "/api/v1/items/{basic_code}",
        "/api/v1/cases",
        "/api/v1/cases/{number}",
        "/api/v1/cases/{number}/accept",
        "/api/v1/cases/{number}/withdraw",
        "/api/v1/oversight/overdue",
        "/api/v1/exchange/inbox",
        "/api/v1/global-configuration",
    ):
        assert path in spec["paths"], path


def test_docs_page_uses_local_assets_under_the_csp(client, db):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    page = response.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in page and "cdn" not in page.lower()
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert client.get("/static/ninja/swagger-ui-bundle.js").status_code == 200


def test_health(client, db):
    body = client.get("/api/v1/health").json()
    assert body["node"] == "sh" and body["role"] == "node" and body["version"]
    assert body["status"] == "unconfigured"  # no global configuration yet
