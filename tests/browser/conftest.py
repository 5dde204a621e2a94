"""Browser tests: Debian's Chromium driven by Playwright, against real node processes.

Without /usr/bin/chromium (or Playwright) the tests are skipped locally and
fail under CI.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.support import CHROMIUM, CHROMIUM_ARGS, unavailable


@pytest.fixture(scope="module")
def sync_playwright():
    if not Path(CHROMIUM).exists():
        unavailable(f"{CHROMIUM} is not installed (apt-get install chromium fonts-noto-cjk)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed")
    return sync_playwright


@pytest.fixture(scope="module")
def browser(sync_playwright):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
