"""Admin portal: Devices list, device page (details, MDM identity and its renewal, channels,
command history, actions), Settings > Apple MDM."""

from __future__ import annotations

import math

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from core.origin import Origin
from core.pagination import IdsFirstPaginator
from core.portal import admin_required, paginate, safe_next
from devices.android.views import android_device_action
from devices.apple.commands import CommandRejected, do_enqueue_command
from devices.filtersets import DeviceFilterSet
from devices.forms import (
    AppleSettingsForm,
    BulkActionForm,
    EraseForm,
    InstallProfileForm,
    LockForm,
    RemoveProfileForm,
)
from devices.models import Command, Device, IdentityRenewal
from devices.push.apns import ApnsCertificateError
from devices.push.credentials import TopicChangeRequired, do_save_apple_mdm_settings
from devices.services import bulk
from devices.services.lifecycle import do_retire_device
from devices.services.profiles import do_install_profile
from devices.services.renewals import APPLE_PLATFORMS, do_request_renewal
from devices.services.timeline import device_history
from enrollment.services.apple_settings import apple_settings

HISTORY_LENGTH = 50
DAY = 86400  # seconds


@admin_required
def device_list(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    devices = Device.objects.for_tenant(request.tenant).select_related("owner")
    filterset = DeviceFilterSet(request.GET or None, queryset=devices)
    return render(request, "devices/list.html", {
        "filterset": filterset, **paginate(request, filterset.qs, IdsFirstPaginator),
        "bulk_actions": bulk.ACTIONS,
    })


def _action_forms(request: HttpRequest, device: Device, data=None) -> dict:
    return {
        "lock_form": LockForm(platform=device.platform, prefix="lock"),
        "erase_form": EraseForm(platform=device.platform, prefix="erase"),
        "install_form": InstallProfileForm(tenant=request.tenant, prefix="install"),
        "remove_form": RemoveProfileForm(prefix="remove"),
        **(data or {}),
    }


@admin_required
def device_detail(request: HttpRequest, tenant_slug: str, device_id: int) -> HttpResponse:
    device = Device.objects.select_related("owner").get_in_tenant(request.tenant, pk=device_id)
    return _render_detail(request, device)


def _render_detail(request: HttpRequest, device: Device, forms: dict | None = None,
                   status: int = 200) -> HttpResponse:
    history = device_history(request.tenant, device)
    profile_list = (Command.objects.for_tenant(request.tenant)
                    .filter(device=device, request_type="ProfileList", status="acknowledged")
                    .order_by("-completed_at").values_list("result", flat=True).first())
    channels = list(device.apple_channels.all())
    return render(request, "devices/detail.html", {
        "device": device, "history": history,
        "commands": history.commands[:HISTORY_LENGTH],
        "channels": channels,
        **_identity(request.tenant, device, channels),
        "certificates": history.certificates,
        "installed_profiles": (profile_list or {}).get("ProfileList") or [],
        **_action_forms(request, device, forms),
    }, status=status)


def _identity(tenant, device: Device, channels: list) -> dict:
    """The MDM identity panel of an Apple device: days left, its channel (the old identity's
    grace end) and the latest renewal attempt, one query."""
    if device.platform not in APPLE_PLATFORMS:
        return {}
    expires_at = device.identity_expires_at
    return {
        "identity_days_left": (None if expires_at is None else
                               math.ceil((expires_at - timezone.now()).total_seconds() / DAY)),
        "identity_channel": next((c for c in channels if not c.is_user_channel), None),
        "last_renewal": (IdentityRenewal.objects.for_tenant(tenant).filter(device=device)
                         .order_by("-created_at", "-id").first()),
    }


ACTIONS = {
    # action: (form class or None, RequestType, success message)
    "device_information": (None, "DeviceInformation", "Device information requested."),
    "profile_list": (None, "ProfileList", "Profile list requested."),
    "lock": (LockForm, "DeviceLock", "Lock command queued."),
    "erase": (EraseForm, "EraseDevice", "Erase command queued: the device will be wiped."),
    "remove_profile": (RemoveProfileForm, "RemoveProfile", "Profile removal queued."),
}


@admin_required
@require_POST
def device_action(request: HttpRequest, tenant_slug: str, device_id: int) -> HttpResponse:
    device = Device.objects.select_related("owner").get_in_tenant(request.tenant, pk=device_id)
    name = request.POST.get("action", "")
    if name == "renew_identity":  # any platform: the service says why Android cannot
        return _renew_identity(request, device)
    if device.platform == "android":  # AMAPI actions: devices/android/views.py
        return android_device_action(request, tenant_slug, device_id)
    try:
        if name == "retire":
            do_retire_device(request.tenant, device, actor=request.user, origin=Origin.of(request))
            messages.success(request, f"{device} retired.")
        elif name == "install_profile":
            return _install(request, device)
        elif name in ACTIONS:
            form_class, request_type, done = ACTIONS[name]
            payload = {}
            if form_class is not None:
                prefix = name.split("_")[0]
                kwargs = {"platform": device.platform} if form_class in (LockForm,
                                                                          EraseForm) else {}
                form = form_class(request.POST, prefix=prefix, **kwargs)
                if not form.is_valid():
                    return _render_detail(request, device, {f"{prefix}_form": form}, 400)
                payload = (form.command_payload() if hasattr(form, "command_payload")
                           else {"Identifier": form.cleaned_data["identifier"]})
            do_enqueue_command(request.tenant, device, request_type, payload,
                               actor=request.user, origin=Origin.of(request))
            messages.success(request, done)
        else:
            raise Http404("Unknown action.")
    except CommandRejected as exc:
        messages.error(request, str(exc))
    return redirect("portal:device", tenant_slug=tenant_slug, device_id=device.pk)


def _renew_identity(request: HttpRequest, device: Device) -> HttpResponse:
    batch = do_request_renewal(request.tenant, [device.pk], actor=request.user,
                               origin=Origin.of(request))
    if batch.queued:
        messages.success(request, f"Identity renewal queued for {device} (attempt "
                                  f"{batch.queued[0].attempt}): a re-enrollment profile is sent "
                                  "and the device renews its identity at its next check-in.")
    elif batch.deferred:
        messages.success(request, f"Identity renewal queued for {device}: "
                                  f"{bulk.DEFERRED_DETAIL} (the per-minute limit is reached).")
    else:
        reason = batch.skipped.get(device.pk, "not renewed")
        messages.warning(request, f"Identity renewal skipped for {device}: {reason}.")
    return redirect("portal:device", tenant_slug=request.tenant.slug, device_id=device.pk)


def _install(request: HttpRequest, device: Device) -> HttpResponse:
    form = InstallProfileForm(request.POST, tenant=request.tenant, prefix="install")
    if not form.is_valid():
        messages.error(request, "Choose a configuration profile.")
    else:
        do_install_profile(request.tenant, device, form.cleaned_data["profile"],
                           actor=request.user, origin=Origin.of(request))
        messages.success(request, f"Installation of {form.cleaned_data['profile']} queued.")
    return redirect("portal:device", tenant_slug=request.tenant.slug, device_id=device.pk)


@admin_required
@require_http_methods(["GET", "POST"])
def apple_mdm_settings(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    current = apple_settings(request.tenant)
    form = AppleSettingsForm(initial={"push_topic": current.push_topic,
                                      "sign_enrollment_profiles": current.sign_enrollment_profiles})
    confirming = None
    if request.method == "POST":
        form = AppleSettingsForm(request.POST)
        if form.is_valid():
            try:
                do_save_apple_mdm_settings(request.tenant, actor=request.user,
                                           origin=Origin.of(request), **form.cleaned_data)
            except TopicChangeRequired as exc:  # the page asks for the confirmation
                confirming = exc
                form.add_error("push_topic", str(exc))
            except ApnsCertificateError as exc:
                form.add_error("push_topic", str(exc))
            else:
                messages.success(request, "Apple MDM settings saved.")
                return redirect("portal:apple-settings", tenant_slug=tenant_slug)
    return render(request, "devices/apple_settings.html",
                  {"form": form, "settings": current, "confirming": confirming},
                  status=400 if form.is_bound else 200)


@admin_required
@require_POST
def device_bulk_action(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    """One action on the selected devices of this tenant, in two steps: the first POST shows
    what will happen to exactly these devices; only the confirmed POST acts. Each device's
    outcome is counted and failures are named (another tenant's device is simply not found)."""
    back = safe_next(request, reverse("portal:devices", kwargs={"tenant_slug": tenant_slug}))
    action = request.POST.get("action", "")
    ids = bulk.parse_ids(request.POST.getlist("devices"))
    devices, missing = bulk.load_devices(request.tenant, ids) if ids else ([], [])
    if action not in bulk.ACTIONS or not devices:
        messages.error(request, "Select at least one of your devices and an action.")
        return redirect(back)
    plan = bulk.confirmation(action, devices, missing, tenant=request.tenant)
    form = BulkActionForm(request.POST, needs_pin=plan.needs_pin)
    valid = form.is_valid()
    if not (valid and form.cleaned_data["confirmed"]):
        if not form.cleaned_data.get("confirmed"):  # first step: a fresh form, its defaults
            form = BulkActionForm(initial={"action": action}, needs_pin=plan.needs_pin)
        return render(request, "devices/bulk_confirm.html", {
            "plan": plan, "form": form, "next": back,
        }, status=400 if form.is_bound else 200)
    result = bulk.run_bulk_action(
        request.tenant, action, devices, missing, actor=request.user, origin=Origin.of(request),
        pin=form.cleaned_data["pin"], preserve_data_plan=form.cleaned_data["preserve_data_plan"])
    messages.success(request, result.summary())
    problems = result.problems()
    for problem in problems[:10]:
        messages.warning(request, problem)
    if len(problems) > 10:
        messages.warning(request, f"... and {len(problems) - 10} more.")
    return redirect(back)
