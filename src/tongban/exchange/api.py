"""/api/v1/exchange — the inbox peers deliver to, and delivery monitoring."""

import datetime as dt

from django.conf import settings
from django.http import JsonResponse
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema

from tongban.api_errors import errors
from tongban.errors import PermissionDenied
from tongban.exchange.models import OutboxMessage
from tongban.exchange.services import inbox_receive_body
from tongban.identity.authentication import api_auth, requires_scope
from tongban.identity.selectors import access_for

router = Router(tags=["exchange"])


# the inbox answers with a signed receipt (a JSON object) whatever the outcome
RECEIPTS = dict.fromkeys((200, 400, 403, 409, 422, 503), dict)


@router.post(
    "/exchange/inbox",
    auth=None,
    response={**RECEIPTS, **errors(413)},
    summary="接收签名信封（节点间）",
)
def inbox(request):
    """Body: an envelope (docs/exchange-protocol.md). Answer: a signed receipt.

    200 accepted / queued / duplicate, 409 refused or replayed, 4xx rejected
    with ``signed.code``; never partially applied.
    """
    result = inbox_receive_body(request.body, max_bytes=settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    return JsonResponse(
        result.body, status=result.http_status, json_dumps_params={"ensure_ascii": False}
    )


class OutboxOut(Schema):
    message_id: str
    type: str
    recipient: str
    correlation: str
    seq: int
    status: str
    attempts: int
    last_error: str
    created_at: dt.datetime
    next_attempt_at: dt.datetime
    request_out_at: dt.datetime | None
    request_in_at: dt.datetime | None
    response_out_at: dt.datetime | None
    response_in_at: dt.datetime | None


@router.get(
    "/exchange/outbox",
    auth=api_auth,
    response=list[OutboxOut],
    summary="发件箱与投递记录（节点管理员）",
)
@requires_scope("exchange:monitor")
def outbox(request, status: str = "", limit: int = Query(100, ge=1, le=500)):
    if not access_for(request.user).node_admin:
        raise PermissionDenied(_("仅节点管理员可查看"))
    rows = OutboxMessage.objects.order_by("-id")
    if status:
        rows = rows.filter(status=status)
    return list(rows.defer("envelope", "receipt")[:limit])
