"""Hub: list a node's public key in the directory and republish the configuration."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from tongban.directory.models import Node
from tongban.directory.services import configuration_publish, node_key_add, node_key_revoke
from tongban.gm.sm2 import KeyFormatError


class Command(BaseCommand):
    help = "node-key-add --node sh --kid KID --public-key HEX [--revoke OLDKID]"

    def add_arguments(self, parser):
        parser.add_argument("--node", required=True)
        parser.add_argument("--kid", required=True)
        parser.add_argument("--public-key", required=True)
        parser.add_argument("--revoke", default="")

    def handle(self, *args, **opts):
        try:
            with transaction.atomic():
                node_key_add(node_id=opts["node"], kid=opts["kid"], public_key=opts["public_key"])
                if opts["revoke"]:
                    node_key_revoke(kid=opts["revoke"])
                publication = configuration_publish()
        except Node.DoesNotExist as exc:
            raise CommandError(f"unknown node {opts['node']}") from exc
        except KeyFormatError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"published configuration serial {publication.serial}")
