"""Forms of the /go flow."""

from __future__ import annotations

from django import forms
from django.contrib.auth import password_validation


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


class GoSetPasswordForm(forms.Form):
    new_password1 = forms.CharField(label="New password", max_length=256, strip=False,
                                    widget=forms.PasswordInput(attrs={"autocomplete":
                                                                      "new-password"}))
    new_password2 = forms.CharField(label="Repeat it", max_length=256, strip=False,
                                    widget=forms.PasswordInput(attrs={"autocomplete":
                                                                      "new-password"}))

    def __init__(self, user, *args, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean(self):
        data = super().clean()
        first, second = data.get("new_password1"), data.get("new_password2")
        if first and second and first != second:
            self.add_error("new_password2", "The two passwords differ.")
        elif first:
            try:
                password_validation.validate_password(first, self.user)
            except forms.ValidationError as exc:
                self.add_error("new_password1", exc)
        return data
