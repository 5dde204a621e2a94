"""Hub: list a node's public key in the directory and republish the configuration."""

import json

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from tongban.directory.models import Node
from tongban.directory.services import (
    configuration_publish,
    node_key_add,
    node_key_revoke,
    node_oidc_set,
)
from tongban.gm.sm2 import KeyFormatError


class Command(BaseCommand):
    help = "node-key-add --node sh --kid KID --public-key HEX [--revoke OLDKID]"

    def add_arguments(self, parser):
        parser.add_argument("--node", required=True)
        parser.add_argument("--kid", required=True)
        parser.add_argument("--public-key", required=True)
        parser.add_argument("--revoke", default="")
        parser.add_argument(
            "--oidc-issuer", default="", help="the node's OpenID Connect issuer URL"
        )
        parser.add_argument("--oidc-jwks", default="", help="its public signing keys (JWKS JSON)")

    def handle(self, *args, **opts):
        try:
            with transaction.atomic():
                node_key_add(node_id=opts["node"], kid=opts["kid"], public_key=opts["public_key"])
                if opts["revoke"]:
                    node_key_revoke(kid=opts["revoke"])
                if opts["oidc_jwks"]:
                    node_oidc_set(
                        node_id=opts["node"],
                        issuer=opts["oidc_issuer"],
                        jwks=json.loads(opts["oidc_jwks"]),
                    )
                publication = configuration_publish()
        except Node.DoesNotExist as exc:
            raise CommandError(f"unknown node {opts['node']}") from exc
        except (KeyFormatError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"published configuration serial {publication.serial}")
