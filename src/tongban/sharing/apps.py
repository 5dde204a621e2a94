from django.apps import AppConfig


class SharingConfig(AppConfig):
    name = "tongban.sharing"
    label = "sharing"
    verbose_name = "数据共享"

    def ready(self) -> None:
        from tongban.sharing import (  # noqa: F401  (register inbox handlers)
            data_use_handlers,
            enterprise_registry,  # its data_query_settled receiver
            exchange_handlers,
        )
