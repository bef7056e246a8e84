"""Admin portal: the Android actions of the device page (retire, wipe, delete, re-register,
lock, reboot, reset password). The forms live in templates/android/_device_actions.html."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from core.origin import Origin
from core.portal import admin_required
from devices.android import actions
from devices.models import Device
from enrollment.android.amapi import AmapiError
from enrollment.android.binding import AndroidSetupError

COMMANDS = {"lock": "LOCK", "reboot": "REBOOT", "reset_password": "RESET_PASSWORD"}


@admin_required
@require_POST
def android_device_action(request: HttpRequest, tenant_slug: str,
                          device_id: int) -> HttpResponse:
    tenant = request.tenant
    device = Device.objects.select_related("owner", "android__enterprise").get_in_tenant(
        tenant, pk=device_id, platform="android")
    name = request.POST.get("action", "")
    actor, origin = request.user, Origin.of(request)
    try:
        if name == "retire":
            actions.retire(tenant, device, actor=actor, origin=origin)
            messages.success(request, f"{device} retired.")
        elif name == "wipe":
            actions.wipe(tenant, device, actor=actor, origin=origin)
            messages.success(request, f"{device} is being wiped.")
        elif name == "delete":
            actions.delete(tenant, device, actor=actor, origin=origin)
            messages.success(request, f"{device} deleted.")
            return redirect("portal:devices", tenant_slug=tenant_slug)
        elif name == "reregister":
            started = actions.reregister(tenant, device, actor=actor, origin=origin)
            messages.success(request, f"Registration {started.registration_id} started for "
                                      f"{device.owner}: they enroll the device again from the "
                                      "self-service portal or the app.")
        elif name in COMMANDS:
            operation = actions.issue_command(
                tenant, device, COMMANDS[name], actor=actor, origin=origin,
                new_password=request.POST.get("new_password") or None)
            messages.success(request, f"{operation.command_type} sent; its result shows below.")
        else:
            raise Http404("Unknown action.")
    except (actions.AndroidActionRefused, AndroidSetupError, AmapiError) as exc:
        messages.error(request, str(exc))
    return redirect("portal:device", tenant_slug=tenant_slug, device_id=device.pk)
