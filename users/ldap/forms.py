"""Portal form of Settings > Directory (LDAP). The model's field validators check the DNs, the
filter, the attribute names and the CA; this form turns the URL lines into a list and keeps the
bind password write-only (blank keeps the stored one)."""

from __future__ import annotations

from django import forms

from users.ldap.client import LdapConfigError, validate_server_url
from users.models import LdapConnector

# portal.css styles inputs, not textareas: match them here.
TEXTAREA_STYLE = ("width:100%; box-sizing:border-box; font-family:ui-monospace,monospace; "
                  "padding:7px 9px")


class LdapConnectorForm(forms.ModelForm):
    server_urls = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false", "style": TEXTAREA_STYLE}),
        max_length=5000,
        help_text="One ldap:// or ldaps:// URL per line; the next is tried when one is down.")
    bind_password = forms.CharField(
        required=False, strip=False, max_length=1000,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Leave blank to keep the stored password.")

    class Meta:
        model = LdapConnector
        fields = ["server_urls", "start_tls", "ca_certificate_pem", "bind_dn", "base_dn",
                  "user_filter", "email_attribute", "first_name_attribute",
                  "last_name_attribute", "unique_id_attribute", "is_enabled",
                  "sync_interval_minutes"]
        widgets = {"ca_certificate_pem": forms.Textarea(
            attrs={"rows": 4, "spellcheck": "false", "style": TEXTAREA_STYLE})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:  # one URL a line; a new connector's empty list is no text
            self.initial["server_urls"] = "\n".join(self.instance.server_urls or [])
        if self.instance.has_bind_password:
            self.fields["bind_password"].widget.attrs["placeholder"] = "•••••••• (stored)"

    def clean_server_urls(self) -> list[str]:
        urls = [line.strip() for line in self.cleaned_data["server_urls"].splitlines()
                if line.strip()]
        if not urls:
            raise forms.ValidationError("Give at least one server URL.")
        for url in urls:
            try:
                validate_server_url(url)
            except LdapConfigError as exc:
                raise forms.ValidationError(str(exc)) from None
        return urls

    def clean(self):
        cleaned = super().clean()
        if (cleaned.get("bind_dn") and not cleaned.get("bind_password")
                and not self.instance.has_bind_password):
            self.add_error("bind_password", "A bind DN needs a password (none is stored yet).")
        return cleaned

    def connector_values(self) -> dict:
        """Keyword arguments for `do_save_ldap_connector`."""
        values = {name: self.cleaned_data[name] for name in self.Meta.fields}
        values["bind_password"] = self.cleaned_data.get("bind_password") or None
        return values
