from django.conf import settings
from django.utils.translation import gettext_lazy as _

from tongban.identity.selectors import access_for

# node id → (name, the province's own service app). App names are brands and
# stay untranslated; the names of the provinces are translated.
NODE_NAMES = {
    "hub": (_("长三角枢纽"), "长三角“一网通办”枢纽"),
    "sh": (_("上海"), "随申办"),
    "js": (_("江苏"), "苏服办"),
    "zj": (_("浙江"), "浙里办"),
    "ah": (_("安徽"), "皖事通"),
}


def node_name(node_id: str) -> str:
    """The display name of a node ("浙江"), or its id when unknown."""
    entry = NODE_NAMES.get(node_id or "")
    return str(entry[0]) if entry else (node_id or "")


def node_app_name(node_id: str) -> str:
    """The province's service app ("随申办"); for an unknown node, its directory entry."""
    entry = NODE_NAMES.get(node_id or "")
    if entry:
        return entry[1]
    from tongban.directory.models import Node

    node = Node.objects.filter(node_id=node_id).only("app_name", "name").first()
    return (node.app_name or node.name) if node else (node_id or "")


def node_context(request) -> dict:
    name, app = NODE_NAMES.get(settings.TONGBAN_NODE, (settings.TONGBAN_NODE, "通办"))
    return {
        "node_id": settings.TONGBAN_NODE,
        "node_role": settings.TONGBAN_ROLE,
        "node_name": name,
        "node_app": app,
        "access": access_for(getattr(request, "user", None)),
    }
