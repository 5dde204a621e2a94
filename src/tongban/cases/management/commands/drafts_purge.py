"""Delete expired application drafts and the stored files no case or other draft uses.

Drafts are also purged whenever a new one is opened; this command is for a cron job
on a quiet node (``tongban drafts-purge``)."""

from django.core.management.base import BaseCommand

from tongban.cases.drafts import draft_purge_expired


class Command(BaseCommand):
    help = "Delete expired application drafts (window 24 h, saved online drafts 30 days)."

    def handle(self, *args, **opts):
        count = draft_purge_expired()
        self.stdout.write(f"{count} expired draft(s) deleted")
