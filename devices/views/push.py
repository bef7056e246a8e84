"""Admin portal: Settings > APNs certificate (the certificate, requests for one signed by an
MDM vendor certificate, that vendor certificate), App push credentials, Reminder cadence."""

from __future__ import annotations

import json

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.origin import Origin
from core.portal import admin_required
from devices.models import ApnsCertificateRequest, PushAttempt
from devices.push.apns import ApnsCertificateError
from devices.push.certificate_request import (
    CSR_FILENAME,
    REQUEST_FILENAME,
    VendorCertificateError,
)
from devices.push.credentials import (
    TopicChangeRequired,
    apns_certificate,
    apns_certificate_requests,
    app_push_credentials,
    do_create_apns_certificate_request,
    do_save_app_push_credentials,
    do_save_mdm_vendor_certificate,
    do_upload_apns_certificate,
    mdm_vendor_certificate,
    signing_vendor,
)
from devices.push.fcm import FcmCredentialsError
from enrollment.services.reminders import do_save_reminder_policy, reminder_policy

MAX_UPLOAD = 256 * 1024


def _read(upload) -> bytes:
    if upload.size > MAX_UPLOAD:
        raise forms.ValidationError("The file is too large.")
    return upload.read()


class ApnsCertificateForm(forms.Form):
    certificate = forms.FileField(required=False, help_text=(
        "The .pem Apple's Push Certificates Portal gave for a request made here (its key is "
        "kept here), or a .p12 / PEM with certificate and key."))
    # Apple's certificate carried over the topic-change confirmation (it holds no secret).
    certificate_text = forms.CharField(required=False, widget=forms.HiddenInput)
    private_key = forms.FileField(required=False, help_text="PEM private key, if not in the "
                                                            "certificate file.")
    password = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False),
                               help_text="The .p12 password (or the key's).")
    confirm_topic_change = forms.BooleanField(required=False)

    def clean(self):
        data = super().clean()
        if data.get("certificate"):
            data["upload"] = _read(data["certificate"])
        elif data.get("certificate_text"):
            data["upload"] = data["certificate_text"].encode()
        else:
            raise forms.ValidationError("Choose the certificate file.")
        key = data.get("private_key")
        data["key_data"] = _read(key) if key else None
        return data

    def keep_certificate_for_confirmation(self) -> None:
        """Refill the hidden field with the uploaded certificate when it is Apple's certificate
        alone (no key, no password): confirming then needs no new upload."""
        upload = self.cleaned_data["upload"]
        if (self.cleaned_data["key_data"] is None and b"PRIVATE KEY" not in upload
                and upload.lstrip().startswith(b"-----BEGIN CERTIFICATE")):
            self.data = self.data.copy()
            self.data["certificate_text"] = upload.decode("ascii", "replace")


class ApnsRequestForm(forms.Form):
    email = forms.EmailField(required=False, label="Apple ID email (optional)",
                             help_text="Written into the request, as Keychain Access does.")


class VendorCertificateForm(forms.Form):
    vendor_certificate = forms.FileField(label="Vendor certificate", help_text=(
        "The MDM CSR certificate from Apple Developer (.cer or PEM), or a .p12 with its key."))
    vendor_key = forms.FileField(required=False, label="Private key",
                                 help_text="PEM key the MDM CSR was made with, if not in "
                                           "the certificate file.")
    vendor_chain = forms.FileField(required=False, label="Apple's chain", help_text=(
        "Apple's WWDR intermediate and Apple Root CA (PEM, or the .cer files concatenated), "
        "if not in the certificate file."))
    vendor_password = forms.CharField(required=False, label="Password",
                                      widget=forms.PasswordInput(render_value=False),
                                      help_text="The .p12 password (or the key's).")

    def clean(self):
        data = super().clean()
        for name in ("vendor_certificate", "vendor_key", "vendor_chain"):
            if data.get(name):
                data[name] = _read(data[name])
        return data


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


