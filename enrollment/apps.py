from django.apps import AppConfig

from tenants.signals import tenant_created


class EnrollmentConfig(AppConfig):
    name = "enrollment"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # In ready(): the services import models, which cannot load while apps are populated.
        from enrollment.services.authorities import on_tenant_created

        tenant_created.connect(on_tenant_created, dispatch_uid="enrollment.generate_ca")
