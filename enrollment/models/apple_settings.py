"""The tenant's Apple MDM settings: the push topic and whether enrollment profiles are signed
(both carried by every enrollment profile this app serves)."""

from django.db import models

from tenants.models import TenantOwned


class AppleMdmSettings(TenantOwned):
    """Per-tenant Apple MDM settings. The APNs certificate upload (workers/push issue) will
    supersede ``push_topic``; until then the admin types the certificate's topic here."""

    push_topic = models.CharField(max_length=255, blank=True,
                                  help_text="APNs topic, com.apple.mgmt.External.<uuid>")
    sign_enrollment_profiles = models.BooleanField(
        default=True, help_text="Serve enrollment profiles signed (uncheck for tooling only).")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # Created in the devices app; moved here, where the enrollment profile reads it,
        # without touching the table (migrations devices 0007, enrollment 0007).
        db_table = "devices_applemdmsettings"
        constraints = [models.UniqueConstraint(fields=["tenant"],
                                               name="one_apple_mdm_settings_per_tenant")]
        verbose_name = "Apple MDM settings"
        verbose_name_plural = "Apple MDM settings"

    def __str__(self) -> str:
        return f"Apple MDM settings of tenant {self.tenant_id}"
