"""Inbox handlers of the data-use log (docs/exchange-protocol.md §10.11)."""

from __future__ import annotations

from tongban.exchange.envelopes import VerifiedEnvelope
from tongban.exchange.handlers import HandlerRefusal, inbox_handler
from tongban.sharing import data_use


def _apply(fn, envelope: VerifiedEnvelope) -> None:
    try:
        fn(sender=envelope.signed["sender"], body=envelope.signed["body"])
    except data_use.DataUseRefused as exc:
        raise HandlerRefusal(str(exc), code="not_applicable") from exc


@inbox_handler("data.use")
def data_use_received(envelope: VerifiedEnvelope) -> None:
    """Home node: a use of one of our residents' data, with its audit leaf."""
    _apply(data_use.data_use_receive, envelope)


@inbox_handler("data.flag")
def data_flag_received(envelope: VerifiedEnvelope) -> None:
    """Using node: a resident questions a use by one of our organizations."""
    _apply(data_use.data_use_flag_receive, envelope)


@inbox_handler("data.flag_answer")
def data_flag_answer_received(envelope: VerifiedEnvelope) -> None:
    """Home node: the using organization's 数据专员 answered the flag."""
    _apply(data_use.data_use_answer_store, envelope)
