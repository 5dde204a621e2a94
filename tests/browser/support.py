"""Helpers for the browser tests: ports, the demo's SMS "phone", one actor per browser context."""

from __future__ import annotations

import contextlib
import os
import random
import re
import socket
import time
from pathlib import Path

import pytest

from tongban.identity.demo_accounts import DEMO_PASSWORD
from tongban.region import ORDER, Region

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
ARRIVAL_TIMEOUT = 60.0  # seconds for an envelope to travel between the nodes

PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"browser test cannot run under CI: {reason}")
    pytest.skip(reason)


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_block(size: int = len(ORDER)) -> int:
    for _ in range(100):
        base = random.randint(20000, 40000 - size)
        if all(_port_free(base + i) for i in range(size)):
            return base
    raise RuntimeError("no free block of loopback ports")


@contextlib.contextmanager
def running_region(root: Path, nodes: tuple[str, ...]):
    """The hub and ``nodes`` as real processes under ``root``, stopped afterwards."""
    region = Region(root=root, base_port=free_port_block(), nodes=nodes)
    region.prepare(log=lambda *_: None)
    try:
        region.start_all()
        yield region
    finally:
        region.stop_all()


class SmsLog:
    """The demo's "phone": the console SMS backend prints to the node's web log."""

    def __init__(self, path: Path):
        self.path = path

    def mark(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def code_after(self, offset: int, masked_phone: str, timeout: float = 20.0) -> str:
        """The latest code sent to ``masked_phone`` after ``offset`` in the log."""
        pattern = re.compile(r"\[短信 → " + re.escape(masked_phone) + r"\][^\n]*验证码为 (\d{6})")
        deadline = time.monotonic() + timeout
        while True:
            with self.path.open("rb") as fh:
                fh.seek(offset)
                found = pattern.findall(fh.read().decode("utf-8", errors="replace"))
            if found:
                return found[-1]
            if time.monotonic() > deadline:
                raise AssertionError(f"no SMS code for {masked_phone} in {self.path}")
            time.sleep(0.2)


class Actor:
    """One person at one node: a browser context of their own (own cookies)."""

    def __init__(
        self,
        browser,
        base_url: str,
        viewport: dict,
        name: str,
        sms: SmsLog | None = None,
        **context_options,
    ):
        self.base = base_url
        self.name = name
        self.sms = sms
        self.context = browser.new_context(viewport=viewport, locale="zh-CN", **context_options)
        self.context.set_default_timeout(20_000)
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.allowed_errors: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))

    def _console(self, message) -> None:
        # CSP violations and script errors show up as console errors
        if message.type == "error" and not any(a in message.text for a in self.allowed_errors):
            self.problems.append(f"{message.text} ({message.location.get('url', '')})")

    def goto(self, path: str):
        response = self.page.goto(path if path.startswith("http") else self.base + path)
        assert response is not None and response.status < 500, (
            f"{path}: {response and response.status}"
        )
        return response

    def masked_phone(self) -> str:
        return re.search(r"\d{3}\*{4}\d{4}", self.text()).group(0)

    def enter_sms_code(self, offset: int, button: str) -> None:
        """On a code page: read the code the node "sent" and submit it."""
        assert self.sms is not None, f"{self.name}: no SMS log to read codes from"
        code = self.sms.code_after(offset, self.masked_phone())
        self.page.get_by_label("短信验证码").fill(code)
        self.page.get_by_role("button", name=button).click()
        self.page.wait_for_load_state()

    def login(self, username: str, password: str = DEMO_PASSWORD) -> None:
        self.goto("/login/")
        self.page.get_by_label("用户名").fill(username)
        self.page.get_by_label("密码").fill(password)
        offset = self.sms.mark() if self.sms else 0
        self.page.get_by_role("button", name="登录", exact=True).click()
        self.page.wait_for_load_state()
        if self.page.url.endswith("/login/code/"):  # residents: the SMS code
            self.enter_sms_code(offset, "验证并登录")
        assert "/login/" not in self.page.url, f"{username} could not sign in: {self.text()}"

    def text(self) -> str:
        return self.page.locator("body").inner_text()

    def wait_for(self, path: str, predicate, what: str, timeout: float = ARRIVAL_TIMEOUT) -> None:
        """Reload ``path`` until ``predicate(text)`` holds (envelopes travel asynchronously)."""
        deadline = time.monotonic() + timeout
        while True:
            self.goto(path)
            if predicate(self.text()):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: {what} not seen on {path} within {timeout}s")
            time.sleep(0.5)

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def assert_fits_the_screen(self) -> None:
        overflow = self.page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, (
            f"{self.name}: page is {overflow}px wider than the screen at {self.page.url}"
        )

    def close(self) -> None:
        self.context.close()
        assert not self.problems, f"{self.name}: browser console errors: {self.problems}"
