"""Portal form for configuration profiles."""

from __future__ import annotations

from django import forms

from profiles.api.serializers import APPLE_PLATFORMS, IDENTIFIER
from profiles.models import ConfigurationProfile
from profiles.services.configuration import InvalidPayload, normalise_payload_plist
from users.models import User


class ConfigurationProfileForm(forms.ModelForm):
    platforms = forms.MultipleChoiceField(choices=APPLE_PLATFORMS,
                                          widget=forms.CheckboxSelectMultiple)
    payload_plist = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false"}), max_length=1_000_000,
        label="Payloads", help_text="XML plist: an array of payload dictionaries, or a whole "
                                    ".mobileconfig (its payloads are taken).")
    assigned_users = forms.ModelMultipleChoiceField(queryset=User.objects.none(),
                                                    required=False)

    class Meta:
        model = ConfigurationProfile
        fields = ["name", "identifier", "description", "payload_plist", "scope", "platforms",
                  "assign_to_all", "assigned_users"]

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        self.fields["assigned_users"].queryset = User.objects.for_tenant(tenant)

    def clean_identifier(self):
        value = self.cleaned_data["identifier"]
        if not IDENTIFIER.match(value):
            raise forms.ValidationError("Use a reverse-DNS identifier such as com.example.wifi.")
        others = ConfigurationProfile.objects.for_tenant(self.tenant).filter(identifier=value)
        if self.instance.pk:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise forms.ValidationError("Another profile uses this identifier.")
        return value

    def clean_payload_plist(self):
        try:
            return normalise_payload_plist(self.cleaned_data["payload_plist"])
        except InvalidPayload as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_platforms(self):
        return sorted(self.cleaned_data["platforms"])

    def validate_unique(self):
        pass  # per tenant, in clean_identifier (the instance has no tenant yet)

    def service_fields(self) -> tuple[dict, list]:
        data = dict(self.cleaned_data)
        users = list(data.pop("assigned_users", []))
        return data, users
