"""Storing the notices that another node sends for this node's residents."""

from __future__ import annotations

from django.conf import settings

from tongban.directory.models import Node
from tongban.exchange.envelopes import VerifiedEnvelope, parse_time
from tongban.exchange.handlers import HandlerRefusal, inbox_handler
from tongban.identity.residence import home_node_of, id_number_is_valid
from tongban.notices.services import MAX_LINK, MAX_TEXT, MAX_TITLE, notice_store

FIELDS = ("id_number", "title", "text", "case_number", "link", "created_at")
LIMITS = {
    "id_number": 18,
    "title": MAX_TITLE,
    "text": MAX_TEXT,
    "case_number": 64,
    "link": MAX_LINK,
    "created_at": 40,
}


def _link_checked(link: str, sender: str) -> str:
    """A link may only lead to the sending node's own address (its case page)."""
    if not link:
        return ""
    node = Node.objects.filter(node_id=sender, role="node", active=True).only("base_url").first()
    base = node.base_url.rstrip("/") + "/" if node and node.base_url else ""
    if not base or not link.startswith(base):
        raise HandlerRefusal("the link does not lead to the sending node")
    return link


@inbox_handler("notice.deliver")
def notice_deliver_received(envelope: VerifiedEnvelope) -> None:
    body = envelope.signed["body"]
    sender = envelope.signed["sender"]
    for name in FIELDS:
        value = body.get(name)
        if not isinstance(value, str) or len(value) > LIMITS[name] or "\x00" in value:
            raise HandlerRefusal(f"'{name}' must be a string of at most {LIMITS[name]} characters")
    if not body["title"].strip() or not body["text"].strip():
        raise HandlerRefusal("a notice needs a title and a text")
    id_number = body["id_number"]
    if not id_number_is_valid(id_number) or home_node_of(id_number) != settings.TONGBAN_NODE:
        raise HandlerRefusal("the person's home node is not this node")
    try:
        created_at = parse_time(body["created_at"])
    except ValueError as exc:
        raise HandlerRefusal("bad created_at") from exc
    notice_store(
        id_number=id_number,
        title=body["title"].strip(),
        text=body["text"].strip(),
        link=_link_checked(body["link"], sender),
        case_number=body["case_number"],
        origin_node=sender,
        created_at=created_at,
    )
