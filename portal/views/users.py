"""Admin portal: the Users page (search, filters, bulk actions), adding users, a user's page."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from core.origin import Origin
from core.portal import admin_required, paginate, safe_next
from devices.models import Device
from enrollment.models import Registration
from enrollment.services.invitations import do_create_and_invite_users, do_send_invitations
from portal.filtersets import UserFilterSet, with_registered
from users.csv_import import UserRow, parse_users_csv
from users.models import User
from users.services.people import check_rows, do_create_users, do_set_users_active
from users.user_forms import (
    AddUsersOptionsForm,
    BulkUserActionForm,
    ImportCsvForm,
    NewUserRowFormSet,
)


@admin_required
def user_list(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    users = with_registered(User.objects.for_tenant(request.tenant))
    filterset = UserFilterSet(request.GET or None, queryset=users)
    return render(request, "users/user_list.html", {
        "filterset": filterset, **paginate(request, filterset.qs.order_by("email")),
        "actions": BulkUserActionForm.ACTIONS,
    })


@admin_required
@require_POST
def user_bulk_action(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    # ASCII digits only ("²" is a digit to isdigit(), not to int()), at most a bigint.
    ids = [int(pk) for pk in request.POST.getlist("users")
           if pk.isascii() and pk.isdigit() and len(pk) <= 18]
    users = list(User.objects.for_tenant(request.tenant).filter(pk__in=ids))
    form = BulkUserActionForm(request.POST, user_ids=[user.pk for user in users])
    if not users or not form.is_valid():
        messages.error(request, "Select at least one user of this organization and an action.")
        return redirect("portal:users", tenant_slug=tenant_slug)
    action = form.cleaned_data["action"]
    if action == "invite":

        active = [user for user in users if user.is_active]
        sent = do_send_invitations(request.tenant, active, actor=request.user,
                                   origin=Origin.of(request))
        messages.success(request, f"Invitations sent to {len(sent)} user(s).")
        if len(active) < len(users):
            messages.warning(request, f"{len(users) - len(active)} disabled user(s) skipped.")
    else:
        changed = do_set_users_active(request.tenant, users, action == "enable",
                                      actor=request.user, origin=Origin.of(request))
        messages.success(request, f"{changed} user(s) {action}d.")
    return redirect(safe_next(request, f"/t/{tenant_slug}/admin/users/"))


def _rows_from_formset(formset) -> list[UserRow]:
    rows = []
    for index, form in enumerate(formset.forms, start=1):
        data = form.cleaned_data if form.is_valid() else {}
        if data.get("email"):
            rows.append(UserRow(line=index, email=data["email"],
                                first_name=data.get("first_name", ""),
                                last_name=data.get("last_name", ""),
                                password=data.get("password", ""),
                                temporary_password=data.get("temporary_password", False),
                                require_pin=data.get("require_pin", False)))
    return rows


@admin_required
@require_http_methods(["GET", "POST"])
def user_add(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    formset = NewUserRowFormSet(request.POST or None, prefix="u")
    options = AddUsersOptionsForm(request.POST or None)
    csv_form = ImportCsvForm()
    errors: list[str] = []
    if request.method == "POST":
        if formset.is_valid() and options.is_valid():
            create = (do_create_and_invite_users if options.cleaned_data["send_invitation"]
                      else do_create_users)
            result = create(request.tenant, _rows_from_formset(formset), actor=request.user,
                            origin=Origin.of(request))
            if result.ok:
                return _created(request, tenant_slug, result.users,
                                options.cleaned_data["send_invitation"])
            errors = result.errors
        else:
            errors = ["Correct the highlighted rows."]
    return render(request, "users/user_add.html", {
        "formset": formset, "options": options, "csv_form": csv_form, "errors": errors,
    }, status=400 if errors else 200)


@admin_required
@require_POST
def user_import(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    csv_form = ImportCsvForm(request.POST, request.FILES)
    errors: list[str] = []
    if csv_form.is_valid():
        parsed = parse_users_csv(csv_form.cleaned_data["file"].read())
        # The file's own problems, then every row's: the admin fixes the file once.
        errors = parsed.errors and [*parsed.errors,
                                    *check_rows(request.tenant, parsed.rows, "line")]
        if not errors:
            invite = csv_form.cleaned_data["send_invitation"]
            create = do_create_and_invite_users if invite else do_create_users
            result = create(request.tenant, parsed.rows, actor=request.user,
                            origin=Origin.of(request), label="line")
            if result.ok:
                return _created(request, tenant_slug, result.users, invite)
            errors = result.errors
    else:
        errors = [error for field_errors in csv_form.errors.values() for error in field_errors]
    return render(request, "users/user_add.html", {
        "formset": NewUserRowFormSet(prefix="u"), "options": AddUsersOptionsForm(),
        "csv_form": csv_form, "errors": errors, "csv_errors": True,
    }, status=400)


def _created(request, tenant_slug: str, users: list[User], invited: bool) -> HttpResponse:
    messages.success(request, f"{len(users)} user(s) added"
                     + (" and invited." if invited else "."))
    return redirect("portal:users", tenant_slug=tenant_slug)


@admin_required
def user_detail(request: HttpRequest, tenant_slug: str, user_id: int) -> HttpResponse:
    person = User.objects.get_in_tenant(request.tenant, pk=user_id)
    registrations = (Registration.objects.for_tenant(request.tenant).filter(user=person)
                     .select_related("device")[:50])
    devices = Device.objects.for_tenant(request.tenant).filter(owner=person)
    return render(request, "users/user_detail.html", {
        "person": person, "registrations": registrations, "devices": devices,
    })
