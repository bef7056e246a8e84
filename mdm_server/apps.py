from django.apps import AppConfig


class MdmServerConfig(AppConfig):
    name = "mdm_server"
    verbose_name = "MDM server"

    def ready(self) -> None:
        from core.api import schema  # noqa: F401  (registers the OpenAPI auth extensions)
