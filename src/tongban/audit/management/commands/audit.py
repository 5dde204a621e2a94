"""`tongban audit checkpoint`, `tongban audit witness` and `tongban audit verify`."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from tongban.audit.services import audit_checkpoint_create
from tongban.audit.verify import audit_log_verify


class Command(BaseCommand):
    help = (
        "The append-only audit log: 'checkpoint' signs the current tree head; 'witness' asks "
        "the witnesses (TONGBAN_AUDIT_WITNESSES) to cosign the latest checkpoint now; 'verify' "
        "recomputes every leaf and the tree and compares them with the signed checkpoints, or "
        "with the checkpoint note in --from-checkpoint FILE (exit status 1 and the first bad "
        "index if they differ)."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["checkpoint", "witness", "verify"])
        parser.add_argument(
            "--from-checkpoint",
            metavar="FILE",
            help="verify: a checkpoint note of this node's log (e.g. a cosigned one kept "
            "elsewhere) to check the log against; '-' reads it from standard input",
        )

    def handle(self, *args, action, from_checkpoint=None, **opts):
        if action == "checkpoint":
            cp = audit_checkpoint_create()
            self.stdout.write(cp.note, ending="")
            return
        if action == "witness":
            from tongban.audit.models import AuditCheckpoint
            from tongban.audit.witness import audit_checkpoint_witness, audit_witnesses

            cp = AuditCheckpoint.objects.order_by("-id").first()
            if cp is None:
                raise CommandError("no checkpoint yet: run 'tongban audit checkpoint' first")
            cosigned = audit_checkpoint_witness(checkpoint=cp)
            missing = [w for w in audit_witnesses() if w not in cosigned]
            self.stdout.write(
                f"checkpoint at size {cp.size} cosigned by: {', '.join(cosigned) or 'none'}"
                + (f"; not (yet) by: {', '.join(missing)}" if missing else "")
            )
            if missing:
                raise CommandError(f"witnesses did not cosign: {', '.join(missing)} (see the log)")
            return
        note = None
        if from_checkpoint:
            import sys

            note = sys.stdin.read() if from_checkpoint == "-" else Path(from_checkpoint).read_text()
        result = audit_log_verify(note=note)
        if not result.ok:
            where = "" if result.bad_index is None else f" at index {result.bad_index}"
            raise CommandError(f"audit log INCONSISTENT{where}: {result.problem}")
        self.stdout.write(
            f"audit log consistent: {result.size} leaves"
            + (
                f", checkpoint at size {result.checkpoint_size}"
                if result.checkpoint_size is not None
                else ", no checkpoint yet"
            )
        )
