"""Log lines cannot be forged: user values are escaped in every record of every
logger, the web log keeps a fixed line prefix, and security events are one
JSON object per line with the values intact as data.

The handlers are the production ones (``tongban.log_safety.logging_config``),
writing to files: the web log (stderr in production) to ``web.log`` and the
security stream to ``security.jsonl`` as ``TONGBAN_SECURITY_LOG`` would.
"""

from __future__ import annotations

import json
import logging
import logging.config
import re

import pytest
from django.conf import settings

from tongban.identity.models import SecurityEvent
from tongban.log_safety import CONTINUATION, escape_controls, logging_config

pytestmark = pytest.mark.django_db

FORGED = "x\n2026-12-01 11:00:00 WARNING [sh] tongban.security: forged_assertion"
NUL = "ad\x00min\r\n\u2028\u202eevil\x00"
BIDI = "ad\rmin\u2028\u202eevil\x85"
LINE_START = re.compile(
    r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) \[sh\] "
    r"[\w.]+: "
)


class ProductionLogs:
    def __init__(self, tmp_path):
        self.web = tmp_path / "web.log"
        self.security = tmp_path / "security.jsonl"
        config = logging_config(node="sh", level="INFO", security_log=str(self.security))
        # the web log: the production console handler, aimed at a file instead of stderr
        config["handlers"]["console"].update(
            {"class": "logging.FileHandler", "filename": str(self.web), "encoding": "utf-8"}
        )
        # build the configured handlers without reconfiguring the test run's logging
        configurator = logging.config.DictConfigurator(config)
        conf = configurator.config
        for name in list(conf["formatters"]):
            conf["formatters"][name] = configurator.configure_formatter(conf["formatters"][name])
        for name in list(conf["filters"]):
            conf["filters"][name] = configurator.configure_filter(conf["filters"][name])
        self.console = configurator.configure_handler(conf["handlers"]["console"])
        self.json = configurator.configure_handler(conf["handlers"]["security_json"])
        # first among the root's handlers, as in production
        logging.getLogger().handlers.insert(0, self.console)
        logging.getLogger("tongban.security").addHandler(self.json)

    def close(self):
        logging.getLogger().removeHandler(self.console)
        logging.getLogger("tongban.security").removeHandler(self.json)
        self.console.close()
        self.json.close()

    def web_lines(self) -> list[str]:
        self.console.flush()
        raw = self.web.read_bytes()
        assert b"\x00" not in raw and b"\r" not in raw
        return raw.decode("utf-8").split("\n")[:-1]

    def security_events(self) -> list[dict]:
        self.json.flush()
        raw = self.security.read_bytes()
        assert raw.isascii() and b"\x00" not in raw
        # json.loads of each line: a line that is not one whole object fails here
        return [json.loads(line) for line in raw.decode("ascii").split("\n")[:-1]]

    def assert_every_line_has_the_prefix(self) -> list[str]:
        lines = self.web_lines()
        assert lines
        for line in lines:
            assert LINE_START.match(line) or line.startswith(CONTINUATION), line
        return lines


@pytest.fixture
def logs(tmp_path):
    logs = ProductionLogs(tmp_path)
    yield logs
    logs.close()


def test_a_forged_user_name_at_the_api_login_stays_inside_its_line(region, api, logs, caplog):
    caplog.set_level(logging.INFO)
    r = api.post("/auth/tokens", {"username": FORGED, "password": "wrong"})
    assert r.status_code == 401

    lines = logs.assert_every_line_has_the_prefix()
    security = [line for line in lines if " tongban.security: " in line]
    assert len(security) == 1
    assert security[0].split(" [sh] ", 1)[1] == (
        'tongban.security: login_failed user="x\\n2026-12-01 11:00:00 WARNING [sh] '
        'tongban.security: forged_assertion" ip=127.0.0.1 details={}'
    )
    assert not any(line.startswith("2026-12-01 11:00:00") for line in lines)

    (event,) = logs.security_events()
    assert event["kind"] == "login_failed" and event["user"] == FORGED
    assert event["node"] == "sh" and event["ip"] == "127.0.0.1" and event["details"] == {}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", event["ts"])

    # what the test run's own capture saw went through the same filter
    messages = [r.getMessage() for r in caplog.records]
    assert any("forged_assertion" in m for m in messages)
    assert not any("\n" in m for m in messages)

    row = SecurityEvent.objects.get(kind="login_failed")
    assert row.username == escape_controls(FORGED) and "\n" not in row.username


