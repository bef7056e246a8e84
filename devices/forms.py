"""Portal forms: device actions (lock, erase, install/remove profile) and Apple MDM settings."""

from __future__ import annotations

from django import forms

from devices.api.serializers import AppleMdmSettingsSerializer
from devices.services.bulk import ACTIONS
from profiles.models import ConfigurationProfile

PIN_HELP = "macOS needs a six-digit Find My PIN; iOS ignores it."


def _pin(value: str, platform: str) -> str | None:
    if not value:
        if platform == "macos":
            raise forms.ValidationError("A Mac needs a six-digit PIN.")
        return None
    if len(value) != 6 or not value.isascii() or not value.isdigit():
        raise forms.ValidationError("The PIN must be six digits.")
    return value


class LockForm(forms.Form):
    message = forms.CharField(max_length=200, required=False)
    phone_number = forms.CharField(max_length=40, required=False)
    pin = forms.CharField(max_length=6, required=False, help_text=PIN_HELP)

    def __init__(self, *args, platform: str = "ios", **kwargs):
        super().__init__(*args, **kwargs)
        self.platform = platform

    def clean_pin(self):
        return _pin(self.cleaned_data.get("pin", ""), self.platform)

    def command_payload(self) -> dict:
        data = self.cleaned_data
        payload = {"Message": data["message"], "PhoneNumber": data["phone_number"],
                   "PIN": data["pin"]}
        return {k: v for k, v in payload.items() if v}


class EraseForm(LockForm):
    message = None
    phone_number = None
    preserve_data_plan = forms.BooleanField(required=False, initial=True)

    def command_payload(self) -> dict:
        payload = {"PreserveDataPlan": self.cleaned_data["preserve_data_plan"]}
        if self.cleaned_data["pin"]:
            payload["PIN"] = self.cleaned_data["pin"]
        return payload


class BulkActionForm(forms.Form):
    """The Devices page's bulk action: chosen, then confirmed (`confirmed`), with the erase
    options when it is a wipe. The device ids are read apart (`services.bulk.parse_ids`)."""

    action = forms.ChoiceField(choices=[])
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)
    pin = forms.CharField(max_length=6, required=False, label="Find My PIN (Macs)",
                          help_text="Six digits; every Mac erased gets this PIN.")
    preserve_data_plan = forms.BooleanField(required=False, initial=True,
                                            label="Keep the cellular data plan (iPhones, iPads)")

    def __init__(self, *args, needs_pin: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [(a.name, a.label) for a in ACTIONS.values()]
        self.needs_pin = needs_pin

    def clean_pin(self):
        pin = self.cleaned_data.get("pin", "")
        if self.needs_pin and self.data.get("confirmed"):
            return _pin(pin, "macos")
        return _pin(pin, "ios") if pin else None


class InstallProfileForm(forms.Form):
    profile = forms.ModelChoiceField(queryset=None, empty_label=None)

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["profile"].queryset = ConfigurationProfile.objects.for_tenant(tenant)


class RemoveProfileForm(forms.Form):
    identifier = forms.CharField(max_length=255)


class AppleSettingsForm(forms.Form):
    push_topic = forms.CharField(max_length=255, required=False,
                                 help_text="APNs topic of the push certificate, "
                                           "com.apple.mgmt.External.<uuid>")
    sign_enrollment_profiles = forms.BooleanField(
        required=False, help_text="Uncheck only to inspect profiles with tooling.")
    confirm_topic_change = forms.BooleanField(
        required=False, label="Change the topic: every Apple device enrolls again")

    def clean_push_topic(self):
        try:
            return AppleMdmSettingsSerializer().validate_push_topic(
                self.cleaned_data["push_topic"])
        except Exception as exc:  # DRF ValidationError: reuse its message
            raise forms.ValidationError(getattr(exc, "detail", [str(exc)])[0]) from None
