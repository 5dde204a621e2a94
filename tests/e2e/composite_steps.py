"""Steps shared by the 联办件 end-to-end tests: who decides where, how a member case is
decided, how a node is taken down and brought back."""

from __future__ import annotations

import base64
import contextlib
import time

from stdnum.cn import ric

from tongban.demo_seed import ESTABLISHMENT, form_payload, material_payload
from tongban.identity.demo_accounts import DEMO_PASSWORD, PERSONS
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


def implementation_of(item: dict, organization_name: str) -> str:
    """The code of the organization that implements ``item`` (as /items/<code> gives it)."""
    return next(
        i["organization"]
        for i in item["implementations"]
        if i["organization_name"] == organization_name
    )


def establishment_at_jiashan(
    clerk: ApiClient, item: dict, organization: str, company: str, *, applicant: str = "zj"
) -> str:
    """The 嘉善 (zj) window takes a 内资有限公司设立登记 for ``organization`` from the demo
    person of node ``applicant``; the case's number."""
    _, name, number, phone = PERSONS[applicant]
    person = {"name": name, "id_number": number, "phone": phone}
    response = clerk.post(
        "/cases",
        {
            "window": "zj-330421-01",
            "item": ESTABLISHMENT,
            "organization": organization,
            "applicant": person,
            "form": form_payload(item, person, company),
            "materials": material_payload(item),
        },
    )
    assert response.status_code == 201, response.text
    return response.json()["number"]


def pension_relay_at_huangpu(clerk: ApiClient, from_region: str):
    """The 黄浦 (sh) window takes 城镇职工基本养老保险关系转移接续 from 李娜 (the demo person
    of sh), 转出地 ``from_region``, for 上海市人力资源和社会保障局; the API's answer."""
    pension = "000520001000"
    item = clerk.get(f"/items/{pension}").json()
    _, name, applicant_id, phone = PERSONS["sh"]
    return clerk.post(
        "/cases",
        {
            "window": "sh-310101-01",
            "item": pension,
            "organization": implementation_of(item, "上海市人力资源和社会保障局"),
            "applicant": {"name": name, "id_number": applicant_id, "phone": phone},
            "form": {
                "applicant_name": name,
                "applicant_id_number": applicant_id,
                "contact_phone": phone,
                "from_region": from_region,
                "new_employer": "上海青禾数字科技有限公司",
            },
            "materials": [pdf_material("M01")],
        },
    )


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


def member_reaches(client: ApiClient, number: str, key: str, status: str, what: str) -> dict:
    """Wait until the member ``key`` of the 联办件 ``number`` has ``status``; the 联办件."""
    return wait_for(
        lambda: (b := composite(client, number)) and member(b, key)["status"] == status and b,
        what=what,
    )


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
