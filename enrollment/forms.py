"""Portal forms: generate or import the tenant CA, the identity renewal policy; filter and
revoke certificates."""

from __future__ import annotations

from django import forms

from enrollment.models import RevocationReason
from enrollment.validators import x509_name_component
from pki.authority import CAImportError, KeyPair, load_pem, load_pkcs12_bundle

MAX_UPLOAD = 64 * 1024


class GenerateCAForm(forms.Form):
    common_name = forms.CharField(max_length=64, validators=[x509_name_component])
    organization = forms.CharField(max_length=64, validators=[x509_name_component])
    years = forms.IntegerField(min_value=1, max_value=30, initial=10)


class ImportCAForm(forms.Form):
    """Either a PEM key + PEM certificate, or one PKCS#12 bundle; password optional."""

    private_key = forms.FileField(required=False, help_text="PEM private key (RSA)")
    certificate = forms.FileField(required=False, help_text="PEM CA certificate")
    pkcs12 = forms.FileField(required=False, help_text="or a .p12 / .pfx bundle")
    password = forms.CharField(required=False, strip=False, widget=forms.PasswordInput,
                               max_length=256)

    def _read(self, name: str) -> bytes | None:
        upload = self.cleaned_data.get(name)
        if not upload:
            return None
        if upload.size > MAX_UPLOAD:
            raise forms.ValidationError(f"{name}: the file is too large.")
        return upload.read()

    def clean(self):
        cleaned = super().clean()
        password = (cleaned.get("password") or "").encode() or None
        bundle, key, cert = self._read("pkcs12"), self._read("private_key"), self._read(
            "certificate")
        try:
            if bundle:
                cleaned["key_pair"] = load_pkcs12_bundle(bundle, password)
            elif key and cert:
                cleaned["key_pair"] = load_pem(key, cert, password)
            else:
                raise forms.ValidationError(
                    "Upload a PKCS#12 bundle, or both a PEM private key and a PEM certificate.")
        except CAImportError as exc:
            raise forms.ValidationError(str(exc)) from None
        return cleaned

    @property
    def key_pair(self) -> KeyPair:
        return self.cleaned_data["key_pair"]


class RenewalPolicyForm(forms.Form):
    """Whole numbers only; the bounds and the rule across fields are the service's
    (`do_save_renewal_policy` raises RenewalPolicyInvalid, shown on the fields)."""

    renew_days_before = forms.IntegerField(label="Renew this many days before expiry")
    max_per_minute = forms.IntegerField(label="At most this many devices a minute")
    grace_days = forms.IntegerField(label="Accept the replaced identity for (days)")


class RevokeForm(forms.Form):
    reason = forms.ChoiceField(choices=RevocationReason.choices,
                               initial=RevocationReason.UNSPECIFIED)
