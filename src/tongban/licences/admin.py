"""Node administrators see licences read-only: they change only through the
issuing authority's actions (services), and personal identifiers stay encrypted."""

from django.contrib import admin

from tongban.exchange.admin import ReadOnlyAdmin
from tongban.licences.models import (
    Licence,
    LicenceCounter,
    LicenceType,
    LicenceUse,
    StatusListCache,
    VerificationRecord,
    WalletEntry,
)


@admin.register(LicenceType)
class LicenceTypeAdmin(ReadOnlyAdmin):
    """Kept by the hub and mirrored from the signed global configuration."""

    list_display = ("name", "code", "authority_name", "holder_type", "validity_years", "active")
    list_filter = ("holder_type", "active")
    search_fields = ("name", "code")


@admin.register(Licence)
class LicenceAdmin(ReadOnlyAdmin):
    list_display = ("identifier", "licence_type", "organization", "version", "status", "valid_to")
    list_filter = ("status", "licence_type")
    search_fields = ("identifier", "case_number")
    exclude = ("holder_id_encrypted", "holder_id_index", "disclosures_encrypted")


@admin.register(WalletEntry)
class WalletEntryAdmin(ReadOnlyAdmin):
    list_display = ("identifier", "type_name", "issuer_node", "issuer_name", "status", "valid_to")
    list_filter = ("status", "issuer_node")
    search_fields = ("identifier",)
    exclude = ("holder_id_index", "disclosures_encrypted")


@admin.register(LicenceUse)
class LicenceUseAdmin(ReadOnlyAdmin):
    list_display = ("used_at", "type_name", "requester_node", "requester_name", "case_number")
    search_fields = ("identifier", "case_number")
    exclude = ("holder_id_index",)


@admin.register(LicenceCounter)
class LicenceCounterAdmin(ReadOnlyAdmin):
    list_display = ("day", "node_id", "type_code", "event", "count")
    list_filter = ("event", "node_id")


@admin.register(VerificationRecord)
class VerificationRecordAdmin(ReadOnlyAdmin):
    list_display = ("verified_at", "verdict", "type_code", "issuer_node", "channel", "online")
    list_filter = ("verdict", "channel")


@admin.register(StatusListCache)
class StatusListCacheAdmin(ReadOnlyAdmin):
    list_display = ("node_id", "issued_at", "expires_at", "fetched_at", "last_error")
