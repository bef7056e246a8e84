"""Tenant-scoped API tokens. Only a SHA-256 of the token is stored; it is shown once."""

from __future__ import annotations

import hashlib
import secrets

from django.db import models

from tenants.models import TenantOwned

TOKEN_PREFIX = "mdm_"


def hash_token(raw: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough (no stretching needed).
    return hashlib.sha256(raw.encode()).hexdigest()


def new_raw_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


class ApiToken(TenantOwned):
    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True)
    key_hint = models.CharField(max_length=12, help_text="First characters, to recognise it.")
    created_by = models.ForeignKey(
        "users.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def audit_actor(self):
        """Events by a token name its creator as the actor (see audit.record)."""
        return self.created_by, f"api-token:{self.name}"

    def __str__(self) -> str:
        return f"{self.name} ({self.key_hint}…)"
