"""Log lines that user-supplied values cannot break or forge.

Every record of every logger reaches the handlers configured in
``settings.LOGGING`` through :class:`EscapeControlCharactersFilter`, and the
plain web log is written by :class:`PlainFormatter`. Together they guarantee:

* a record's message (after ``%``-formatting with its args) contains no
  control character, no line or paragraph separator and no bidirectional
  override: each is replaced by a visible escape — ``\\n``, ``\\r``, ``\\t``,
  ``\\x00`` … ``\\x9f``, ``\\u2028``, ``\\u202e`` …;
* a record is one line that starts with the fixed prefix of the format
  (``<time> <LEVEL> [<node>] <logger>: ``); only a traceback or a stack adds
  lines, and each of those starts with :data:`CONTINUATION` (``"  | "``), its
  text escaped the same way.

So no value — a user name, a form field, a peer's error text, an exception
message — can start a line of its own, and no NUL byte or terminal escape
reaches a log file. Backslashes are left as they are, which keeps escaping
idempotent (a message escaped twice is unchanged): the plain log is for
people; the security events have an unambiguous JSON stream of their own
(:mod:`tongban.identity.security_log`).
"""

from __future__ import annotations

import logging
import re

CONTINUATION = "  | "

# C0 controls, DEL, C1 controls (NEL among them), soft hyphen, the Arabic letter
# mark, the Mongolian vowel separator, zero-width characters and the left/right
# marks, the line and paragraph separators, the bidirectional embeddings,
# overrides and isolates, invisible operators, the byte order mark, the
# interlinear annotation characters, lone surrogates and the tag characters.
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\ud800-\udfff"
    "\U000e0000-\U000e007f]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_one(match: re.Match) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named:
        return named
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def escape_controls(text: str) -> str:
    """``text`` with every unsafe character replaced by its visible escape."""
    return _UNSAFE.sub(_escape_one, text)


def has_unsafe_characters(text: str) -> bool:
    return _UNSAFE.search(text) is not None


def escape_record(record: logging.LogRecord) -> None:
    """Escape the record's message and args in place (the formatted message)."""
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 — a broken format is the handler's to report
        return
    if has_unsafe_characters(message):
        record.msg = escape_controls(message)
        record.args = None


class EscapeControlCharactersFilter(logging.Filter):
    """Handler filter: no record leaves with a raw control character in its message."""

    def filter(self, record: logging.LogRecord) -> bool:
        escape_record(record)
        return True


def _continuation(text: str) -> str:
    return "\n".join(CONTINUATION + escape_controls(line) for line in text.splitlines())


class PlainFormatter(logging.Formatter):
    """One line per record; a traceback or stack follows on lines marked ``"  | "``."""

    def format(self, record: logging.LogRecord) -> str:
        escape_record(record)
        record.message = escape_controls(record.getMessage())
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        text = escape_controls(self.formatMessage(record))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            text += "\n" + _continuation(record.exc_text)
        if record.stack_info:
            text += "\n" + _continuation(self.formatStack(record.stack_info))
        return text


def logging_config(*, node: str, level: str = "INFO", security_log: str = "") -> dict:
    """``settings.LOGGING``: the web log on stderr, the security JSON stream on its own handler.

    * ``console`` (root): every record, masked (``mask_pii``) and escaped
      (``escape_controls``), formatted by :class:`PlainFormatter` as
      ``<time> <LEVEL> [<node>] <logger>: <message>``.
    * ``security_json`` (``tongban.security`` only): one JSON object per line
      (:class:`tongban.identity.security_log.SecurityJsonFormatter`), to stderr,
      or appended to ``security_log`` (reopened when log rotation moves it away).
    """
    security_target = (
        {
            "class": "logging.handlers.WatchedFileHandler",
            "filename": security_log,
            "encoding": "utf-8",
        }
        if security_log
        else {"class": "logging.StreamHandler"}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "mask_pii": {"()": "tongban.identity.masking.MaskPersonalIdentifiersFilter"},
            "escape_controls": {"()": "tongban.log_safety.EscapeControlCharactersFilter"},
            "security_events": {"()": "tongban.identity.security_log.SecurityEventsOnly"},
        },
        "formatters": {
            "plain": {
                "()": "tongban.log_safety.PlainFormatter",
                "fmt": "%(asctime)s %(levelname)s [" + node + "] %(name)s: %(message)s",
            },
            "security_json": {"()": "tongban.identity.security_log.SecurityJsonFormatter"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "plain",
                "filters": ["mask_pii", "escape_controls"],
            },
            "security_json": {
                **security_target,
                "formatter": "security_json",
                "filters": ["security_events"],
            },
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Django's own console and mail handlers would bypass the filters:
            # its records go to the root handler like every other record
            "django": {"handlers": [], "level": "INFO", "propagate": True},
            "django.server": {"level": "WARNING"},
            "tongban.security": {"handlers": ["security_json"], "propagate": True},
        },
    }
