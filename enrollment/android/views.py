"""Admin portal: Settings > Android (credentials, binding, Pub/Sub push URL) and Google's
sign-up callback."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from core import jobs
from core.origin import Origin
from core.portal import admin_required
from enrollment.android.amapi import AmapiError
from enrollment.android.binding import (
    AndroidSetupError,
    apply_enterprise_configuration,
    complete_signup,
    do_save_android_settings,
    enterprise_for,
    parse_service_account,
    start_signup,
    unbind,
)
from enrollment.models import AndroidOwnership


class AndroidSettingsForm(forms.Form):
    project_id = forms.RegexField(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$", max_length=30,
                                  label="Google Cloud project id")
    service_account = forms.FileField(
        required=False, label="Service-account key (JSON)",
        help_text="Role Android Management User. Stored encrypted; leave empty to keep the "
                  "current key.")
    pubsub_topic = forms.RegexField(r"^projects/[^/]+/topics/[^/]+$", required=False,
                                    max_length=255, label="Pub/Sub topic",
                                    help_text="projects/<project>/topics/<topic>; grant "
                                              "android-cloud-policy@system.gserviceaccount.com "
                                              "the Publisher role on it.")
    default_ownership = forms.ChoiceField(choices=AndroidOwnership.choices,
                                          label="New registrations enroll as")
    agent_app_package = forms.RegexField(r"^[A-Za-z][\w]*(\.[A-Za-z][\w]*)+$", required=False,
                                         max_length=200, label="Agent app package",
                                         help_text="Force-installed; on company-owned devices "
                                                   "it gets CERT_INSTALL to remove user CA "
                                                   "certificates.")

    def clean_service_account(self):
        upload = self.cleaned_data.get("service_account")
        if not upload:
            return None
        if upload.size > 64_000:
            raise forms.ValidationError("That file is too large for a service-account key.")
        try:
            return parse_service_account(upload.read().decode("utf-8", "replace"))
        except AndroidSetupError as exc:
            raise forms.ValidationError(str(exc)) from None


def push_endpoint_url(enterprise) -> str:
    path = reverse("android:pubsub-push", kwargs={"endpoint_id": enterprise.push_endpoint_id})
    return f"{settings.MDM_PUBLIC_URL}{path}?token={enterprise.push_token()}"


@admin_required
@require_http_methods(["GET", "POST"])
def android_settings(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    tenant, enterprise = request.tenant, enterprise_for(request.tenant)
    action = request.POST.get("action", "save")
    if request.method == "POST" and action != "save":
        return _act(request, action)
    initial = {"default_ownership": AndroidOwnership.WORK_PROFILE}
    if enterprise is not None:
        initial = {"project_id": enterprise.project_id, "pubsub_topic": enterprise.pubsub_topic,
                   "default_ownership": enterprise.default_ownership,
                   "agent_app_package": enterprise.agent_app_package}
    form = AndroidSettingsForm(initial=initial)
    if request.method == "POST":
        form = AndroidSettingsForm(request.POST, request.FILES)
        if form.is_valid():
            data = form.cleaned_data
            if data["service_account"] is None and (enterprise is None or
                                                    not enterprise.service_account_encrypted):
                form.add_error("service_account", "Upload the service-account key.")
            else:
                saved = do_save_android_settings(
                    tenant, actor=request.user, origin=Origin.of(request),
                    project_id=data["project_id"],
                    service_account=data["service_account"],
                    pubsub_topic=data["pubsub_topic"],
                    default_ownership=data["default_ownership"],
                    agent_app_package=data["agent_app_package"])
                error = apply_enterprise_configuration(saved) if saved.is_bound else ""
                if error:
                    messages.error(request, f"Saved, but Google refused the configuration: "
                                            f"{error}")
                else:
                    messages.success(request, "Android Enterprise settings saved.")
                return redirect("portal:android-settings", tenant_slug=tenant_slug)
    return render(request, "android/settings.html", {
        "form": form, "enterprise": enterprise,
        "push_url": push_endpoint_url(enterprise) if enterprise is not None else "",
    }, status=400 if form.is_bound else 200)


def _act(request: HttpRequest, action: str) -> HttpResponse:
    tenant = request.tenant
    try:
        if action == "signup":
            return redirect(start_signup(tenant, actor=request.user, origin=Origin.of(request)))
        if action == "unbind":
            error = unbind(tenant, actor=request.user, origin=Origin.of(request),
                           delete_on_google=request.POST.get("delete_on_google") == "on")
            if error:
                messages.warning(request, f"Unbound here; Google refused the delete: {error}")
            else:
                messages.success(request, "Android Enterprise unbound.")
        elif action == "apply":
            enterprise = enterprise_for(tenant)
            error = apply_enterprise_configuration(enterprise) if enterprise else ""
            (messages.error if error else messages.success)(
                request, error or "Policies and Pub/Sub settings sent to Google.")
        elif action == "reconcile":
            enterprise = enterprise_for(tenant)
            if enterprise is not None and enterprise.is_bound:
                jobs.send("android.reconcile_enterprise", enterprise.pk)
                messages.success(request, "Device reconciliation queued.")
        else:
            messages.error(request, "Unknown action.")
    except (AndroidSetupError, AmapiError) as exc:
        messages.error(request, str(exc))
    return redirect("portal:android-settings", tenant_slug=tenant.slug)


@admin_required
@require_GET
def android_signup_callback(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    """Google sends the admin back here with ?state=...&enterpriseToken=... ."""
    try:
        enterprise = complete_signup(request.tenant, state=request.GET.get("state"),
                                     enterprise_token=request.GET.get("enterpriseToken"),
                                     actor=request.user, origin=Origin.of(request))
    except (AndroidSetupError, AmapiError) as exc:
        return render(request, "android/callback_error.html", {"message": str(exc)},
                      status=400)
    if enterprise.last_error:
        messages.warning(request, f"Bound to {enterprise.enterprise_name}, but Google refused "
                                  f"the policies: {enterprise.last_error}")
    else:
        messages.success(request, f"Bound to {enterprise.enterprise_name}.")
    return redirect("portal:android-settings", tenant_slug=tenant_slug)
