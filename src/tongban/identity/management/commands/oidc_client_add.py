"""Register an outside relying party (e.g. a province's own app) with this node's
OpenID Connect provider. Region nodes are registered automatically."""

import json
import secrets

from django.core.management.base import BaseCommand, CommandError
from oauth2_provider.models import Application


class Command(BaseCommand):
    help = "oidc-client-add --client-id ID --redirect-uri URI [--confidential] — prints the secret once"

    def add_arguments(self, parser):
        parser.add_argument("--client-id", required=True)
        parser.add_argument("--redirect-uri", required=True, action="append")
        parser.add_argument("--name", default="")
        parser.add_argument("--confidential", action="store_true")

    def handle(self, *args, **opts):
        if opts["client_id"].startswith("tongban-"):
            raise CommandError("client ids starting with 'tongban-' are reserved for region nodes")
        secret = secrets.token_urlsafe(32) if opts["confidential"] else ""
        Application.objects.update_or_create(
            client_id=opts["client_id"],
            defaults={
                "name": opts["name"] or opts["client_id"],
                "client_type": Application.CLIENT_CONFIDENTIAL
                if secret
                else Application.CLIENT_PUBLIC,
                "authorization_grant_type": Application.GRANT_AUTHORIZATION_CODE,
                "redirect_uris": " ".join(opts["redirect_uri"]),
                "algorithm": Application.RS256_ALGORITHM,
                "skip_authorization": False,
                "client_secret": secret,
            },
        )
        self.stdout.write(json.dumps({"client_id": opts["client_id"], "client_secret": secret}))
