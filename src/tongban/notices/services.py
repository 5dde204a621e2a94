"""Notice writes: telling an applicant what changed — by SMS at once, and in the
消息中心 at their home node.

``applicant_notify`` is called by the domain that made the change, inside its
transaction. The SMS goes through the node's SMS backend (``TONGBAN_SMS_BACKEND``,
the same as for sign-in codes) once the transaction has committed. The notice is
stored here when the person's home node (``identity.residence.home_node_of``) is
this node; otherwise a signed ``notice.deliver`` envelope is written to the outbox
in the same transaction, and the home node stores it (``exchange_handlers``).
Logs carry masked identifiers only.
"""

from __future__ import annotations

import datetime as dt
import logging
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from tongban.errors import NotFound
from tongban.exchange.envelopes import iso
from tongban.exchange.services import outbox_enqueue
from tongban.identity.masking import mask_id_number, mask_phone
from tongban.identity.pii import blind_index
from tongban.identity.residence import home_node_of, id_number_compact
from tongban.identity.selectors import access_for
from tongban.identity.sms import sms_send
from tongban.notices.models import Notice
from tongban.notices.selectors import notices_visible_to

logger = logging.getLogger(__name__)

MAX_TITLE = 128
MAX_TEXT = 2000
MAX_LINK = 512
SMS_PREFIX = "【通办】"


def _sms_after_commit(phone: str, text: str) -> None:
    """Run after the change committed: a failing gateway must not undo or fail it."""
    try:
        sms_send(phone, text)
    except Exception:  # noqa: BLE001 — any gateway error; the notice itself is kept
        logger.exception("SMS notice to %s could not be sent", mask_phone(phone))


def _link_for_home(link: str, home: str) -> str:
    """A path on this node, as an address the person can open from their home node:
    through single sign-on with their home node (no second account)."""
    if not link:
        return ""
    if link.startswith("/") and not link.startswith("//"):
        query = urlencode({"next": link})
        return f"{settings.TONGBAN_BASE_URL}/sso/{home}/start/?{query}"[:MAX_LINK]
    return link[:MAX_LINK] if link.startswith(("https://", "http://")) else ""


def _correlation(case_number: str) -> str:
    # one sequence per case: a case's notices arrive in order; others are independent
    if case_number:
        return f"notice:{case_number}"[:64]
    return f"notice:{timezone.now():%Y%m%d%H%M%S%f}"


def applicant_notify(
    *,
    id_number: str,
    phone: str,
    title: str,
    text: str,
    case_number: str = "",
    link: str = "",
    account=None,
) -> None:
    """Tell the person with ``id_number`` (SMS to ``phone``, notice at their home node).

    Must run inside the caller's transaction. ``link`` is a path on this node (the
    case page) or an absolute address. ``account`` — this node's account that asked
    for what the notice is about, if any — may read the notice even before its
    identity is proven (ADR 0010).
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("applicant_notify must run inside the caller's transaction")
    title = str(title or "").strip()[:MAX_TITLE]
    text = str(text or "").strip()[:MAX_TEXT]
    if not title or not text:
        raise ValueError("a notice needs a title and a text")
    number = id_number_compact(id_number)
    phone = str(phone or "").strip()
    if phone:
        transaction.on_commit(partial(_sms_after_commit, phone, SMS_PREFIX + text))
    here = settings.TONGBAN_NODE
    home = home_node_of(number) if number else ""
    if home == here:
        notice_store(
            id_number=number,
            account=account,
            title=title,
            text=text,
            link=link[:MAX_LINK],
            case_number=case_number,
            origin_node=here,
        )
        logger.info("notice for %s stored (%s)", mask_id_number(number), case_number or "-")
    elif home:
        outbox_enqueue(
            type="notice.deliver",
            recipient=home,
            correlation=_correlation(case_number),
            body={
                "id_number": number,
                "title": title,
                "text": text,
                "case_number": case_number[:64],
                "link": _link_for_home(link, home),
                "created_at": iso(timezone.now()),
            },
        )
        logger.info("notice for %s sent to home node %s", mask_id_number(number), home)
    else:
        logger.info("notice for %s: no home node in the region, SMS only", mask_id_number(number))


def notice_store(
    *,
    id_number: str,
    title: str,
    text: str,
    origin_node: str,
    link: str = "",
    case_number: str = "",
    account=None,
    created_at: dt.datetime | None = None,
) -> Notice:
    """Keep a notice for one of this node's residents (under the blind index only)."""
    return Notice.objects.create(
        recipient_index=blind_index(id_number) if id_number else "",
        account=account,
        title=title[:MAX_TITLE],
        text=text[:MAX_TEXT],
        link=link[:MAX_LINK],
        case_number=case_number[:64],
        origin_node=origin_node[:16],
        created_at=created_at or timezone.now(),
    )


def notice_mark_read(*, user, notice_id: int) -> Notice:
    """The person read one notice (a notice they may not read does not exist)."""
    with transaction.atomic():
        notice = (
            notices_visible_to(access_for(user)).select_for_update().filter(pk=notice_id).first()
        )
        if notice is None:
            raise NotFound(_("消息不存在"))
        if notice.read_at is None:
            notice.read_at = timezone.now()
            notice.save(update_fields=["read_at"])
    return notice


def notices_mark_all_read(*, user) -> int:
    """Every unread notice of the person is read now; returns how many."""
    with transaction.atomic():
        return (
            notices_visible_to(access_for(user))
            .filter(read_at__isnull=True)
            .update(read_at=timezone.now())
        )
