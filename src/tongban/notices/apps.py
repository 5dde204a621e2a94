from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NoticesConfig(AppConfig):
    name = "tongban.notices"
    label = "notices"
    verbose_name = _("消息中心")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tongban.notices import exchange_handlers  # noqa: F401  (registers notice.deliver)
