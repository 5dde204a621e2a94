"""The English switch, in Chromium, on every kind of page of each role, across the shared
four-province region.

After switching with the language menu, no Chinese may remain in what is ours: menus,
labels, buttons, statuses, values, messages, plurals, error pages, attributes people or
screen readers read (title, aria-label, placeholder, alt). What stays Chinese is content:
what people typed, names of organizations, windows and people, and the catalog release
(service names, materials, form labels, guides), which is published in Chinese — see
tests/browser/words_support.py — plus elements marked lang="zh-Hans" (the menu's 中文).
"""

from __future__ import annotations

import re

import pytest

from tests.browser.support import DESKTOP, PHONE, Actor, SmsLog
from tests.browser.words_support import CJK, decided_case, our_words
from tongban.demo_seed import ESTABLISHMENT
from tongban.identity.demo_accounts import PERSONS

pytestmark = pytest.mark.browser

HOUSEHOLD_PROOF = "000501001000"  # 户籍事项证明

# every text node and read-out attribute, except inside elements marked as Chinese
TEXTS = r"""() => {
  const cjk = /[\u3400-\u9fff]/;
  const out = [];
  const chinese = el => el.closest('script, style, [lang^="zh"]');
  const walker = document.createTreeWalker(document.documentElement, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, text = node.nodeValue.trim();
    if (text && cjk.test(text) && !chinese(node.parentElement)) out.push(text);
  }
  for (const el of document.querySelectorAll("[title], [aria-label], [placeholder], [alt], [data-label]")) {
    if (chinese(el)) continue;
    for (const name of ["title", "aria-label", "placeholder", "alt", "data-label"]) {
      const value = el.getAttribute(name);
      if (value && cjk.test(value)) out.push(`@${name}=${value}`);
    }
  }
  return out;
}"""
MASKED_NAME = re.compile(r"[\u3400-\u9fff]\*+[\u3400-\u9fff]?")  # 张* / 李*然
DOCUMENT_NUMBER = re.compile(r"\S*〔\d{4}〕\S*号")  # 文号: 青浦区市场监管局〔2026〕补字3300009号


def switch_to_english(actor: Actor) -> None:
    actor.page.locator("#lang-select").select_option("en")
    actor.page.locator(".lang-form button[type=submit]").click()
    actor.page.wait_for_load_state()
    assert actor.page.locator("html").get_attribute("lang") == "en"


def chinese_left(actor: Actor) -> list[str]:
    left = []
    for text in actor.page.evaluate(TEXTS):
        rest = our_words(DOCUMENT_NUMBER.sub(" ", MASKED_NAME.sub(" ", text)))
        if CJK.search(rest):
            left.append(text)
    return left


def visit(actor: Actor, path: str, problems: dict) -> str:
    actor.goto(path)
    assert actor.page.locator("html").get_attribute("lang") == "en", path
    left = chinese_left(actor)
    if left:
        problems[f"{actor.name} {path}"] = left
    return actor.text()


def test_every_page_kind_in_english(full_region, browser):
    region = full_region
    zj, sh, hub = region.url("zj"), region.url("sh"), region.url("hub")
    number = decided_case(region)
    problems: dict[str, list[str]] = {}

    # --- anybody: the public pages, a verification result, an error page -----------------
    visitor = Actor(browser, zj, PHONE, "visitor")
    visitor.goto("/")
    menu = visitor.page.locator("#lang-select option")
    assert menu.all_inner_texts() == ["中文", "English"]
    switch_to_english(visitor)
    for path in ("/", f"/items/{ESTABLISHMENT}/", "/login/", "/register/", "/verify/"):
        visit(visitor, path, problems)
    items = visit(visitor, "/items/", problems)
    # plurals: one working day, and more
    assert re.search(r"\b1 working day\b", items), items
    assert re.search(r"\b([2-9]|\d{2,}) working days\b", items), items
    assert not re.search(r"\b1 working days\b|\b([2-9]|\d{2,}) working day\b", items)
    visitor.goto("/verify/")
    visitor.page.locator("#verify-form [name=qr_text]").fill("TB1:not-a-presentation")
    visitor.page.locator("#verify-form button[type=submit]").last.click()
    visitor.page.wait_for_load_state()
    left = chinese_left(visitor)
    if left:
        problems["visitor verification result"] = left
    visitor.allowed_errors.append("404 (Not Found)")  # the page asked for is missing, on purpose
    response = visitor.page.goto(zj + "/no-such-page/")
    assert response.status == 404
    if left := chinese_left(visitor):
        problems["visitor 404"] = left

    hub_visitor = Actor(browser, hub, DESKTOP, "hub visitor")
    hub_visitor.goto("/")
    switch_to_english(hub_visitor)
    for path in ("/", "/register/", "/login/"):
        visit(hub_visitor, path, problems)

    # --- a resident at home (zj), on a phone -------------------------------------------------
    username = PERSONS["zj"][0]
    citizen = Actor(browser, zj, PHONE, username, sms=SmsLog(region.root / "logs" / "zj-web.log"))
    citizen.login(username)
    switch_to_english(citizen)
    for path in (
        "/",
        "/me/cases/",
        f"/cases/{number}/",
        "/me/enterprises/",
        "/me/licences/",
        f"/apply/{HOUSEHOLD_PROOF}/",
    ):
        visit(citizen, path, problems)

    # --- the 嘉善 window clerk (zj) ----------------------------------------------------------
    clerk = Actor(browser, zj, DESKTOP, "jiashan.clerk")
    clerk.login("jiashan.clerk")
    switch_to_english(clerk)
    for path in (
        "/window/",
        "/window/apply/",
        f"/window/apply/{ESTABLISHMENT}/",
        "/window/identity/",
        f"/cases/{number}/",
    ):
        visit(clerk, path, problems)

    # --- the 青浦 official (sh) ---------------------------------------------------------------
    official = Actor(browser, sh, DESKTOP, "qingpu.official")
    official.login("qingpu.official")
    switch_to_english(official)
    for path in ("/work/", "/work/licences/", "/work/licences/issue/"):
        visit(official, path, problems)
    case = visit(official, f"/cases/{number}/", problems)
    assert "Approved (concluded)" in case and "Technical details" in case

    report = "\n".join(f"{page}:\n    " + "\n    ".join(left) for page, left in problems.items())
    assert not problems, f"Chinese left on English pages:\n{report}"
    for actor in (visitor, hub_visitor, citizen, clerk, official):
        actor.close()
