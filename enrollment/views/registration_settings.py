"""Admin portal: Settings > Registration (PIN and invitation policy, the registration URL,
the managed domains of account-driven enrollment)."""

from __future__ import annotations

import json

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from core.origin import Origin
from core.portal import admin_required
from enrollment.account.discovery import discovery_document
from enrollment.apple.links import discovery_url
from enrollment.models import (
    CURRENT_LINK_FORMAT,
    ManagedDomain,
    RegistrationLink,
    RegistrationPolicy,
)
from enrollment.services.links import do_generate_link, go_url, live_link
from enrollment.services.managed_domains import (
    DomainTaken,
    do_add_managed_domain,
    do_remove_managed_domain,
)
from enrollment.services.policies import POLICY_FIELDS, do_save_registration_policy, policy_for

DOMAIN_TAKEN = "This domain belongs to another organization, or is already listed here."


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


class ManagedDomainForm(forms.Form):
    domain = forms.CharField(max_length=253, label="Domain", widget=forms.TextInput(
        attrs={"placeholder": "example.com", "autocapitalize": "none"}))


def _domain_action(request: HttpRequest, tenant, form: ManagedDomainForm) -> bool:
    """Add or remove a managed domain; True when done (else ``form`` carries the error)."""
    if request.POST.get("action") == "remove_domain":
        managed = ManagedDomain.objects.get_in_tenant(tenant, pk=request.POST.get("domain_id"))
        do_remove_managed_domain(tenant, managed, actor=request.user, origin=Origin.of(request))
        messages.success(request, f"{managed.domain} removed: its users can no longer enroll "
                                  "by signing in on their device.")
        return True
    if not form.is_valid():
        return False
    try:
        managed = do_add_managed_domain(tenant, form.cleaned_data["domain"], actor=request.user,
                                        origin=Origin.of(request))
    except ValidationError as exc:
        form.add_error("domain", exc.messages)
        return False
    except DomainTaken:
        form.add_error("domain", DOMAIN_TAKEN)
        return False
    messages.success(request, f"{managed.domain} added.")
    return True


@admin_required
@require_http_methods(["GET", "POST"])
def registration_settings(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    tenant = request.tenant
    policy = policy_for(tenant)
    form = RegistrationPolicyForm(instance=policy)
    domain_form = ManagedDomainForm()
    status = 200
    if request.method == "POST" and request.POST.get("action") in ("add_domain",
                                                                   "remove_domain"):
        domain_form = ManagedDomainForm(request.POST)
        if _domain_action(request, tenant, domain_form):
            return redirect("portal:registration-settings", tenant_slug=tenant_slug)
        return _render(request, tenant, form, domain_form, status=400)
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
    return _render(request, tenant, form, domain_form, status=status)


def _render(request: HttpRequest, tenant, form, domain_form,
            status: int) -> HttpResponse:
    link = live_link(tenant)
    return render(request, "enrollment/registration_settings.html", {
        "form": form, "link": link, "link_url": go_url(link) if link else None,
        "domain_form": domain_form,
        "managed_domains": ManagedDomain.objects.for_tenant(tenant),
        "discovery_url": discovery_url(),
        "discovery_json": json.dumps(discovery_document(tenant.slug), indent=2),
        "link_outdated": link is not None and not link.is_current,
        "current_format": CURRENT_LINK_FORMAT,
        "old_links": RegistrationLink.objects.for_tenant(tenant).exclude(revoked_at=None)[:10],
    }, status=status)
