"""The background worker: outbox delivery, configuration polling / publishing, and
refreshing the issuing nodes' licence status lists for offline verification."""

import logging
import signal
import time

import requests
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from tongban.exchange.dispatcher import dispatch_once

log = logging.getLogger("tongban.worker")


class Command(BaseCommand):
    help = "Run the worker loop until SIGTERM/SIGINT."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one pass, then exit")

    def handle(self, *args, once=False, **opts):
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        next_config = next_status_lists = next_checkpoint = 0.0
        session = requests.Session()  # keep-alive connections to the peers
        log.info("worker started")
        while not stopping:
            close_old_connections()
            if time.monotonic() >= next_config:
                self._configuration()
                next_config = time.monotonic() + settings.TONGBAN_CONFIG_POLL_SECONDS
            if settings.TONGBAN_ROLE != "hub" and time.monotonic() >= next_status_lists:
                self._status_lists(session)
                next_status_lists = time.monotonic() + min(
                    60, settings.TONGBAN_STATUS_LIST_REFRESH_SECONDS
                )
            if time.monotonic() >= next_checkpoint:
                self._audit_checkpoint()
                self._audit_witness(session)
                self._data_use_proofs(session)
                next_checkpoint = time.monotonic() + settings.TONGBAN_AUDIT_CHECKPOINT_SECONDS
            try:
                attempted = dispatch_once(session=session)
            except Exception:  # noqa: BLE001 — a worker must survive a failing pass
                log.exception("dispatch pass failed")
                attempted = 0
            if once:
                break
            if not attempted:
                time.sleep(settings.TONGBAN_WORKER_IDLE_SECONDS)
        log.info("worker stopped")

    def _audit_checkpoint(self) -> None:
        """Sign a checkpoint of the audit log when it grew or the last one is stale."""
        try:
            from tongban.audit.services import audit_checkpoint_if_due

            audit_checkpoint_if_due(max_age_seconds=settings.TONGBAN_AUDIT_CHECKPOINT_SECONDS)
        except Exception as exc:  # noqa: BLE001 — e.g. no signing key yet; try again later
            log.warning("audit checkpoint failed: %s", exc)

    def _audit_witness(self, session) -> None:
        """Ask the witnesses to cosign the latest checkpoint (those that did not yet)."""
        try:
            from tongban.audit.witness import audit_checkpoint_witness

            audit_checkpoint_witness(session=session)
        except Exception as exc:  # noqa: BLE001 — a witness failure never stops the worker
            log.warning("audit checkpoint witnessing failed: %s", exc)

    def _data_use_proofs(self, session) -> None:
        """Inclusion proofs of the data uses kept here (docs/data-sharing.md §6)."""
        if settings.TONGBAN_ROLE == "hub":
            return
        try:
            from tongban.sharing.data_use import data_use_proofs_collect

            data_use_proofs_collect(session=session)
        except Exception as exc:  # noqa: BLE001 — a peer down: try again next round
            log.warning("data-use proofs failed: %s", exc)

    def _configuration(self) -> None:
        try:
            if settings.TONGBAN_ROLE == "hub":
                from tongban.directory.services import configuration_refresh_if_due

                configuration_refresh_if_due()
            else:
                from tongban.directory.services import configuration_poll

                configuration_poll()
        except Exception as exc:  # noqa: BLE001 — the hub may be down; keep the cached copy
            log.warning("configuration step failed: %s", exc)

    def _status_lists(self, session) -> None:
        try:
            from tongban.licences.services import status_lists_refresh_due

            status_lists_refresh_due(session=session)
        except Exception as exc:  # noqa: BLE001 — verification falls back to what is cached
            log.warning("status list refresh failed: %s", exc)
