"""The sharing catalog in the back office: read only (it comes from the hub's signed
configuration); sample rows are listed without their encrypted content."""

from django.contrib import admin

from tongban.sharing.models import Dataset, DatasetField, SampleRecord, SharingAuthorization


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class DatasetFieldInline(admin.TabularInline):
    model = DatasetField
    extra = 0
    fields = ("key", "label", "type", "classification", "personal")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class AuthorizationInline(DatasetFieldInline):
    model = SharingAuthorization
    fields = (
        "item_code",
        "organization_code",
        "fields",
        "purpose",
        "legal_basis",
        "consent_required",
    )


@admin.register(Dataset)
class DatasetAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "node", "organization", "sharing_type", "sample", "active")
    list_filter = ("node", "sharing_type", "active")
    search_fields = ("code", "name")
    inlines = [DatasetFieldInline, AuthorizationInline]


@admin.register(SampleRecord)
class SampleRecordAdmin(ReadOnlyAdmin):
    list_display = ("dataset_code", "created_at", "sample")
    list_filter = ("dataset_code",)
    exclude = ("data", "subject_index")
