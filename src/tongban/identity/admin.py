from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from tongban.identity.models import (
    AgentAuthorization,
    ApiToken,
    Enterprise,
    Person,
    SecurityEvent,
    StaffAssignment,
    User,
)


class StaffAssignmentInline(admin.TabularInline):
    model = StaffAssignment
    extra = 0
    raw_id_fields = ("organization", "window")


@admin.register(User)
class TongbanUserAdmin(UserAdmin):
    list_display = ("username", "display_name", "kind", "is_active", "is_staff")
    list_filter = ("kind", "is_active", "is_staff")
    fieldsets = (*UserAdmin.fieldsets, ("通办", {"fields": ("kind", "display_name", "person")}))
    raw_id_fields = ("person",)
    inlines = [StaffAssignmentInline]


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    """Identifiers are shown masked; search is by exact 身份证号 through the blind index."""

    list_display = ("name", "id_number_shown", "phone_shown", "home_node", "created_at")
    fields = ("name", "id_number_shown", "phone_shown", "home_node", "created_at")
    readonly_fields = fields

    def get_search_results(self, request, queryset, search_term):
        from tongban.identity.pii import blind_index

        if search_term:
            return queryset.filter(id_number_index=blind_index(search_term)) | queryset.filter(
                name=search_term
            ), False
        return queryset, False

    search_fields = ("name",)

    @admin.display(description="身份证号（已脱敏）")
    def id_number_shown(self, obj):
        return obj.id_number_masked

    @admin.display(description="手机号（已脱敏）")
    def phone_shown(self, obj):
        return obj.phone_masked

    def has_add_permission(self, request):
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = (
        "prefix",
        "name",
        "user",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    )
    readonly_fields = ("prefix", "key_digest", "created_at", "last_used_at")

    def has_add_permission(self, request):
        return False


class AgentAuthorizationInline(admin.TabularInline):
    model = AgentAuthorization
    extra = 0
    fields = ("agent", "item_codes", "expires_at", "revoked_at", "granted_at")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Enterprise)
class EnterpriseAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "home_node", "created_at")
    search_fields = ("name", "code")
    fields = ("name", "code", "home_node", "created_at")
    readonly_fields = fields
    inlines = [AgentAuthorizationInline]

    def has_add_permission(self, request):
        return False  # registered by the legal representative


@admin.register(SecurityEvent)
class SecurityEventAdmin(admin.ModelAdmin):
    list_display = ("at", "kind", "username", "ip", "details")
    list_filter = ("kind",)
    search_fields = ("username", "kind")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
