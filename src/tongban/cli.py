"""The ``tongban`` command.

    tongban demo                  run the whole region (hub + sh js zj ah) on this machine
    tongban [--node N] serve      serve one node (or the hub: --node hub) with gunicorn
    tongban [--node N] worker     deliver the outbox and poll the hub
    tongban [--node N] verify-log check the hash-chained message log
    tongban [--node N] verify X   check a printed document (PDF, picture of its QR code, QR text:
                                  signature, current status at the issuer, printed = signed
                                  content) or a 亮证 QR code; exit 0 only if genuine/valid
    tongban [--node N] document-samples DIR   render one page of each document kind to PNG
    tongban [--node N] trust-anchor   print the hub key this deployment trusts and its SM3
                                  fingerprint (--public-key HEX: a key received out of band)
    tongban [--node N] <django management command> [args]   e.g. migrate, keys, hub-init

``--node`` (or TONGBAN_NODE) picks which deployment; its data lives in
``--data-dir`` (default ``var/<node>``) unless DATABASE_URL points elsewhere.
"""

from __future__ import annotations

import os
import sys


def _apply_global_options(argv: list[str]) -> list[str]:
    """Consume the global options that come before the command name."""
    keys = {
        "--node": "TONGBAN_NODE",
        "--data-dir": "TONGBAN_DATA_DIR",
        "--base-url": "TONGBAN_BASE_URL",
        "--hub-url": "TONGBAN_HUB_URL",
    }
    while argv and argv[0] in keys:
        if len(argv) < 2:
            sys.exit(f"tongban: {argv[0]} needs a value")
        os.environ[keys[argv[0]]] = argv[1]
        argv = argv[2:]
    return argv


def main(argv: list[str] | None = None) -> None:
    argv = _apply_global_options(list(sys.argv[1:] if argv is None else argv))
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(__doc__)
        return
    if argv[0] == "demo":
        from tongban.demo import main as demo_main

        demo_main(argv[1:])
        return
    if argv[0] == "serve":
        from tongban.serving import serve

        serve(argv[1:])
        return
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tongban.settings")
    from django.core.management import execute_from_command_line

    # commands are spelled with dashes on the command line: hub-init → hub_init
    command = argv[0].replace("-", "_")
    # `verify` takes documents and 亮证 codes alike (documents first, then licences)
    command = {"verify": "verify_document"}.get(command, command)
    execute_from_command_line(["tongban", command, *argv[1:]])


if __name__ == "__main__":
    main()
