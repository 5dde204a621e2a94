"""An upstream identity provider (standing in for the national government service
platform) configured for one node: a person signs in there and arrives at the node
with assurance L3. The provider is a real OpenID Connect provider process started
here; the node finds it by discovery."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from html.parser import HTMLParser

import pytest
import requests
from stdnum.cn import ric

from tests.live_regions import free_port_block

from .test_region_flow1 import wait_for

pytestmark = pytest.mark.e2e
PASSWORD = "National-Platform-2026"


class Forms(HTMLParser):
    """The inputs of every form on a page: [(action, {name: value})]."""

    def __init__(self):
        super().__init__()
        self.forms: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append((attrs.get("action") or "", {}))
        elif tag in ("input", "button") and self.forms and attrs.get("name"):
            if attrs.get("type") in ("submit",) and tag == "input":
                return
            if tag == "button":
                return
            self.forms[-1][1][attrs["name"]] = attrs.get("value", "")


def form_fields(html: str, containing: str) -> dict:
    parser = Forms()
    parser.feed(html)
    for _, fields in parser.forms:
        if containing in fields:
            return fields
    raise AssertionError(f"no form with {containing}")


SEED = """
from tongban.identity.models import User
from tongban.identity.services import person_upsert
person = person_upsert(name="钱多多", id_number="{id_number}", phone="13900001111", home_node="gov")
user, _ = User.objects.get_or_create(username="qianduoduo", defaults={{"kind": "person", "person": person,
                                     "display_name": "钱多多", "assurance": "L3"}})
user.set_password("{password}")
user.save()
"""


@pytest.fixture
def national_platform(live_region, tmp_path):
    port = free_port_block(1)
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in live_region.env("zj").items() if k != "DATABASE_URL"}
    env.update(TONGBAN_NODE="gov", TONGBAN_DATA_DIR=str(tmp_path / "gov"), TONGBAN_BASE_URL=url)
    prefix = "11010119850101" + "234"
    id_number = prefix + ric.calc_check_digit(prefix + "0")

    def run(*args):
        result = subprocess.run(
            [sys.executable, "-m", "tongban.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout

    run("migrate", "-v0")
    run("shell", "-c", SEED.format(id_number=id_number, password=PASSWORD))
    client = json.loads(
        run(
            "oidc-client-add",
            "--client-id",
            "zj-portal",
            "--confidential",
            "--redirect-uri",
            f"{live_region.url('zj')}/sso/callback/upstream/",
        )
        .strip()
        .splitlines()[-1]
    )
    log = tmp_path / "gov-web.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tongban.cli", "serve", "--port", str(port), "--workers", "1"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def up():
        assert proc.poll() is None, log.read_text()[-2000:]
        try:
            return requests.get(f"{url}/api/v1/health", timeout=5).ok
        except requests.RequestException:  # not up yet, or too busy to answer in time
            return False

    wait_for(up, what="national platform up")
    live_region.node_env["zj"] = {
        "TONGBAN_UPSTREAM_OIDC_ISSUER": f"{url}/o",
        "TONGBAN_UPSTREAM_OIDC_CLIENT_ID": client["client_id"],
        "TONGBAN_UPSTREAM_OIDC_CLIENT_SECRET": client["client_secret"],
        "TONGBAN_UPSTREAM_OIDC_NAME": "国家政务服务平台",
    }
    live_region.stop("zj", worker=False)
    live_region.start("zj", worker=False)
    try:
        yield {"url": url, "log": log, "id_number": id_number}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        live_region.node_env.pop("zj", None)
        live_region.stop("zj", worker=False)
        live_region.start("zj", worker=False)


def last_code(log) -> str:
    codes = re.findall(r"验证码为 (\d{6})", log.read_text(encoding="utf-8", errors="replace"))
    assert codes, "no SMS code printed"
    return codes[-1]


def test_sign_in_through_the_upstream_provider(live_region, national_platform):
    zj, gov = live_region.url("zj"), national_platform["url"]
    browser = requests.Session()
    r = browser.get(f"{zj}/sso/upstream/start/?next=/me/cases/", allow_redirects=False)
    assert r.status_code == 302 and r.headers["Location"].startswith(f"{gov}/o/authorize/")
    assert "code_challenge=" in r.headers["Location"] and "nonce=" in r.headers["Location"]
    r = browser.get(r.headers["Location"])  # → the provider's login page
    assert r.url.startswith(f"{gov}/login/")
    fields = form_fields(r.text, "username")
    r = browser.post(r.url, data={**fields, "username": "qianduoduo", "password": PASSWORD})
    time.sleep(0.3)
    fields = form_fields(r.text, "code")
    r = browser.post(
        r.url, data={**fields, "code": last_code(national_platform["log"])}, allow_redirects=True
    )
    # the consent page of the provider: allow
    assert r.url.startswith(f"{gov}/o/authorize/"), r.url
    fields = form_fields(r.text, "redirect_uri")
    r = browser.post(r.url, data={**fields, "allow": "Authorize"}, allow_redirects=False)
    callback = r.headers["Location"]
    assert callback.startswith(f"{zj}/sso/callback/upstream/")
    r = browser.get(callback, allow_redirects=False)
    assert r.status_code == 302 and r.headers["Location"].endswith("/me/cases/")
    assert browser.get(f"{zj}/me/cases/").status_code == 200
    out = live_region.manage(
        "zj",
        "shell",
        "-c",
        "from tongban.identity.models import User;"
        "u=User.objects.get(person__name='钱多多');print(u.assurance, u.person.home_node)",
    )
    assert out.strip().splitlines()[-1].split() == ["L3", "zj"]
    # the same callback again (replayed state) is refused, cleanly
    again = requests.Session()
    assert again.get(callback).status_code == 400
    assert browser.get(callback).status_code == 400
