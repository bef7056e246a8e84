"""The end user's self-service home: their devices and latest registrations."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from core.portal import end_user_required
from devices.models import Device
from enrollment.models import Registration


@end_user_required
def selfservice_home(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    devices = Device.objects.for_tenant(request.tenant).filter(owner=request.user)
    registrations = Registration.objects.for_tenant(request.tenant).filter(user=request.user)[:10]
    return render(request, "selfservice/home.html",
                  {"devices": devices, "registrations": registrations})
