"""RegistrationLink: the tenant's versioned registration URL ending in /go (SPEC S4, S8-S10).

`{MDM_PUBLIC_URL}/r/<format_version>/<token>/go`. At most one live link per tenant;
regenerating revokes the previous one. The token is stored as is: it only names the tenant's
entry point (users still sign in there), and the admin must be able to show it again.
"""

from __future__ import annotations

from django.db import models

from tenants.models import TenantOwned

# The URL format this server generates. Bump it when the /r/ URL layout changes: links made in
# an older format then answer "no longer valid" (410) and the admin generates a new one.
CURRENT_LINK_FORMAT = 2


class RegistrationLink(TenantOwned):
    token = models.CharField(max_length=64, unique=True)
    format_version = models.PositiveSmallIntegerField(default=CURRENT_LINK_FORMAT)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey("users.User", null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant"], condition=models.Q(revoked_at=None),
                                    name="registration_link_one_live_per_tenant"),
        ]

    def __str__(self) -> str:
        return f"registration URL v{self.format_version} {self.token[:6]}…"

    @property
    def is_current(self) -> bool:
        return self.revoked_at is None and self.format_version == CURRENT_LINK_FORMAT
