"""Prepare the hub: its key, the province nodes, the directory seed, the catalog."""

import json

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from tongban.catalog.services import catalog_release_publish
from tongban.directory import services
from tongban.directory.models import LocalSigningKey
from tongban.directory.signing import signing_key_create
from tongban.licences.services import licence_types_load_seed
from tongban.sharing.services import sharing_catalog_load_seed

PROVINCES = {
    "sh": ("上海", "随申办", "310000"),
    "js": ("江苏", "苏服办", "320000"),
    "zj": ("浙江", "浙里办", "330000"),
    "ah": ("安徽", "皖事通", "340000"),
}


class Command(BaseCommand):
    help = "Initialise the hub (idempotent): database, key, nodes, organizations, windows, catalog."

    def add_arguments(self, parser):
        parser.add_argument(
            "--node",
            action="append",
            default=[],
            metavar="ID=URL",
            help="a province node and its base URL, e.g. sh=http://127.0.0.1:8001",
        )

    def handle(self, *args, **opts):
        if settings.TONGBAN_ROLE != "hub":
            raise CommandError("hub-init runs on the hub (TONGBAN_NODE=hub)")
        call_command("migrate", verbosity=0, interactive=False)
        key = LocalSigningKey.objects.filter(active=True).first() or signing_key_create(
            node_id="hub"
        )
        services.node_register(
            node_id="hub",
            name="长三角枢纽",
            app_name="长三角“一网通办”",
            base_url=settings.TONGBAN_BASE_URL,
            role="hub",
        )
        services.node_key_add(node_id="hub", kid=key.kid, public_key=key.public_key)
        for spec in opts["node"]:
            node_id, _, url = spec.partition("=")
            if node_id not in PROVINCES or not url:
                raise CommandError(f"bad --node {spec!r}")
            name, app, region = PROVINCES[node_id]
            services.node_register(
                node_id=node_id, name=name, app_name=app, region=region, base_url=url
            )
        orgs, windows = services.directory_load_seed()
        licence_types = licence_types_load_seed()
        datasets, authorizations = sharing_catalog_load_seed()
        release = catalog_release_publish()
        self.stdout.write(
            json.dumps(
                {
                    "hub_kid": key.kid,
                    "hub_public_key": key.public_key,
                    "organizations": orgs,
                    "windows": windows,
                    "licence_types": licence_types,
                    "datasets": datasets,
                    "sharing_authorizations": authorizations,
                    "catalog_release": release.version,
                    "items": release.items.count(),
                },
                ensure_ascii=False,
            )
        )
