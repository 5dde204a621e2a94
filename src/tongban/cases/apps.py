from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "tongban.cases"
    label = "cases"
    verbose_name = "办件"

    def ready(self) -> None:
        from tongban.cases import (  # noqa: F401  (register inbox handlers, signal receivers)
            composites,
            data_checks,
            exchange_handlers,
        )
