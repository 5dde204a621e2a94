from django.conf import settings
from django.utils.translation import gettext_lazy as _

from tongban.identity.selectors import access_for
from tongban.notices.selectors import notices_unread_count

# node id → (name, the province's own service app). App names are brands: in English
# they are written in pinyin, as the provinces do.
NODE_NAMES = {
    "hub": (_("长三角枢纽"), _("长三角“一网通办”枢纽")),
    "sh": (_("上海"), _("随申办")),
    "js": (_("江苏"), _("苏服办")),
    "zj": (_("浙江"), _("浙里办")),
    "ah": (_("安徽"), _("皖事通")),
}


def node_name(node_id: str) -> str:
    """The display name of a node ("浙江"), or its id when unknown."""
    entry = NODE_NAMES.get(node_id or "")
    return str(entry[0]) if entry else (node_id or "")


def node_app_name(node_id: str) -> str:
    """The province's service app ("随申办"); for an unknown node, its directory entry."""
    entry = NODE_NAMES.get(node_id or "")
    if entry:
        return str(entry[1])
    from tongban.directory.models import Node

    node = Node.objects.filter(node_id=node_id).only("app_name", "name").first()
    return (node.app_name or node.name) if node else (node_id or "")


def node_display(node_id: str) -> str:
    """What people call a node: the province and its platform ("浙江 浙里办"), not its
    code; the hub is just its name. Unknown nodes: their directory entry."""
    if not node_id:
        return ""
    entry = NODE_NAMES.get(node_id)
    if entry:
        return str(entry[0]) if node_id == "hub" else f"{entry[0]} {entry[1]}"
    from tongban.directory.models import Node

    node = Node.objects.filter(node_id=node_id).only("app_name", "name").first()
    if node is None:
        return node_id
    return f"{node.name} {node.app_name}".strip()


def node_context(request) -> dict:
    name, app = NODE_NAMES.get(settings.TONGBAN_NODE, (settings.TONGBAN_NODE, "通办"))
    access = access_for(getattr(request, "user", None))
    return {
        "node_id": settings.TONGBAN_NODE,
        "node_role": settings.TONGBAN_ROLE,
        "node_name": name,
        "node_app": app,
        "access": access,
        # 消息中心 in the menu: counted only when a page shows it (a callable is lazy)
        "unread_notices": lambda: notices_unread_count(access),
        # 数据专员 in the menu (a callable: asked only when a page shows the menu)
        "data_officer": lambda: _is_data_officer(request),
    }


def _is_data_officer(request) -> bool:
    from tongban.sharing.data_use_selectors import officer_organizations

    return officer_organizations(getattr(request, "user", None)) is not None
