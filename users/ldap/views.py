"""Admin portal: Settings > Directory (LDAP). Save the connector, test it, sync now."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from core.portal import admin_required
from users.ldap.forms import LdapConnectorForm
from users.models import LdapConnector
from users.services.ldap import (
    check_ldap_connection,
    do_save_ldap_connector,
    do_sync_ldap,
    get_connector,
)

COUNT_LABELS = [
    ("entries", "entries read"), ("created", "created"), ("updated", "updated"),
    ("reenabled", "re-enabled"), ("disabled", "disabled"), ("unchanged", "unchanged"),
    ("skipped_no_email", "skipped (no email)"), ("skipped_invalid", "skipped (invalid)"),
    ("collisions", "email collisions"),
]


def _counts_text(counts: dict) -> str:
    return ", ".join(f"{counts.get(key, 0)} {label}" for key, label in COUNT_LABELS)


@admin_required
@require_http_methods(["GET", "POST"])
def ldap_connector(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    connector = get_connector(request.tenant)
    # The form validates on its own copy (a ModelForm writes what it cleans into its instance).
    form = LdapConnectorForm(request.POST or None, instance=get_connector(request.tenant)
                             or LdapConnector(tenant=request.tenant))
    if request.method == "POST" and form.is_valid():
        try:
            do_save_ldap_connector(request.tenant, actor=request.user, **form.connector_values())
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, "Directory settings saved.")
            return redirect("portal:ldap", tenant_slug=tenant_slug)
    return render(request, "users/ldap_connector.html", {
        "form": form, "connector": connector,
        "counts": [(label, connector.last_sync_counts.get(key, 0)) for key, label in COUNT_LABELS]
        if connector and connector.last_sync_counts else [],
    }, status=400 if request.method == "POST" else 200)


@admin_required
@require_POST
def ldap_test(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    result = check_ldap_connection(request.tenant)
    (messages.success if result.ok else messages.error)(
        request, f"Test connection: {result.message}")
    return redirect("portal:ldap", tenant_slug=tenant_slug)


@admin_required
@require_POST
def ldap_sync(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    if get_connector(request.tenant) is None:
        messages.error(request, "Save the directory settings first.")
        return redirect("portal:ldap", tenant_slug=tenant_slug)
    outcome = do_sync_ldap(request.tenant, actor=request.user)
    if outcome.status == "succeeded":
        messages.success(request, f"Sync finished: {_counts_text(outcome.counts)}.")
    elif outcome.status == "skipped":
        messages.info(request, outcome.error)
    else:
        messages.error(request, f"Sync failed: {outcome.error}")
    return redirect("portal:ldap", tenant_slug=tenant_slug)
