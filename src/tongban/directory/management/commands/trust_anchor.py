"""Print the hub's trust anchor and its SM3 fingerprint (docs/operations.md §6a).

tongban trust-anchor                      the hub key this deployment trusts
                                          (hub: its signing key; node: the pinned key)
tongban trust-anchor --public-key HEX     the fingerprint of a key received out of
                                          band, before it is pinned (nothing installed)
… --json                                  the same object as GET /api/v1/trust-anchor
"""

import json

from django.core.management.base import BaseCommand, CommandError

from tongban.directory.trust import FINGERPRINT_DEFINITION, key_fingerprint, trust_anchor_published
from tongban.errors import DomainError
from tongban.gm.sm2 import KeyFormatError


class Command(BaseCommand):
    help = "trust-anchor [--public-key HEX [--kid KID]] [--json] — hub key and SM3 fingerprint"

    def add_arguments(self, parser):
        parser.add_argument("--public-key", help="compute the fingerprint of this key only")
        parser.add_argument("--kid", default="", help="key id to show with --public-key")
        parser.add_argument("--json", action="store_true", help="print JSON")

    def handle(self, *args, **opts):
        if opts["public_key"]:
            try:
                fingerprint = key_fingerprint(opts["public_key"].strip())
            except KeyFormatError as exc:
                raise CommandError(str(exc)) from exc
            anchor = {
                "source": "given",
                "fingerprint_definition": FINGERPRINT_DEFINITION,
                "kid": opts["kid"],
                "public_key": opts["public_key"].strip().lower(),
                "fingerprint": fingerprint,
            }
        else:
            try:
                anchor = trust_anchor_published()
            except DomainError as exc:
                raise CommandError(exc.message) from exc
        if opts["json"]:
            self.stdout.write(json.dumps(anchor, ensure_ascii=False))
            return
        self.stdout.write(f"key id:          {anchor['kid'] or '-'}")
        self.stdout.write(f"source:          {anchor['source']}")
        self.stdout.write(f"public key:      {anchor['public_key']}")
        self.stdout.write(f"SM3 fingerprint: {anchor['fingerprint']}")
        for other in anchor.get("keys", [])[1:]:
            self.stdout.write(f"also pinned:     {other['kid']}  {other['fingerprint']}")
