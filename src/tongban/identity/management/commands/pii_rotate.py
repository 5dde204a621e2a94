"""Re-encrypt personal identifiers with the current key (after adding a new one)."""

from django.core.management.base import BaseCommand

from tongban.identity.services import pii_reencrypt_all


class Command(BaseCommand):
    help = (
        "After putting a new key first in TONGBAN_PII_KEYS (keeping the old ones) and/or "
        "changing TONGBAN_BLIND_INDEX_KEY: re-encrypt and re-index every personal identifier."
    )

    def handle(self, *args, **opts):
        for field, count in pii_reencrypt_all().items():
            self.stdout.write(f"{field}: {count} rows updated")
