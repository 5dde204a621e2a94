"""新生儿出生“一件事” on a phone, in a real browser, across two real nodes.

李娜, a resident of 上海 (sh), applies once, on a phone-sized touch screen, for her
newborn born in 上海 whose 户口 is registered in 南京 (江苏, js). The 联办件 is kept at sh:
the 出生医学证明 is issued by 上海市卫生健康委员会 (sh); once it exists the 出生登记 starts
at 江苏省公安厅 (js), then 城乡居民医保参保登记 at 南京市医疗保障局 (js), then the 社会保障卡
at 江苏省人力资源和社会保障厅 (js). The officials decide through the API (each at their own
node); the applicant's 联办件 page then shows every part approved and the collected
results, each downloadable. The page is also checked with axe-core when it is installed.

Needs Debian's chromium (/usr/bin/chromium). Without it the test is skipped locally and
fails under CI.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from tests.browser.support import ARRIVAL_TIMEOUT, PDF, PHONE, Actor, SmsLog, running_region
from tests.browser.test_accessibility import AXE, check, serve_axe
from tongban.identity.demo_accounts import DEMO_PASSWORD, NAMED_OFFICIALS, PERSONS
from tongban.region import ApiClient

pytestmark = pytest.mark.browser

NEWBORN = "000550001000"
ORGANIZATIONS = (
    Path(__file__).resolve().parents[2] / "src/tongban/directory/data/organizations.json"
)
MOTHER_ID = PERSONS["sh"][2]
FATHER_ID = "310101198503045317"


@pytest.fixture(scope="module")
def live_region(tmp_path_factory):
    with running_region(tmp_path_factory.mktemp("region"), ("sh", "js")) as region:
        yield region


class PhoneActor(Actor):
    """An actor on a phone: a touch screen, a mobile viewport."""

    def __init__(self, browser, base_url: str, name: str, sms: SmsLog | None = None):
        super().__init__(
            browser,
            base_url,
            PHONE,
            name,
            sms,
            is_mobile=True,
            has_touch=True,
            device_scale_factor=2,
        )


def official_username(organization: str) -> str:
    """The demo official of an organization (demo_accounts: named, else by code order)."""
    orgs = json.loads(ORGANIZATIONS.read_text(encoding="utf-8"))
    org = next(o for o in orgs if o["name"] == organization)
    if organization in NAMED_OFFICIALS:
        return NAMED_OFFICIALS[organization][0]
    node = org["node"]
    ordered = sorted(
        (o for o in orgs if o["node"] == node and o.get("active", True)), key=lambda o: o["code"]
    )
    index = next(i for i, o in enumerate(ordered, 1) if o["code"] == org["code"])
    return f"{node}.official.{index:02d}"


def wait_until(fn, what: str, timeout: float = ARRIVAL_TIMEOUT):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


def test_newborn_one_form_on_a_phone_and_every_part_collected(live_region, browser, tmp_path):
    region = live_region
    sh, js = region.url("sh"), region.url("js")
    username, name, _id, _phone = PERSONS["sh"]
    files = {}
    for code in ("M01", "M02"):
        files[code] = tmp_path / f"{code}.pdf"
        files[code].write_bytes(PDF + f"% {code}\n".encode())

    # --- 1. the mother applies at home (sh), on her phone, with one form ---------------------
    mother = PhoneActor(browser, sh, username, sms=SmsLog(region.root / "logs" / "sh-web.log"))
    mother.login(username)
    mother.goto(f"/items/{NEWBORN}/")
    mother.page.get_by_role("link", name=re.compile("网上申请")).first.click()
    mother.page.wait_for_load_state()
    assert mother.page.url.endswith(f"/apply/{NEWBORN}/"), mother.page.url
    mother.assert_fits_the_screen()
    form = mother.page
    form.get_by_label("办理机构", exact=True).select_option(label="上海市卫生健康委员会（上海）")
    form.get_by_label("新生儿姓名", exact=True).fill("李小禾")
    form.get_by_label("新生儿性别", exact=True).select_option("女")
    form.get_by_label("出生日期", exact=True).fill("2026-11-20")
    form.get_by_label("出生医院", exact=True).fill("上海市第一妇婴保健院")
    form.get_by_label("出生地", exact=True).select_option(label="上海市")
    form.get_by_label("户口登记地", exact=True).select_option(label="江苏省南京市")
    form.get_by_label("父亲公民身份号码", exact=True).fill(FATHER_ID)
    form.get_by_label("母亲公民身份号码", exact=True).fill(MOTHER_ID)
    form.get_by_label("户口登记地址", exact=True).fill("江苏省南京市玄武区中山路1号")
    form.get_by_label("社保卡金融功能合作银行", exact=True).select_option("工商银行")
    phone_field = form.get_by_label("联系电话", exact=True)
    if phone_field.count() and not phone_field.input_value():  # else: the account's phone
        phone_field.fill(PERSONS["sh"][3])
    for code, path in files.items():
        form.locator(f"#id_m_{code}").set_input_files(str(path))
    mother.screenshot("composite-01-sh-newborn-form-phone")
    form.get_by_role("button", name="提交申请").click()
    form.wait_for_load_state()

    match = re.search(r"/composites/([^/]+)/$", mother.page.url)
    assert match, f"no redirect to the 联办件 page: {mother.page.url}\n{mother.text()[:3000]}"
    number = match.group(1)
    text = mother.text()
    assert f"联办件 {number} 已提交" in text, text[:2000]
    for part in ("出生医学证明", "户口登记", "医保参保登记", "社会保障卡申领"):
        assert part in text, part
    assert "0/4 个环节已办结" in text and "江苏省公安厅" in text
    assert MOTHER_ID not in mother.page.content() and FATHER_ID not in mother.page.content()
    mother.assert_fits_the_screen()
    mother.screenshot("composite-02-sh-newborn-submitted-phone")

    # --- 2. each part is decided by its own authority, at its own node (through the API) -----
    watcher = ApiClient(sh, "sh.admin", DEMO_PASSWORD)

    def member_number(key: str) -> str:
        def started():
            body = watcher.get(f"/cases/{number}").json()
            part = next(p for p in body["parts"] if p["key"] == key)
            return part["number"] if part["status"] != "waiting" else ""

        return wait_until(started, f"the part {key} to start")

    def decide(node_url: str, organization: str, key: str, result: dict) -> str:
        member = member_number(key)
        official = ApiClient(node_url, official_username(organization), DEMO_PASSWORD)
        wait_until(
            lambda: official.get(f"/cases/{member}").status_code == 200,
            f"{member} ({key}) at {node_url}",
        )
        official.post(f"/cases/{member}/accept", {"note": "材料齐全"}).raise_for_status()
        response = official.post(f"/cases/{member}/approve", {"result": result})
        assert response.status_code == 200, response.text
        return member

    members = {
        "birth_certificate": decide(
            sh,
            "上海市卫生健康委员会",
            "birth_certificate",
            {"gender": "女", "birth_place": "上海市第一妇婴保健院", "mother_name": name},
        ),
        "hukou": decide(
            js,
            "江苏省公安厅",
            "hukou",
            {"child_id_number": "320102202611200027", "registered_on": "2026-11-25"},
        ),
        "medical_insurance": decide(
            js, "南京市医疗保障局", "medical_insurance", {"insured_from": "2026-11-20"}
        ),
        "social_card": decide(
            js, "江苏省人力资源和社会保障厅", "social_card", {"card_number": "320100D15600001"}
        ),
    }

    # --- 3. the mother's 联办件 page: every part approved, the results collected ---------------
    page_path = f"/composites/{number}/"
    mother.wait_for(page_path, lambda t: "4/4 个环节已办结" in t, "every part approved")
    text = mother.text()
    assert "320100D15600001" in text  # the 社会保障卡's number, passed on
    assert "320102202611200027" not in mother.page.content()  # the newborn's 身份证号, masked
    steps = mother.page.locator("ol.stepper > li")
    assert steps.count() == 4
    for i in range(4):
        assert "已办结" in steps.nth(i).inner_text()
    results = mother.page.locator("#results-title + div table")
    for key, member in members.items():
        link = mother.page.locator(f'a[href="/api/v1/cases/{member}/documents/result.pdf"]')
        assert link.count() == 1, (key, results.inner_text())
        response = mother.context.request.get(sh + link.get_attribute("href"))
        assert response.status == 200, (key, response.status)
        assert response.headers["content-type"] == "application/pdf"
        assert response.body().startswith(b"%PDF")
    mother.assert_fits_the_screen()
    mother.screenshot("composite-03-sh-newborn-approved-phone")

    # 我的办件 lists the 联办件 as concluded; a member case links back to it
    mother.goto("/me/cases/")
    text = mother.text()
    assert number in text and "4/4 个环节已办结" in text
    mother.assert_fits_the_screen()
    mother.goto(f"/cases/{members['hukou']}/")
    assert f"联办件 {number} 的第 2 环节（户口登记）" in mother.text()
    mother.page.get_by_role("link", name="查看联办件全部环节和结果").click()
    mother.page.wait_for_load_state()
    assert mother.page.url.endswith(page_path)

    # --- 4. axe-core on the new pages (when scripts/axe.sh has fetched it) -------------------
    if (AXE / "axe.min.js").exists():
        found: dict[str, list] = {}
        serve_axe(mother, (AXE / "axe.min.js").read_text(encoding="utf-8"))
        for path in (page_path, "/me/cases/", f"/cases/{members['hukou']}/", f"/apply/{NEWBORN}/"):
            mother.goto(path)
            check(mother, path, found)
        report = "\n".join(
            f"{where}: [{v['impact']}] {v['id']} — {v['help']}\n    " + "\n    ".join(v["nodes"])
            for where, violations in found.items()
            for v in violations
        )
        assert not found, f"axe-core found serious or critical violations:\n{report}"
    mother.close()
