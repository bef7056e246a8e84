"""Forms of the /go flow."""

from __future__ import annotations

from django import forms

from users.forms import NewPasswordForm


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
