from django.apps import AppConfig


class SharingConfig(AppConfig):
    name = "tongban.sharing"
    label = "sharing"
    verbose_name = "数据共享"

    def ready(self) -> None:
        from tongban.sharing import data_use_handlers  # noqa: F401  (registers inbox handlers)
