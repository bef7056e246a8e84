"""Admin-defined configuration profiles (SPEC S6): payloads installed on enrollment.

Scope ``device`` goes on the device channel (every user of a Mac), ``user`` on the enrolled
user's channel (on iOS, which has no user channel, on the device channel).
"""

from django.db import models

from tenants.models import TenantOwned


class ProfileTarget(models.TextChoices):
    DEVICE = "device", "Device"
    USER = "user", "User"


class ConfigurationProfile(TenantOwned):
    name = models.CharField(max_length=200)
    # PayloadIdentifier of the installed profile (RemoveProfile uses it); unique per tenant.
    identifier = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    # The PayloadContent array as an XML plist (what the admin uploaded, normalised).
    payload_plist = models.TextField()
    scope = models.CharField(max_length=10, choices=ProfileTarget.choices,
                             default=ProfileTarget.DEVICE)
    platforms = models.JSONField(default=list)  # subset of ["ios", "macos"]
    assign_to_all = models.BooleanField(default=True)
    assigned_users = models.ManyToManyField("users.User", blank=True, related_name="+")
    profile_uuid = models.UUIDField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "identifier"],
                                               name="profile_identifier_unique_in_tenant")]

    def __str__(self) -> str:
        return self.name
