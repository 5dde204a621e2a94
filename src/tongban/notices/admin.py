from django.contrib import admin

from tongban.notices.models import Notice


@admin.register(Notice)
class NoticeAdmin(admin.ModelAdmin):
    """Read-only: notices are written by the services and read by their person."""

    list_display = ("created_at", "title", "case_number", "origin_node", "read_at")
    list_filter = ("origin_node",)
    search_fields = ("case_number",)
    exclude = ("recipient_index", "account")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
