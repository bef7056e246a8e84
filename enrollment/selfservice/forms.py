"""Forms of the /go flow."""

from __future__ import annotations

from django import forms

from core.origin import Origin
from users.forms import NewPasswordForm
from users.services.accounts import SignInError, sign_in


class GoSignInForm(forms.Form):
    email = forms.EmailField(max_length=254, widget=forms.EmailInput(
        attrs={"autocomplete": "username", "autocapitalize": "none"}))
    password = forms.CharField(max_length=256, strip=False, widget=forms.PasswordInput(
        attrs={"autocomplete": "current-password"}))


class GoPinForm(forms.Form):
    email = forms.EmailField(max_length=254, widget=forms.EmailInput(
        attrs={"autocomplete": "username", "autocapitalize": "none"}))
    pin = forms.RegexField(regex=r"^\d{4,12}$", max_length=12, strip=True,
                           error_messages={"invalid": "Enter the digits of your PIN."},
                           widget=forms.TextInput(attrs={"inputmode": "numeric",
                                                         "autocomplete": "one-time-code"}))


class GoSetPasswordForm(NewPasswordForm):
    """A password for an account that has none yet, or replacing a temporary one."""


def sign_in_step(request, tenant, flow) -> tuple[GoSignInForm, bool]:
    """The /go password step, for every entry point that walks it (/go, account-driven
    sign-in): the form, and True once the password (or the directory bind) proved the user,
    the flow then updated and saved."""
    form = GoSignInForm(request.POST or None, initial={"email": flow.email})
    if request.method != "POST" or not form.is_valid():
        return form, False
    try:
        user = sign_in(tenant, form.cleaned_data["email"], form.cleaned_data["password"],
                       require_admin=False, origin=Origin.of(request))
    except SignInError as exc:
        form.add_error(None, str(exc))
        return form, False
    flow.proved_password(user)
    flow.save(request.session)
    return form, True
