from django.contrib import admin

from tongban.catalog.models import Implementation, Material, Release, ServiceItem


class MaterialInline(admin.TabularInline):
    model = Material
    extra = 0


class ImplementationInline(admin.TabularInline):
    model = Implementation
    extra = 0
    raw_id_fields = ("organization",)


@admin.register(ServiceItem)
class ServiceItemAdmin(admin.ModelAdmin):
    list_display = (
        "basic_code",
        "name",
        "audience",
        "area",
        "mode",
        "promised_limit_days",
        "active",
    )
    list_filter = ("audience", "mode", "area", "active")
    search_fields = ("basic_code", "name", "search_text")
    # 接续办 stages / 集成办 parts come from the release, checked at import (catalog/composition.py)
    readonly_fields = ("stages", "parts")
    inlines = [MaterialInline, ImplementationInline]


@admin.register(Release)
class ReleaseAdmin(admin.ModelAdmin):
    list_display = ("version", "published_on", "sm3", "current", "imported_at")
    exclude = ("document",)

    def has_add_permission(self, request):
        return False  # releases are published by the hub and synced
