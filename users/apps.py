from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = "users"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        # In ready(): both import models, which cannot load while apps are populated.
        from tenants.tenancy import forget_tenant
        from users.models import Tenant

        post_save.connect(forget_tenant, sender=Tenant, dispatch_uid="forget-tenant-save")
        post_delete.connect(forget_tenant, sender=Tenant, dispatch_uid="forget-tenant-delete")
