from django.contrib import admin

from tongban.directory.models import (
    CachedConfiguration,
    ConfigurationPublication,
    LocalSigningKey,
    Node,
    NodeKey,
    Organization,
    TrustAnchor,
    Window,
)


class NodeKeyInline(admin.TabularInline):
    model = NodeKey
    extra = 0
    fields = ("kid", "public_key", "not_before", "not_after", "revoked")


@admin.register(Node)
class NodeAdmin(admin.ModelAdmin):
    list_display = ("node_id", "name", "app_name", "role", "base_url", "active")
    inlines = [NodeKeyInline]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "region", "node", "kind", "active")
    list_filter = ("node", "kind", "active")
    search_fields = ("name", "code", "region")


@admin.register(Window)
class WindowAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "node", "organization", "active")
    list_filter = ("node",)
    search_fields = ("name", "code")


@admin.register(LocalSigningKey, TrustAnchor)
class KeyAdmin(admin.ModelAdmin):
    list_display = ("kid", "public_key")

    def has_add_permission(self, request):
        return False  # keys are created with `tongban keys` / `tongban trust-hub`


@admin.register(ConfigurationPublication, CachedConfiguration)
class ConfigurationAdmin(admin.ModelAdmin):
    list_display = ("serial", "issued_at", "expires_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
