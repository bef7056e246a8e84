"""Admin portal: the audit trail page (filters + pagination)."""

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from mdm_server.portal import admin_required

from .filtersets import AuditEventFilterSet
from .models import AuditEvent


@admin_required
def audit_trail(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    events = AuditEvent.objects.for_tenant(request.tenant).select_related("actor", "user", "device")
    filterset = AuditEventFilterSet(request.GET or None, queryset=events)
    page = Paginator(filterset.qs, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "audit/trail.html", {
        "filterset": filterset, "page": page, "query": query.urlencode(),
    })