def test_a_forged_user_name_at_the_login_page_stays_inside_its_line(client, region, logs):
    page = client.post("/login/", {"username": FORGED, "password": "wrong"})
    assert page.status_code == 401

    lines = logs.assert_every_line_has_the_prefix()
    assert sum("forged_assertion" in line for line in lines) == 1
    (event,) = logs.security_events()
    assert event["kind"] == "login_failed" and event["user"] == FORGED


def test_nul_bytes_and_bidi_overrides_in_a_user_name(region, api, client, logs):
    r = api.post("/auth/tokens", {"username": BIDI, "password": "wrong"})
    assert r.status_code == 401
    # NUL characters: the API may refuse the body (400) or the login (401); the page's
    # form refuses them before anything is looked up
    r = api.post("/auth/tokens", {"username": NUL, "password": "wrong"})
    assert r.status_code in (400, 401)
    page = client.post("/login/", {"username": NUL, "password": "wrong"})
    assert page.status_code == 400
    # and a value with NUL bytes logged by any logger
    logging.getLogger("axes.watch_login").warning("AXES: login failure by %s", NUL)

    lines = logs.assert_every_line_has_the_prefix()  # also: no raw NUL or CR in the file
    text = "\n".join(lines)
    assert "\u2028" not in text and "\u202e" not in text and "\x85" not in text
    assert 'user="ad\\rmin\\u2028\\u202eevil\\x85"' in text
    assert "AXES: login failure by ad\\x00min\\r\\n\\u2028\\u202eevil\\x00" in text

    events = logs.security_events()
    assert events[0]["user"] == BIDI
    assert all(e["user"] == NUL for e in events[1:])
    row = SecurityEvent.objects.order_by("at", "pk").first()
    assert row.username == "ad\\rmin\\u2028\\u202eevil\\x85"
    assert all("\x00" not in e.username for e in SecurityEvent.objects.all())


def test_every_logger_is_escaped_not_only_the_security_log(client, region, logs):
    """A request path with an encoded newline is logged by Django (django.request)."""
    response = client.get("/no-such-page%0a2026-12-01%2011:00:00%20ERROR%20[sh]%20x:%20y/")
    assert response.status_code == 404
    lines = logs.assert_every_line_has_the_prefix()
    assert any("django.request: Not Found: /no-such-page\\n2026-12-01" in line for line in lines)
    assert logs.security_events() == []


def test_a_traceback_cannot_start_a_line_either(logs):
    log = logging.getLogger("tongban.test")
    try:
        raise ValueError(FORGED)
    except ValueError:
        log.exception("failed for %s", FORGED)
    lines = logs.assert_every_line_has_the_prefix()
    assert lines[0].endswith("failed for " + escape_controls(FORGED))
    assert (
        lines[-1]
        == CONTINUATION + "2026-12-01 11:00:00 WARNING [sh] tongban.security: forged_assertion"
    )


def test_long_and_odd_values_are_bounded_in_the_row(region, logs):
    from tongban.identity.security_log import security_event

    security_event("login_failed", username="u" * 10_000, note="\x00" * 5000, **{"k\n": "v"})
    row = SecurityEvent.objects.get()
    assert len(row.username) == 150 and row.username.endswith("…")
    assert len(row.details["note"]) == 1000 and "\x00" not in row.details["note"]
    assert row.details["k\\n"] == "v"
    (event,) = logs.security_events()
    assert len(event["user"]) == 1000 and event["details"]["k\n"] == "v"


def test_the_settings_send_security_events_to_stderr_or_the_named_file(tmp_path):
    default = logging_config(node="sh")["handlers"]["security_json"]
    assert default["class"] == "logging.StreamHandler" and "filename" not in default
    named = logging_config(node="sh", security_log=str(tmp_path / "s.jsonl"))
    assert named["handlers"]["security_json"]["filename"] == str(tmp_path / "s.jsonl")
    live = settings.LOGGING
    assert live["handlers"]["console"]["filters"] == ["mask_pii", "escape_controls"]
    assert live["loggers"]["tongban.security"]["handlers"] == ["security_json"]
    assert live["loggers"]["django"]["handlers"] == []
