"""This deployment's SM2 signing keys: create, show, rotate."""

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tongban.directory.models import LocalSigningKey
from tongban.directory.signing import signing_key_create


class Command(BaseCommand):
    help = "keys show | keys create | keys rotate — prints {kid, public_key} as JSON"

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["show", "create", "rotate"])

    def handle(self, *args, action, **opts):
        key = LocalSigningKey.objects.filter(active=True).first()
        if action == "create":
            key = key or signing_key_create(node_id=settings.TONGBAN_NODE)
        elif action == "rotate":
            key = signing_key_create(node_id=settings.TONGBAN_NODE)
        elif key is None:
            raise CommandError("no signing key yet: run 'tongban keys create'")
        self.stdout.write(
            json.dumps(
                {"node": settings.TONGBAN_NODE, "kid": key.kid, "public_key": key.public_key}
            )
        )
