"""Admin portal: configuration profiles (list, create, edit, delete)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from core.origin import Origin
from core.portal import admin_required, paginate
from profiles.forms import ConfigurationProfileForm
from profiles.models import ConfigurationProfile
from profiles.services.configuration import (
    InvalidPayload,
    do_create_profile,
    do_delete_profile,
    do_update_profile,
)


@admin_required
def profile_list(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    profiles = ConfigurationProfile.objects.for_tenant(request.tenant)
    return render(request, "profiles/list.html", paginate(request, profiles))


@admin_required
@require_http_methods(["GET", "POST"])
def profile_edit(request: HttpRequest, tenant_slug: str,
                 profile_id: int | None = None) -> HttpResponse:
    profile = (ConfigurationProfile.objects.get_in_tenant(request.tenant, pk=profile_id)
               if profile_id else None)
    form = ConfigurationProfileForm(request.POST or None, instance=profile,
                                    tenant=request.tenant)
    if request.method == "POST" and form.is_valid():
        fields, users = form.service_fields()
        try:
            if profile is None:
                do_create_profile(request.tenant, actor=request.user, assigned_users=users,
                                  origin=Origin.of(request), **fields)
            else:
                do_update_profile(request.tenant, profile, actor=request.user,
                                  assigned_users=users, origin=Origin.of(request), **fields)
        except InvalidPayload as exc:
            form.add_error("payload_plist", str(exc))
        else:
            messages.success(request, f"Profile {fields['name']} saved.")
            return redirect("portal:profiles", tenant_slug=tenant_slug)
    return render(request, "profiles/edit.html", {"form": form, "profile": profile},
                  status=400 if form.is_bound else 200)


@admin_required
@require_POST
def profile_delete(request: HttpRequest, tenant_slug: str, profile_id: int) -> HttpResponse:
    profile = ConfigurationProfile.objects.get_in_tenant(request.tenant, pk=profile_id)
    do_delete_profile(request.tenant, profile, actor=request.user, origin=Origin.of(request))
    messages.success(request, f"Profile {profile.name} deleted. Devices keep it until you "
                              "remove it from them.")
    return redirect("portal:profiles", tenant_slug=tenant_slug)
