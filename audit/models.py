"""AuditEvent: who did what to which object, when, from where."""

from django.db import models

from audit.events import AuditAction
from tenants.models import TenantOwned


class AuditEvent(TenantOwned):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # No `choices=` here: the list grows with every feature and must not churn migrations.
    action = models.CharField(max_length=64)
    # Who acted: a portal/API user, or a label for the system, a device or an API token.
    actor = models.ForeignKey(
        "users.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=200, blank=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=200, blank=True)
    user = models.ForeignKey(
        "users.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_events"
    )
    device = models.ForeignKey(
        "devices.Device", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="audit_events",
    )
    detail = models.JSONField(default=dict, blank=True)
    source_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "-created_at"]),
            models.Index(fields=["tenant", "action", "-created_at"]),
            models.Index(fields=["tenant", "user", "-created_at"]),
            models.Index(fields=["tenant", "device", "-created_at"]),
        ]

    @property
    def action_label(self) -> str:
        try:
            return AuditAction(self.action).label
        except ValueError:
            return self.action

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.action} {self.target_label}"
