from django.contrib import admin

from tongban.audit.models import AuditCheckpoint, AuditLeaf, WitnessedLog


class ReadOnlyAdmin(admin.ModelAdmin):
    """The audit log changes only by appends through its services."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditLeaf)
class AuditLeafAdmin(ReadOnlyAdmin):
    list_display = ("index", "kind", "created_at")
    list_filter = ("kind",)
    exclude = ("entry", "leaf_hash")


@admin.register(AuditCheckpoint)
class AuditCheckpointAdmin(ReadOnlyAdmin):
    list_display = ("id", "size", "witnesses", "created_at")
    exclude = ("root_hash",)


@admin.register(WitnessedLog)
class WitnessedLogAdmin(ReadOnlyAdmin):
    """At a witness: the latest checkpoint it cosigned of each log (changes only through
    add-checkpoint, docs/exchange-protocol.md §16.5)."""

    list_display = ("origin", "size", "updated_at")
    exclude = ("root_hash",)
