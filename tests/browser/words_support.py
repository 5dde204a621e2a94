"""Shared by the accessibility and English browser tests: one decided case in the shared
four-province region, and the words that are content rather than our wording."""

from __future__ import annotations

import ast
import functools
import json
import re
from pathlib import Path

from tests.browser.support import ARRIVAL_TIMEOUT
from tongban import demo_seed
from tongban.demo_seed import ESTABLISHMENT, form_payload, material_payload, wait_for
from tongban.identity import demo_accounts
from tongban.identity.demo_accounts import DEMO_PASSWORD, PERSONS
from tongban.region import ApiClient

SRC = Path(__file__).resolve().parents[2] / "src" / "tongban"
QINGPU_AMR = "上海市青浦区市场监督管理局"
WINDOW = "zj-330421-01"
COMPANY = "嘉善禾城数字科技有限公司"


_decided: dict[str, str] = {}


def decided_case(region) -> str:
    """A 内资有限公司设立登记 for 张伟 taken at the 嘉善 window (zj) and approved in 青浦 (sh),
    created once per region through the API; its number."""
    key = str(region.root)
    if key not in _decided:
        _decided[key] = _decide(region)
    return _decided[key]


def _decide(region) -> str:
    clerk = ApiClient(region.url("zj"), "jiashan.clerk", DEMO_PASSWORD)
    official = ApiClient(region.url("sh"), "qingpu.official", DEMO_PASSWORD)
    item = clerk.get(f"/items/{ESTABLISHMENT}").json()
    organization = next(
        i["organization"] for i in item["implementations"] if i["organization_name"] == QINGPU_AMR
    )
    _, name, id_number, phone = PERSONS["zj"]
    applicant = {"name": name, "id_number": id_number, "phone": phone}
    response = clerk.post(
        "/cases",
        {
            "window": WINDOW,
            "item": ESTABLISHMENT,
            "organization": organization,
            "applicant": applicant,
            "form": form_payload(item, applicant, COMPANY),
            "materials": material_payload(item),
        },
    )
    response.raise_for_status()
    number = response.json()["number"]
    wait_for(
        lambda: official.get(f"/cases/{number}").status_code == 200,
        timeout=ARRIVAL_TIMEOUT,
        what=f"{number} at sh",
    )
    official.post(f"/cases/{number}/accept", {"note": "材料齐全，予以受理"}).raise_for_status()
    official.post(f"/cases/{number}/approve", {"note": "准予设立登记"}).raise_for_status()
    wait_for(
        lambda: clerk.get(f"/cases/{number}").json().get("status") == "approved",
        timeout=ARRIVAL_TIMEOUT,
        what=f"the approval of {number} at zj",
    )
    return number


# --- content: what people and the catalog wrote, not our wording --------------------------

CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def _strings(value) -> set[str]:
    if isinstance(value, str):
        return {value} if CJK.search(value) else set()
    if isinstance(value, dict):
        return set().union(*(_strings(v) for v in value.values())) if value else set()
    if isinstance(value, list | tuple | set):
        return set().union(*(_strings(v) for v in value)) if value else set()
    return set()


@functools.cache
def content_words() -> tuple[str, ...]:
    """Names and content that stay as written in any language: the catalog release (service
    names, materials, form labels, guides), the directory (organizations, windows), the
    e-licence types, the demo people, companies and what the demo typed. Longest first."""
    words: set[str] = set()
    for path in (
        SRC / "catalog" / "data" / "catalog_2026Q4.json",
        SRC / "directory" / "data" / "organizations.json",
        SRC / "directory" / "data" / "windows.json",
        SRC / "licences" / "data" / "licence_types.json",
    ):
        words |= _strings(json.loads(path.read_text(encoding="utf-8")))
    # everything the demo accounts and the demo's sample data write (names, companies,
    # addresses, notes), as it is in their source
    for module in (demo_accounts, demo_seed):
        source = Path(module.__file__).read_text(encoding="utf-8")
        words |= {
            node.value
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
        }
        words = {w for w in words if CJK.search(w)}
    words |= set(demo_seed.SURNAMES) | {COMPANY, QINGPU_AMR}
    # a display name "沈晓燕（嘉善县专窗）" is content, and so is each part of it
    for word in list(words):
        words |= {part for part in re.split(r"[（）()、，,；;：:\s/]+", word) if CJK.search(part)}
    return tuple(sorted(words, key=len, reverse=True))


def our_words(text: str) -> str:
    """``text`` without the content words; what is left is ours and must be translated."""
    for word in content_words():
        if word in text:
            text = text.replace(word, " ")
    return text
