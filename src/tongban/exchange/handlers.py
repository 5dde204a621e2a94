"""Registry of inbox handlers by message type.

A handler receives the verified envelope inside the inbox transaction; it
raises ``HandlerRefusal`` when the message cannot apply (e.g. the case is in
another state), which rolls back its effects and answers ``not_applicable``.
"""

from collections.abc import Callable

from tongban.exchange.envelopes import VerifiedEnvelope

Handler = Callable[[VerifiedEnvelope], None]
_handlers: dict[str, Handler] = {}


class HandlerRefusal(Exception):
    def __init__(self, message: str, *, code: str = "not_applicable"):
        super().__init__(message)
        self.message = message
        self.code = code


def inbox_handler(message_type: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _handlers[message_type] = fn
        return fn

    return register


def handler_for(message_type: str) -> Handler | None:
    return _handlers.get(message_type)


# --- sender side: what to do once a peer has answered -------------------------

DeliveryHook = Callable[[object, dict], None]
_delivery_hooks: dict[str, DeliveryHook] = {}


def on_delivered(message_type: str) -> Callable[[DeliveryHook], DeliveryHook]:
    """Register a callback run in the transaction that records the receipt."""

    def register(fn: DeliveryHook) -> DeliveryHook:
        _delivery_hooks[message_type] = fn
        return fn

    return register


def run_delivery_hooks(message: object, receipt: dict) -> None:
    hook = _delivery_hooks.get(getattr(message, "type", ""))
    if hook is not None:
        hook(message, receipt)
