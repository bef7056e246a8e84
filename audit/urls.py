"""Admin-portal URLs of the audit app."""

from django.urls import path

from .views import audit_export, audit_trail

portal_patterns = [
    path("audit/", audit_trail, name="audit"),
    path("audit/export.csv", audit_export, name="audit-export"),
]
