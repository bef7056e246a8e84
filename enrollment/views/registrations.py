"""The Registrations page: every registration of the tenant, filtered, with its diagnosis."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from core.portal import admin_required, paginate
from enrollment.diagnostics import diagnose, latest_scep_rejections
from enrollment.filtersets import RegistrationFilterSet
from enrollment.models import Registration


@admin_required
def registration_list(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    registrations = (Registration.objects.for_tenant(request.tenant)
                     .select_related("user", "device"))
    filterset = RegistrationFilterSet(request.GET or None, queryset=registrations)
    listing = paginate(request, filterset.qs)
    rejections = latest_scep_rejections(request.tenant, [r.pk for r in listing["page"]])
    rows = [(r, diagnose(r, rejections.get(r.pk))) for r in listing["page"]]
    return render(request, "enrollment/registrations.html", {
        "filterset": filterset, "rows": rows, **listing,
    })
