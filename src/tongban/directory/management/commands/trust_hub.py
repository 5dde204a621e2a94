"""Node: install the hub's public key as the trust anchor for the global configuration."""

from django.core.management.base import BaseCommand

from tongban.directory.services import trust_anchor_install


class Command(BaseCommand):
    help = "trust-hub --kid KID --public-key HEX"

    def add_arguments(self, parser):
        parser.add_argument("--kid", required=True)
        parser.add_argument("--public-key", required=True)

    def handle(self, *args, **opts):
        trust_anchor_install(kid=opts["kid"], public_key=opts["public_key"])
        self.stdout.write(f"trusting hub key {opts['kid']}")
