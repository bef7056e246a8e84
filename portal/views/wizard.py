"""The first-run startup wizard (S1): organization, Apple, Android, users, invitations.

Each step saves as it goes and records where to resume (`Tenant.setup_step`), so an admin who
leaves half-way comes back to the same step.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from audit.events import AuditAction
from audit.record import record
from core.origin import Origin
from core.portal import admin_required
from enrollment.models import Invitation
from enrollment.services.apple_settings import apple_settings, do_save_apple_settings
from enrollment.services.invitations import do_send_invitations
from users.csv_import import UserRow
from users.models import Tenant, User
from users.services.people import do_create_users
from users.user_forms import AddUsersOptionsForm, NewUserRowFormSet

STEPS = [
    ("organization", "Organization"),
    ("apple", "Apple devices"),
    ("android", "Android devices"),
    ("users", "Add users"),
    ("invite", "Send invitations"),
]
STEP_NAMES = [name for name, _ in STEPS]


class OrganizationForm(forms.Form):
    name = forms.CharField(max_length=200)


class AppleForm(forms.Form):
    push_topic = forms.RegexField(
        regex=r"^com\.apple\.mgmt\.External\.[0-9a-fA-F-]{36}$", required=False,
        help_text="From your APNs MDM certificate, com.apple.mgmt.External.<uuid>.",
        error_messages={"invalid": "The topic looks like com.apple.mgmt.External.<uuid>."})


class InviteForm(forms.Form):
    users = forms.TypedMultipleChoiceField(coerce=int, choices=(), required=False,
                                           widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, candidates=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["users"].choices = [(user.pk, user.email) for user in candidates]
        self.fields["users"].initial = [user.pk for user in candidates]


def _advance(tenant: Tenant, current: str, actor, origin: Origin) -> str:
    index = STEP_NAMES.index(current)
    if index + 1 < len(STEP_NAMES):
        tenant.setup_step = STEP_NAMES[index + 1]
        tenant.save(update_fields=["setup_step"])
        return tenant.setup_step
    tenant.setup_completed_at = timezone.now()
    tenant.save(update_fields=["setup_completed_at"])
    record(tenant, AuditAction.SETUP_COMPLETED, actor=actor, target=tenant, origin=origin)
    return ""


@admin_required
@require_http_methods(["GET", "POST"])
def wizard(request: HttpRequest, tenant_slug: str, step: str | None = None) -> HttpResponse:
    tenant = request.tenant
    if step is None:
        return redirect("portal:setup-step", tenant_slug=tenant_slug,
                        step=tenant.setup_step if tenant.setup_step in STEP_NAMES
                        else STEP_NAMES[0])
    if step not in STEP_NAMES:
        return redirect("portal:setup", tenant_slug=tenant_slug)
    handler = {"organization": _organization, "apple": _apple, "android": _android,
               "users": _users, "invite": _invite}[step]
    if request.method == "POST" and request.POST.get("skip"):
        return _next(request, tenant, step)
    return handler(request, tenant, step)


def _next(request, tenant, step) -> HttpResponse:
    with transaction.atomic():
        following = _advance(tenant, step, request.user, Origin.of(request))
    if not following:
        messages.success(request, "Setup complete. Welcome!")
        return redirect("portal:dashboard", tenant_slug=tenant.slug)
    return redirect("portal:setup-step", tenant_slug=tenant.slug, step=following)


def _page(request, step, context, status=200) -> HttpResponse:
    return render(request, "users/wizard.html", {
        "steps": STEPS, "step": step, "step_index": STEP_NAMES.index(step) + 1, **context,
    }, status=status)


def _organization(request, tenant, step):
    form = OrganizationForm(request.POST or None, initial={"name": tenant.name})
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            if form.cleaned_data["name"] != tenant.name:
                tenant.name = form.cleaned_data["name"]
                tenant.save(update_fields=["name"])
                record(tenant, AuditAction.TENANT_UPDATED, actor=request.user, target=tenant,
                       origin=Origin.of(request), detail={"name": tenant.name})
        return _next(request, tenant, step)
    return _page(request, step, {"form": form}, 400 if form.errors else 200)


def _apple(request, tenant, step):

    form = AppleForm(request.POST or None,
                     initial={"push_topic": apple_settings(tenant).push_topic})
    if request.method == "POST" and form.is_valid():
        if form.cleaned_data["push_topic"]:
            do_save_apple_settings(tenant, actor=request.user, origin=Origin.of(request),
                                   push_topic=form.cleaned_data["push_topic"])
        return _next(request, tenant, step)
    return _page(request, step, {"form": form}, 400 if form.errors else 200)


def _android(request, tenant, step):
    if request.method == "POST":
        return _next(request, tenant, step)
    return _page(request, step, {})


def _users(request, tenant, step):
    formset = NewUserRowFormSet(request.POST or None, prefix="u")
    errors: list[str] = []
    if request.method == "POST":
        if formset.is_valid():
            rows = [UserRow(line=index, email=form.cleaned_data["email"],
                            first_name=form.cleaned_data.get("first_name", ""),
                            last_name=form.cleaned_data.get("last_name", ""),
                            password=form.cleaned_data.get("password", ""),
                            temporary_password=form.cleaned_data.get("temporary_password",
                                                                     False),
                            require_pin=form.cleaned_data.get("require_pin", False))
                    for index, form in enumerate(formset.forms, start=1)
                    if form.cleaned_data.get("email")]
            if not rows:
                return _next(request, tenant, step)
            result = do_create_users(tenant, rows, actor=request.user, origin=Origin.of(request))
            if result.ok:
                return _next(request, tenant, step)
            errors = result.errors
        else:
            errors = ["Correct the highlighted rows."]
    return _page(request, step, {"formset": formset, "errors": errors},
                 400 if errors else 200)


def _invite(request, tenant, step):

    invited = Invitation.objects.for_tenant(tenant).values("user_id")
    candidates = list(User.objects.for_tenant(tenant).filter(role="user", is_active=True)
                      .exclude(pk__in=invited).order_by("email")[:500])
    form = InviteForm(request.POST or None, candidates=candidates)
    if request.method == "POST" and form.is_valid():
        chosen = [user for user in candidates if user.pk in set(form.cleaned_data["users"])]
        if chosen:

            do_send_invitations(tenant, chosen, actor=request.user, origin=Origin.of(request))
            messages.success(request, f"Invitations sent to {len(chosen)} user(s).")
        return _next(request, tenant, step)
    return _page(request, step, {"form": form, "candidates": candidates,
                                 "options": AddUsersOptionsForm()})
