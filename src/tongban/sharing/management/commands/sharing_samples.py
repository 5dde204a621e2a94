"""tongban sharing-samples — sample rows for this node's datasets (示例数据)."""

from django.core.management.base import BaseCommand

from tongban.sharing.samples import sharing_samples_generate


class Command(BaseCommand):
    help = (
        "Generate sample rows (marked sample) for the demo persons in this node's datasets "
        "and the enterprises its 企业登记信息 registers"
    )

    def add_arguments(self, parser):
        parser.add_argument("--node", default=None, help="node id (default: this node)")

    def handle(self, *args, node=None, **options):
        count = sharing_samples_generate(node_id=node)
        self.stdout.write(f"{count} sample rows (示例数据) written")
