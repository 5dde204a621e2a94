from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DocumentsConfig(AppConfig):
    name = "tongban.documents"
    label = "documents"
    verbose_name = _("文书与凭证")
    default_auto_field = "django.db.models.BigAutoField"
