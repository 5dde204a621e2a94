from django.conf import settings

from tongban.identity.selectors import access_for

NODE_NAMES = {
    "hub": ("长三角枢纽", "长三角“一网通办”枢纽"),
    "sh": ("上海", "随申办"),
    "js": ("江苏", "苏服办"),
    "zj": ("浙江", "浙里办"),
    "ah": ("安徽", "皖事通"),
}


def node_context(request) -> dict:
    name, app = NODE_NAMES.get(settings.TONGBAN_NODE, (settings.TONGBAN_NODE, "通办"))
    return {
        "node_id": settings.TONGBAN_NODE,
        "node_role": settings.TONGBAN_ROLE,
        "node_name": name,
        "node_app": app,
        "access": access_for(getattr(request, "user", None)),
    }
