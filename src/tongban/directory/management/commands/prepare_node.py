"""Node: migrate, create the signing key, trust the hub. Prints the node's key as JSON."""

import json

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from tongban.directory.models import LocalSigningKey
from tongban.directory.services import trust_anchor_install
from tongban.directory.signing import signing_key_create


class Command(BaseCommand):
    help = "prepare-node [--hub-kid KID --hub-public-key HEX] (idempotent)"

    def add_arguments(self, parser):
        parser.add_argument("--hub-kid", default="")
        parser.add_argument("--hub-public-key", default="")

    def handle(self, *args, **opts):
        call_command("migrate", verbosity=0, interactive=False)
        key = LocalSigningKey.objects.filter(active=True).first() or signing_key_create(
            node_id=settings.TONGBAN_NODE
        )
        if opts["hub_kid"]:
            trust_anchor_install(kid=opts["hub_kid"], public_key=opts["hub_public_key"])
        from tongban.identity.oidc_provider import public_jwks

        output = {
            "node": settings.TONGBAN_NODE,
            "kid": key.kid,
            "public_key": key.public_key,
            "oidc_issuer": settings.OAUTH2_PROVIDER["OIDC_ISS_ENDPOINT"],
            "oidc_jwks": public_jwks(),
        }
        self.stdout.write(json.dumps(output))
