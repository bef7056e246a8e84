from django.apps import AppConfig


class EnrollmentConfig(AppConfig):
    name = "enrollment"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from mdm_server.signals import tenant_created

        from .models import CertificateAuthority
        from .services.authorities import forget_authority, on_tenant_created

        tenant_created.connect(on_tenant_created, dispatch_uid="enrollment.generate_ca")
        for signal in (post_save, post_delete):
            signal.connect(forget_authority, sender=CertificateAuthority,
                           dispatch_uid=f"enrollment.forget_authority.{signal is post_save}")
