from django.contrib import admin

from tongban.cases.models import Case, CaseStatusChange, HolidayYear


class HistoryInline(admin.TabularInline):
    model = CaseStatusChange
    extra = 0
    can_delete = False
    readonly_fields = (
        "from_status",
        "to_status",
        "occurred_at",
        "recorded_at",
        "node",
        "actor_name",
        "place",
        "reason",
    )
    exclude = ("details",)

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    """Read-only: cases change only through their actions (services), never by editing rows."""

    list_display = (
        "number",
        "item_name",
        "status",
        "perspective",
        "handling_organization",
        "receiving_window_name",
        "submitted_at",
        "deadline",
    )
    list_filter = ("status", "perspective", "channel")
    search_fields = ("number", "item_name")
    fields = (
        "number",
        "item_name",
        "status",
        "perspective",
        "channel",
        "handling_organization",
        "handling_node",
        "receiving_node",
        "receiving_window_name",
        "applicant_name",
        "applicant_id_masked",
        "submitted_at",
        "received_at",
        "accepted_at",
        "concluded_at",
        "deadline",
        "legal_deadline",
        "deadline_provisional",
    )
    readonly_fields = fields
    inlines = [HistoryInline]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(HolidayYear)
class HolidayYearAdmin(admin.ModelAdmin):
    list_display = ("year", "source", "loaded_at")
