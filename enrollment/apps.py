from django.apps import AppConfig


class EnrollmentConfig(AppConfig):
    name = "enrollment"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from enrollment.services.authorities import on_tenant_created
        from tenants.signals import tenant_created

        tenant_created.connect(on_tenant_created, dispatch_uid="enrollment.generate_ca")
