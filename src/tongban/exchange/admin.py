from django.contrib import admin

from tongban.exchange.models import InboxMessage, MessageLogEntry, OutboxMessage


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(OutboxMessage)
class OutboxAdmin(ReadOnlyAdmin):
    list_display = (
        "message_id",
        "type",
        "recipient",
        "correlation",
        "seq",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
    )
    list_filter = ("status", "type", "recipient")
    search_fields = ("message_id", "correlation")
    exclude = ("envelope",)


@admin.register(InboxMessage)
class InboxAdmin(ReadOnlyAdmin):
    list_display = (
        "message_id",
        "type",
        "sender",
        "correlation",
        "seq",
        "status",
        "refusal_code",
        "request_in_at",
    )
    list_filter = ("status", "type", "sender")
    search_fields = ("message_id", "correlation")
    exclude = ("envelope",)


@admin.register(MessageLogEntry)
class MessageLogAdmin(ReadOnlyAdmin):
    list_display = ("position", "direction", "kind", "type", "peer", "message_id", "code", "at")
    list_filter = ("direction", "kind", "type", "peer")
    search_fields = ("message_id",)
