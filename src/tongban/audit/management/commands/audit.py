"""`tongban audit checkpoint` and `tongban audit verify`."""

from django.core.management.base import BaseCommand, CommandError

from tongban.audit.services import audit_checkpoint_create
from tongban.audit.verify import audit_log_verify


class Command(BaseCommand):
    help = (
        "The append-only audit log: 'checkpoint' signs the current tree head; 'verify' "
        "recomputes every leaf and the tree and compares them with the latest checkpoint "
        "(exit status 1 and the first bad index if they differ)."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["checkpoint", "verify"])

    def handle(self, *args, action, **opts):
        if action == "checkpoint":
            cp = audit_checkpoint_create()
            self.stdout.write(cp.note, ending="")
            return
        result = audit_log_verify()
        if not result.ok:
            where = "" if result.bad_index is None else f" at index {result.bad_index}"
            raise CommandError(f"audit log INCONSISTENT{where}: {result.problem}")
        self.stdout.write(
            f"audit log consistent: {result.size} leaves"
            + (
                f", latest checkpoint at size {result.checkpoint_size}"
                if result.checkpoint_size is not None
                else ", no checkpoint yet"
            )
        )
