"""Node: install the hub's public key as the trust anchor for the global configuration.

Compare the printed SM3 fingerprint with the one the hub's operator gave you out
of band (docs/operations.md §6a) — or check it first with ``tongban trust-anchor
--public-key HEX``, which installs nothing.
"""

from django.core.management.base import BaseCommand, CommandError

from tongban.directory.services import trust_anchor_install
from tongban.directory.trust import key_fingerprint
from tongban.gm.sm2 import KeyFormatError


class Command(BaseCommand):
    help = "trust-hub --kid KID --public-key HEX"

    def add_arguments(self, parser):
        parser.add_argument("--kid", required=True)
        parser.add_argument("--public-key", required=True)

    def handle(self, *args, **opts):
        try:
            fingerprint = key_fingerprint(opts["public_key"])
        except KeyFormatError as exc:
            raise CommandError(str(exc)) from exc
        trust_anchor_install(kid=opts["kid"], public_key=opts["public_key"])
        self.stdout.write(f"trusting hub key {opts['kid']}, SM3 fingerprint {fingerprint}")