def _apns_page(request: HttpRequest, *, status: int = 200, topic_change=None,
               **forms_given) -> HttpResponse:
    """Settings > APNs: the certificate, the requests, the vendor certificate that signs."""
    tenant = request.tenant
    try:
        vendor, signed_by = signing_vendor(tenant)
        vendor_problem = ""
    except VendorCertificateError as exc:
        vendor, signed_by, vendor_problem = None, "", str(exc)
    return render(request, "devices/push_apns.html", {
        "form": forms_given.get("form") or ApnsCertificateForm(),
        "request_form": forms_given.get("request_form") or ApnsRequestForm(),
        "vendor_form": forms_given.get("vendor_form") or VendorCertificateForm(),
        "certificate": apns_certificate(tenant),
        "requests": apns_certificate_requests(tenant)[:5],
        "vendor": vendor, "signed_by": signed_by, "vendor_problem": vendor_problem,
        "own_vendor": mdm_vendor_certificate(tenant), "topic_change": topic_change,
    }, status=status)


@admin_required
@require_http_methods(["GET", "POST"])
def apns_settings(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    if request.method == "GET":
        return _apns_page(request)
    form = ApnsCertificateForm(request.POST, request.FILES)
    topic_change = None
    if form.is_valid():
        data = form.cleaned_data
        try:
            certificate = do_upload_apns_certificate(
                request.tenant, data["upload"], password=data["password"] or None,
                key_data=data["key_data"], confirm_topic_change=data["confirm_topic_change"],
                actor=request.user, origin=Origin.of(request))
        except TopicChangeRequired as exc:
            topic_change = exc
            form.keep_certificate_for_confirmation()
            form.add_error(None, str(exc))
        except ApnsCertificateError as exc:
            form.add_error("certificate", str(exc))
        else:
            messages.success(request, f"APNs certificate saved: topic {certificate.topic}.")
            return redirect("portal:push-apns", tenant_slug=tenant_slug)
    return _apns_page(request, status=400, form=form, topic_change=topic_change)


@admin_required
@require_POST
def apns_request_create(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    form = ApnsRequestForm(request.POST)
    if form.is_valid():
        try:
            created = do_create_apns_certificate_request(
                request.tenant, email=form.cleaned_data["email"], actor=request.user,
                origin=Origin.of(request))
        except VendorCertificateError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Push certificate request created: download it below."
                             if created.signed_request else
                             "Push certificate request created: have its CSR signed (see "
                             "below).")
            return redirect("portal:push-apns", tenant_slug=tenant_slug)
    return _apns_page(request, status=400, request_form=form)


@admin_required
@require_GET
def apns_request_download(request: HttpRequest, tenant_slug: str, request_id: int,
                          kind: str) -> HttpResponse:
    """The vendor-signed request for identity.apple.com, or the bare CSR (PEM)."""
    pending = ApnsCertificateRequest.objects.get_in_tenant(request.tenant, pk=request_id)
    if kind == "plist":
        if not pending.signed_request:
            raise Http404("This request was not signed by a vendor certificate.")
        content, filename, content_type = (pending.signed_request, REQUEST_FILENAME,
                                           "application/octet-stream")
    else:
        content, filename, content_type = pending.csr_pem, CSR_FILENAME, "application/pkcs10"
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@admin_required
@require_POST
def apns_vendor_certificate(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    form = VendorCertificateForm(request.POST, request.FILES)
    if form.is_valid():
        data = form.cleaned_data
        try:
            saved = do_save_mdm_vendor_certificate(
                request.tenant, data["vendor_certificate"], key_data=data["vendor_key"],
                chain_data=data["vendor_chain"], password=data["vendor_password"] or None,
                actor=request.user, origin=Origin.of(request))
        except VendorCertificateError as exc:
            form.add_error("vendor_certificate", str(exc))
        else:
            messages.success(request, f"MDM vendor certificate saved: {saved.subject}.")
            return redirect("portal:push-apns", tenant_slug=tenant_slug)
    return _apns_page(request, status=400, vendor_form=form)


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
