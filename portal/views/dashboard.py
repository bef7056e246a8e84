"""The admin dashboard: devices by state and platform, the registration funnel, MDM
identities due for renewal, alerts."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from core.platforms import Platform
from core.portal import admin_required
from enrollment.filtersets import FUNNEL_PERIODS
from portal import dashboard_figures
from users.models import User

PERIODS = FUNNEL_PERIODS  # the registrations list offers the same periods


@admin_required
def dashboard(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    days = {str(days): days for days in PERIODS}.get(request.GET.get("days", ""), 30)
    state_bars, matrix = dashboard_figures.device_matrix(request.tenant)
    funnel = dashboard_figures.registration_funnel(request.tenant, days)
    return render(request, "portal/dashboard.html", {
        "device_count": sum(bar.count for bar in state_bars),
        "user_count": User.objects.for_tenant(request.tenant).count(),
        "state_bars": state_bars, "state_scale": dashboard_figures.chart_scale(state_bars),
        "platform_tiles": [(platform, label, matrix.get(platform, {}).get("active", 0))
                           for platform, label in Platform.choices],
        "funnel": funnel,
        "funnel_scale": dashboard_figures.chart_scale(funnel),
        "identity_figures": dashboard_figures.identity_figures(request.tenant),
        "days": days, "periods": PERIODS, "alerts": dashboard_figures.alerts(request.tenant),
    })
