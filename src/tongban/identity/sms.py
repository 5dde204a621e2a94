"""Sending SMS through a pluggable backend (``TONGBAN_SMS_BACKEND``).

* ``tongban.identity.sms.ConsoleBackend`` (default): writes the message to
  standard output — the demo's "phone".
* ``tongban.identity.sms.LocmemBackend``: keeps messages in ``LocmemBackend.outbox``
  (tests read codes from there).
* A province's SMS gateway plugs in as a class with ``send(phone, text)``.
"""

from __future__ import annotations

import sys
from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from tongban.identity.masking import mask_phone


class ConsoleBackend:
    def send(self, phone: str, text: str) -> None:
        sys.stdout.write(f"[短信 → {mask_phone(phone)}] {text}\n")
        sys.stdout.flush()


class LocmemBackend:
    outbox: list[tuple[str, str]] = []

    def send(self, phone: str, text: str) -> None:
        LocmemBackend.outbox.append((phone, text))


@cache
def _backend():
    return import_string(settings.TONGBAN_SMS_BACKEND)()


def sms_send(phone: str, text: str) -> None:
    _backend().send(phone, text)
