from django.apps import AppConfig


class LicencesConfig(AppConfig):
    name = "tongban.licences"
    label = "licences"
    verbose_name = "电子证照"

    def ready(self) -> None:
        from tongban.licences import (
            exchange_handlers,  # noqa: F401  (registers inbox handlers)
            trust_snapshot,  # noqa: F401  (drops itself on directory saves)
        )
