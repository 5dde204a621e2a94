"""Accessibility: axe-core runs inside the main pages of each role, in Chromium, against
the shared four-province region; no violation of impact serious or critical is allowed.

axe-core 4.14.1 comes from the npm registry (scripts/axe.sh, run by ``make test``, puts it
in var/npm/). Without it the test is skipped locally and fails under CI, like the other
browser tests without Chromium.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.support import DESKTOP, PHONE, Actor, SmsLog, unavailable
from tests.browser.words_support import decided_case
from tongban.demo_seed import ESTABLISHMENT
from tongban.identity.demo_accounts import PERSONS

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "var" / "npm" / "node_modules" / "axe-core"
AXE_VERSION = "4.14.1"
BLOCKING = ("serious", "critical")
AXE_PATH = "/__axe-core__/axe.min.js"

# run the checks of the WCAG 2.x A/AA rule sets and axe's best practices
RUN = """async () => {
  const result = await axe.run(document, {
    runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]},
    resultTypes: ["violations"],
  });
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + " — " + n.failureSummary),
  }));
}"""


@pytest.fixture(scope="module")
def axe_script() -> str:
    script = AXE / "axe.min.js"
    if not script.exists():
        unavailable(f"{script} is missing: run scripts/axe.sh (make test does)")
    version = (AXE / "package.json").read_text(encoding="utf-8")
    assert f'"version": "{AXE_VERSION}"' in version, "axe-core is not the pinned version"
    return script.read_text(encoding="utf-8")


def serve_axe(actor: Actor, axe_script: str) -> None:
    """axe-core as a same-origin script (served by the browser itself), so the pages keep
    their Content-Security-Policy while they are checked."""
    actor.page.route(
        actor.base + AXE_PATH,
        lambda route: route.fulfill(body=axe_script, content_type="application/javascript"),
    )


def check(actor: Actor, where: str, found: dict) -> None:
    actor.page.add_script_tag(url=actor.base + AXE_PATH)
    for violation in actor.page.evaluate(RUN):
        if violation["impact"] in BLOCKING:
            found.setdefault(f"{actor.name} {where}", []).append(violation)


def audit(actor: Actor, path: str, found: dict) -> None:
    actor.goto(path)
    check(actor, path, found)


def test_main_pages_of_each_role_have_no_serious_violations(full_region, browser, axe_script):
    region = full_region
    zj, sh = region.url("zj"), region.url("sh")
    number = decided_case(region)
    found: dict[str, list] = {}

    visitor = Actor(browser, zj, PHONE, "visitor")
    serve_axe(visitor, axe_script)
    for path in ("/login/", "/register/"):
        audit(visitor, path, found)

    username = PERSONS["zj"][0]
    citizen = Actor(
        browser,
        zj,
        PHONE,
        username,
        sms=SmsLog(region.root / "logs" / "zj-web.log"),
    )
    serve_axe(citizen, axe_script)
    citizen.login(username)
    # on a phone the menu scrolls sideways, and shows it: shadows at the edges where items
    # are hidden (covers that scroll with the items hide them at the ends), items snap
    nav = citizen.page.evaluate(
        """() => {
          const list = document.querySelector(".nav-list"), style = getComputedStyle(list);
          return {overflow: list.scrollWidth - list.clientWidth, start: list.scrollLeft,
                  attachment: style.backgroundAttachment, snap: style.scrollSnapType};
        }"""
    )
    assert nav["overflow"] > 0 and nav["start"] == 0, nav
    assert nav["attachment"].startswith("local, local, scroll, scroll"), nav
    assert nav["snap"].startswith("x"), nav
    for path in (
        "/",
        "/items/",
        f"/items/{ESTABLISHMENT}/",
        "/me/cases/",
        f"/cases/{number}/",
        "/me/licences/",
        "/me/data-use/",
        "/verify/",
    ):
        audit(citizen, path, found)

    clerk = Actor(browser, zj, DESKTOP, "jiashan.clerk")
    serve_axe(clerk, axe_script)
    clerk.login("jiashan.clerk")
    for path in ("/window/", f"/window/apply/{ESTABLISHMENT}/", "/window/identity/"):
        audit(clerk, path, found)

    official = Actor(browser, sh, DESKTOP, "qingpu.official")
    serve_axe(official, axe_script)
    official.login("qingpu.official")
    for path in ("/work/", f"/cases/{number}/"):
        audit(official, path, found)
    official.page.locator("details.tech-details summary").click()  # the fold, opened
    check(official, f"/cases/{number}/ (技术详情 open)", found)

    report = "\n".join(
        f"{page}: [{v['impact']}] {v['id']} — {v['help']}\n    " + "\n    ".join(v["nodes"])
        for page, violations in found.items()
        for v in violations
    )
    assert not found, f"axe-core found serious or critical violations:\n{report}"
    for actor in (visitor, citizen, clerk, official):
        actor.close()
