"""Steps shared by the 联办件 end-to-end tests: who decides where, how a member case is
decided, how a node is taken down and brought back."""

from __future__ import annotations

import base64
import contextlib
import time

from stdnum.cn import ric

from tongban.identity.demo_accounts import DEMO_PASSWORD
from tongban.region import ApiClient, Region

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def wait_for(fn, timeout=60.0, what="", every=0.25):
    """Poll ``fn`` until it returns something true, or fail saying what was awaited and
    the last value seen."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}; last value: {value!r}")


def id_number(prefix17: str) -> str:
    """A valid 公民身份号码 from its first 17 digits."""
    return prefix17 + ric.calc_check_digit(prefix17 + "0")


def pdf_material(code: str, source: str = "") -> dict:
    return {
        "material_code": code,
        "filename": f"{code}.pdf",
        "content_base64": base64.b64encode(PDF + (source or code).encode()).decode(),
    }


class Staff:
    """API clients for one region's demo staff, signed in once each. Officials of an
    organization without a named demo account are found in the node's own list of demo
    accounts (``tongban demo-accounts`` is idempotent and prints them)."""

    def __init__(self, region: Region):
        self.region = region
        self._clients: dict[tuple[str, str], ApiClient] = {}
        self._officials: dict[str, dict[str, str]] = {}

    def client(self, node: str, username: str) -> ApiClient:
        key = (node, username)
        if key not in self._clients:
            self._clients[key] = ApiClient(self.region.url(node), username, DEMO_PASSWORD)
        return self._clients[key]

    def official_username(self, node: str, organization_name: str) -> str:
        if node not in self._officials:
            listed = {}
            for line in self.region.manage(node, "demo-accounts").splitlines():
                username, _, what = line.strip().partition(" ")
                what = what.strip()
                if what.startswith("审批 · "):
                    listed[what.removeprefix("审批 · ")] = username
            self._officials[node] = listed
        return self._officials[node][organization_name]

    def official(self, node: str, organization_name: str) -> ApiClient:
        return self.client(node, self.official_username(node, organization_name))


def member(body: dict, key: str) -> dict:
    """One stage or part of a 联办件 as GET /cases/{number} shows it."""
    rows = body["stages"] or body["parts"]
    return next(m for m in rows if m["key"] == key)


def statuses(body: dict) -> dict[str, str]:
    return {m["key"]: m["status"] for m in body["stages"] or body["parts"]}


def outputs(row: dict) -> dict[str, str]:
    return {o["key"]: o["value"] for o in row["outputs"]}


def composite(client: ApiClient, number: str) -> dict:
    response = client.get(f"/cases/{number}")
    assert response.status_code == 200, response.text[:500]
    return response.json()


def arrived(official: ApiClient, number: str, what: str = "") -> dict:
    """Wait until a member case can be read by the official of its node."""
    return wait_for(
        lambda: (r := official.get(f"/cases/{number}")).status_code == 200 and r.json(),
        what=what or f"{number} at the official's node",
    )


def decide(official: ApiClient, number: str, result: dict) -> dict:
    """受理 then 准予 with the official's result entries; returns the decided case."""
    accepted = official.post(f"/cases/{number}/accept", {"note": "材料齐全，予以受理"})
    assert accepted.status_code == 200, accepted.text[:1000]
    approved = official.post(f"/cases/{number}/approve", {"result": result})
    assert approved.status_code == 200, approved.text[:1000]
    assert approved.json()["status"] == "approved"
    return approved.json()


def required_inputs(client: ApiClient, item_code: str) -> set[str]:
    """The keys an official must enter to approve a case of the item (defaults aside)."""
    result = client.get(f"/items/{item_code}").json()["result"] or {}
    return {
        spec["key"]
        for spec in result.get("official_inputs") or []
        if spec.get("required") and not spec.get("default")
    }


@contextlib.contextmanager
def node_down(region: Region, node: str):
    """Stop a node's web server and worker (SIGTERM to their process groups, through
    Region.stop) and bring both back when the block ends, however it ends, so a failure
    does not leave the shared region without the node."""
    region.stop(node)
    try:
        yield
    finally:
        region.start(node)


def pending_for(admin: ApiClient, correlation: str) -> list[dict]:
    return [
        m
        for m in admin.get("/exchange/outbox", limit=500).json()
        if m["correlation"] == correlation
    ]
