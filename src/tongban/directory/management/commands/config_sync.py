"""Node: poll the hub once for the global configuration and catalog."""

from django.core.management.base import BaseCommand, CommandError

from tongban.directory.services import configuration_poll, current_configuration


class Command(BaseCommand):
    help = "Fetch, verify and apply the hub's signed global configuration now."

    def handle(self, *args, **opts):
        try:
            configuration_poll()
        except Exception as exc:  # noqa: BLE001 — reported to the operator
            raise CommandError(f"configuration sync failed: {exc}") from exc
        config = current_configuration()
        self.stdout.write(
            f"configuration serial {config['serial']}, expires {config['expires_at']}"
        )
