"""Forms of the users app."""

from django import forms
from django.core.exceptions import ValidationError


class SignInForm(forms.Form):
    email = forms.EmailField(
        max_length=254,
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )
    password = forms.CharField(
        max_length=256, strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What uses this token, e.g. 'HR sync'.")


class NewPasswordForm(forms.Form):
    """Choose a password (twice): Django's password validators, and never the temporary
    password it replaces. Used by both portals and the /go flow."""

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
        from users.services.accounts import check_new_password

        data = super().clean()
        first, second = data.get("new_password1"), data.get("new_password2")
        if first and second and first != second:
            self.add_error("new_password2", "The two passwords differ.")
        elif first:
            try:
                check_new_password(self.user, first)
            except ValidationError as exc:
                self.add_error("new_password1", exc)
        return data
