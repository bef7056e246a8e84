"""Endpoints Apple devices call (mounted under /t/<tenant_slug>/): MDM check-in and commands."""

urlpatterns: list = []
