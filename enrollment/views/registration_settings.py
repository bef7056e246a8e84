"""Admin portal: Settings > Registration (PIN and invitation policy, the registration URL)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from core.origin import Origin
from core.portal import admin_required
from enrollment.models import CURRENT_LINK_FORMAT, RegistrationLink, RegistrationPolicy
from enrollment.services.links import do_generate_link, go_url, live_link
from enrollment.services.policies import POLICY_FIELDS, do_save_registration_policy, policy_for


class RegistrationPolicyForm(forms.ModelForm):
    class Meta:
        model = RegistrationPolicy
        fields = list(POLICY_FIELDS)
        labels = {
            "pin_requirement": "Require a one-time PIN",
            "pin_validity_hours": "PIN valid for (hours)",
            "pin_max_attempts": "Wrong PIN entries before lock-out",
            "invitation_validity_days": "Invitations valid for (days)",
            "email_temporary_password": "Email the temporary password to users without one",
        }


@admin_required
@require_http_methods(["GET", "POST"])
def registration_settings(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    tenant = request.tenant
    policy = policy_for(tenant)
    form = RegistrationPolicyForm(instance=policy)
    status = 200
    if request.method == "POST" and request.POST.get("action") == "regenerate":
        do_generate_link(tenant, actor=request.user, origin=Origin.of(request))
        messages.success(request, "A new registration URL was generated; the old one no "
                                  "longer works.")
        return redirect("portal:registration-settings", tenant_slug=tenant_slug)
    if request.method == "POST":
        form = RegistrationPolicyForm(request.POST, instance=RegistrationPolicy.objects.get(
            pk=policy.pk))
        if form.is_valid():
            do_save_registration_policy(tenant, form.cleaned_data, actor=request.user,
                                        origin=Origin.of(request))
            messages.success(request, "Registration settings saved.")
            return redirect("portal:registration-settings", tenant_slug=tenant_slug)
        status = 400
    link = live_link(tenant)
    return render(request, "enrollment/registration_settings.html", {
        "form": form, "link": link, "link_url": go_url(link) if link else None,
        "link_outdated": link is not None and not link.is_current,
        "current_format": CURRENT_LINK_FORMAT,
        "old_links": RegistrationLink.objects.for_tenant(tenant).exclude(revoked_at=None)[:10],
    }, status=status)
