"""Pages of the audit app (mounted under /t/<tenant_slug>/admin/, "portal" namespace)."""

from django.urls import path

from audit.views import audit_export, audit_trail

portal_patterns = [
    path("audit/", audit_trail, name="audit"),
    path("audit/export.csv", audit_export, name="audit-export"),
]
