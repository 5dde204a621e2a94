"""Words people understand, through the Django test client (this node is sh).

Citizens and clerks see names and meanings — 浙江 浙里办, 实名等级：当面核验 — never
node codes, SM3 digests, signature key ids or L1/L2/L3; officials find those
under a 技术详情 fold. The English switch covers menus, values and plurals.
"""

from __future__ import annotations

import re

import pytest
from django.utils import translation

from tests.factories import QINGPU_AMR, user_with
from tests.pages.test_pages import (
    APPLY_URL,
    NUMBER,
    WINDOW,
    apply_data,
    html,
    receive_from_zj,
    texts,
)
from tongban.cases.models import Case
from tongban.identity.assurance import assurance_meaning, assurance_phrase
from tongban.portal.context import node_display

pytestmark = pytest.mark.django_db

HEX64 = re.compile(r"\b[0-9a-f]{64}\b")
NODE_CODE = re.compile(r"[（(](?:hub|sh|js|zj|ah)[）)]")
LEVEL_CODE = re.compile(r"\bL[123]\b")


def approve(client, number: str) -> None:
    client.post(f"/cases/{number}/actions/accept/", {"accept-note": "材料齐全"})
    response = client.post(
        f"/cases/{number}/actions/approve/", {"approve-note": "", "approve-confirm": "on"}
    )
    assert response.status_code == 302, texts(response)


def test_names_and_meanings_are_defined_once():
    assert node_display("zj") == "浙江 浙里办" and node_display("sh") == "上海 随申办"
    assert node_display("hub") == "长三角枢纽"
    assert assurance_meaning("L3") == "当面核验" and assurance_meaning("L2") == "在线实名"
    assert assurance_phrase("L3") == "实名等级：当面核验"
    with translation.override("en"):
        assert node_display("zj") == "Zhejiang Zheliban"
        assert assurance_phrase("L2") == "Identity assurance: Verified online"


def test_official_gets_the_technical_details_under_a_fold(client, region):
    case = receive_from_zj(client, region)
    client.force_login(
        user_with("qingpu.official", role="official", organization=region.org(QINGPU_AMR))
    )
    approve(client, NUMBER)
    page = html(client.get(f"/cases/{NUMBER}/"))
    main, _, fold = page.partition('<details class="card tech-details">')
    # the page itself speaks in names
    assert "当面核验（浙江 浙里办）" in texts_of(main) and "当面核验" in texts_of(main)
    assert not NODE_CODE.search(texts_of(main)), NODE_CODE.search(texts_of(main))
    assert "kid" not in texts_of(main) and "SM2-SM3" not in texts_of(main)
    assert "摘要已核验 ✓" in texts_of(main)  # officials check the materials' digests
    # the fold has the codes, the signature and every material's full SM3
    assert fold and "<summary>技术详情</summary>" in fold
    result = Case.objects.get(number=NUMBER).result
    assert f"kid {result.signature['kid']}" in fold
    assert "浙江（zj）" in fold and "上海（sh）" in fold and ">L3<" in fold
    for material in case.materials.all():
        assert material.sm3 in fold


def test_clerk_and_applicant_see_no_codes_digests_or_signature_ids(client, region):
    clerk = user_with("qingpu.clerk", role="clerk", window=region.window(WINDOW))
    client.force_login(clerk)
    response = client.post(APPLY_URL, apply_data(region), follow=True)
    assert response.status_code == 200, texts(response)
    case = Case.objects.get(receiving_window__code=WINDOW)
    page = client.get(f"/cases/{case.number}/")
    text, source = texts(page), html(page)
    assert "技术详情" not in text and "tech-details" not in source
    assert not HEX64.search(source), "an SM3 digest on a clerk's page"
    assert "SM3" not in text and "kid" not in text
    assert not NODE_CODE.search(text), NODE_CODE.search(text)
    assert not LEVEL_CODE.search(text), LEVEL_CODE.search(text)
    assert "当面核验（上海 随申办）" in text
    assert "实名等级 当面核验" in text or "当面核验" in text
    # the case list names the deciding province by name too
    listing = texts(client.get("/window/"))
    assert "转送浙江" in listing and not NODE_CODE.search(listing)


def test_the_english_switch_covers_menus_values_and_plurals(client, region):
    home = client.get("/")
    assert ">English</option>" in html(home) and ">中文</option>" in html(home)
    switched = client.post("/i18n/setlang/", {"language": "en", "next": "/items/"})
    assert switched.status_code == 302
    items = client.get("/items/", {"audience": "enterprise"})
    text = texts(items)
    assert '<html lang="en">' in html(items)
    assert ">English</option>" in html(items) and ">中文</option>" in html(items)
    assert "Search services" in text or "Find a service" in text
    # plurals: "1 working day", and more than one
    assert re.search(r"\bpromised in 1 working day\b", text, re.IGNORECASE), text
    detail = texts(client.get("/items/000501001000/"))
    days = re.search(r"(\d+) working days?", detail)
    assert days, detail
    assert days.group(0) == (
        f"{days.group(1)} working day" if days.group(1) == "1" else f"{days.group(1)} working days"
    )
    # catalog values shown as values are translated
    establishment = texts(client.get("/items/000301001000/"))
    assert "Market entry" in establishment and "Free of charge" in establishment
    assert "Verified online" in establishment or "Verified in person" in establishment
    # error pages too
    missing = client.get("/items/999999999999/")
    # the one Chinese word left is the menu's name for Chinese, marked as Chinese
    source = re.sub(r'<option [^>]*lang="zh-Hans"[^>]*>中文</option>', "", html(missing))
    assert missing.status_code == 404 and not re.search(r"[\u3400-\u9fff]", texts_of(source))


def texts_of(fragment: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment))
