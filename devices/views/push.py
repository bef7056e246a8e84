"""Admin portal: Settings > APNs certificate, App push credentials, Reminder cadence."""

from __future__ import annotations

import json

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from core.origin import Origin
from core.portal import admin_required
from devices.models import PushAttempt
from devices.push.apns import ApnsCertificateError
from devices.push.credentials import (
    apns_certificate,
    app_push_credentials,
    do_save_app_push_credentials,
    do_upload_apns_certificate,
)
from devices.push.fcm import FcmCredentialsError
from enrollment.services.reminders import do_save_reminder_policy, reminder_policy

MAX_UPLOAD = 256 * 1024


def _read(upload) -> bytes:
    if upload.size > MAX_UPLOAD:
        raise forms.ValidationError("The file is too large.")
    return upload.read()


class ApnsCertificateForm(forms.Form):
    certificate = forms.FileField(help_text="The .p12 from Apple's Push Certificates Portal, "
                                            "or a PEM with certificate and key.")
    private_key = forms.FileField(required=False, help_text="PEM private key, if not in the "
                                                            "certificate file.")
    password = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False),
                               help_text="The .p12 password (or the key's).")


class AppPushForm(forms.Form):
    apns_key_id = forms.RegexField(r"^[A-Z0-9]{10}$", required=False, label="APNs key ID")
    apns_team_id = forms.RegexField(r"^[A-Z0-9]{10}$", required=False, label="Team ID")
    apns_bundle_id = forms.RegexField(r"^[A-Za-z0-9.-]{3,200}$", required=False,
                                      label="App bundle ID")
    apns_key = forms.FileField(required=False, label="APNs auth key (.p8)",
                               help_text="Leave empty to keep the stored key.")
    apns_use_sandbox = forms.BooleanField(required=False, label="Development (sandbox) builds")
    fcm_service_account = forms.FileField(required=False,
                                          label="Firebase service account (JSON)",
                                          help_text="Leave empty to keep the stored account.")

    def clean_fcm_service_account(self):
        upload = self.cleaned_data.get("fcm_service_account")
        if not upload:
            return None
        try:
            info = json.loads(_read(upload))
        except ValueError:
            raise forms.ValidationError("This is not a JSON file.") from None
        if not isinstance(info, dict):
            raise forms.ValidationError("This is not a service account key.")
        return info

    def clean_apns_key(self):
        upload = self.cleaned_data.get("apns_key")
        return _read(upload) if upload else None


class ReminderPolicyForm(forms.Form):
    enabled = forms.BooleanField(required=False, label="Send reminders")
    interval_minutes = forms.IntegerField(min_value=15, max_value=7 * 24 * 60,
                                          label="Every (minutes)")
    max_reminders = forms.IntegerField(min_value=0, max_value=20, label="At most (reminders)")


@admin_required
@require_http_methods(["GET", "POST"])
def apns_settings(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    form = ApnsCertificateForm()
    if request.method == "POST":
        form = ApnsCertificateForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                key = form.cleaned_data["private_key"]
                certificate = do_upload_apns_certificate(
                    request.tenant, _read(form.cleaned_data["certificate"]),
                    password=form.cleaned_data["password"] or None,
                    key_data=_read(key) if key else None, actor=request.user,
                    origin=Origin.of(request))
            except (ApnsCertificateError, forms.ValidationError) as exc:
                form.add_error("certificate", exc.messages if hasattr(exc, "messages")
                               else str(exc))
            else:
                messages.success(request, f"APNs certificate saved: topic {certificate.topic}.")
                return redirect("portal:push-apns", tenant_slug=tenant_slug)
    return render(request, "devices/push_apns.html", {
        "form": form, "certificate": apns_certificate(request.tenant),
    }, status=400 if form.is_bound else 200)


@admin_required
@require_http_methods(["GET", "POST"])
def app_push_settings(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    current = app_push_credentials(request.tenant)
    form = AppPushForm(initial={"apns_key_id": current.apns_key_id,
                                "apns_team_id": current.apns_team_id,
                                "apns_bundle_id": current.apns_bundle_id,
                                "apns_use_sandbox": current.apns_use_sandbox})
    if request.method == "POST":
        form = AppPushForm(request.POST, request.FILES)
        if form.is_valid():
            data = form.cleaned_data
            try:
                do_save_app_push_credentials(
                    request.tenant, actor=request.user, origin=Origin.of(request),
                    apns_key_id=data["apns_key_id"], apns_team_id=data["apns_team_id"],
                    apns_bundle_id=data["apns_bundle_id"], apns_key_pem=data["apns_key"],
                    apns_use_sandbox=data["apns_use_sandbox"],
                    fcm_service_account=data["fcm_service_account"])
            except (ApnsCertificateError, FcmCredentialsError, ValueError) as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, "App push credentials saved.")
                return redirect("portal:push-app", tenant_slug=tenant_slug)
    return render(request, "devices/push_app.html", {"form": form, "credentials": current},
                  status=400 if form.is_bound else 200)


@admin_required
@require_http_methods(["GET", "POST"])
def reminder_settings(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    policy = reminder_policy(request.tenant)
    form = ReminderPolicyForm(initial={"enabled": policy.enabled,
                                       "interval_minutes": policy.interval_minutes,
                                       "max_reminders": policy.max_reminders})
    if request.method == "POST":
        form = ReminderPolicyForm(request.POST)
        if form.is_valid():
            do_save_reminder_policy(request.tenant, actor=request.user, origin=Origin.of(request),
                                    **form.cleaned_data)
            messages.success(request, "Reminder cadence saved.")
            return redirect("portal:push-reminders", tenant_slug=tenant_slug)
    recent = (PushAttempt.objects.for_tenant(request.tenant).filter(reason="reminder")
              .order_by("-created_at")[:20])
    return render(request, "devices/push_reminders.html", {"form": form, "policy": policy,
                                                           "recent": recent},
                  status=400 if form.is_bound else 200)
