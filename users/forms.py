"""Forms of the users app."""

from django import forms


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
