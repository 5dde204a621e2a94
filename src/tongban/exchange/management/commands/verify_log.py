"""Check the hash chain of the message log."""

from django.core.management.base import BaseCommand, CommandError

from tongban.exchange.message_log import message_log_verify


class Command(BaseCommand):
    help = "Verify the hash-chained message log; exit status 1 if it was altered."

    def handle(self, *args, **opts):
        ok, count, problem = message_log_verify()
        if not ok:
            raise CommandError(f"message log BROKEN after {count} entries: {problem}")
        self.stdout.write(f"message log intact: {count} entries")
