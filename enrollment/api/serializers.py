from __future__ import annotations

import base64
import binascii

from rest_framework import serializers

from core.api.schema import StrictJsonInput
from enrollment.models import CertificateAuthority, Challenge, IssuedCertificate, RevocationReason
from enrollment.validators import x509_name_component
from pki.authority import CAImportError, load_pem, load_pkcs12_bundle


class CertificateAuthoritySerializer(serializers.ModelSerializer):
    certificate_pem = serializers.SerializerMethodField()

    class Meta:
        model = CertificateAuthority
        fields = ["id", "subject", "fingerprint_sha256", "not_before", "not_after", "source",
                  "is_active", "created_at", "certificate_pem", "chain_pem"]
        read_only_fields = fields

    def get_certificate_pem(self, ca: CertificateAuthority) -> str:
        body = base64.encodebytes(bytes(ca.certificate_der)).decode()
        return f"-----BEGIN CERTIFICATE-----\n{body}-----END CERTIFICATE-----\n"


class GenerateCASerializer(StrictJsonInput, serializers.Serializer):
    common_name = serializers.CharField(max_length=64, required=False,
                                        validators=[x509_name_component])
    organization = serializers.CharField(max_length=64, required=False,
                                         validators=[x509_name_component])
    years = serializers.IntegerField(min_value=1, max_value=30, default=10)


class ImportCASerializer(StrictJsonInput, serializers.Serializer):
    """PEM key + PEM certificate, or a base64 PKCS#12 bundle; password optional."""

    content_formats = {"private_key_pem": "pem-private-key",
                       "certificate_pem": "pem-ca-certificate",
                       "pkcs12_base64": "pkcs12-base64", "password": "key-password"}
    any_of = [{"required": ["pkcs12_base64"]},
              {"required": ["private_key_pem", "certificate_pem"]}]

    private_key_pem = serializers.CharField(required=False, max_length=65536)
    certificate_pem = serializers.CharField(required=False, max_length=65536)
    pkcs12_base64 = serializers.CharField(required=False, max_length=131072)
    password = serializers.CharField(required=False, allow_blank=True, max_length=256,
                                     write_only=True)

    def validate(self, attrs):
        password = (attrs.get("password") or "").encode() or None
        try:
            if attrs.get("pkcs12_base64"):
                try:
                    bundle = base64.b64decode(attrs["pkcs12_base64"], validate=True)
                except (binascii.Error, ValueError):
                    raise serializers.ValidationError(
                        {"pkcs12_base64": "Not valid base64."}) from None
                attrs["key_pair"] = load_pkcs12_bundle(bundle, password)
            elif attrs.get("private_key_pem") and attrs.get("certificate_pem"):
                attrs["key_pair"] = load_pem(attrs["private_key_pem"].encode(),
                                             attrs["certificate_pem"].encode(), password)
            else:
                raise serializers.ValidationError(
                    "Give pkcs12_base64, or both private_key_pem and certificate_pem.")
        except CAImportError as exc:
            raise serializers.ValidationError(str(exc)) from None
        return attrs


class IssuedCertificateSerializer(serializers.ModelSerializer):
    class Meta:
        model = IssuedCertificate
        fields = ["id", "serial_hex", "subject", "common_name", "fingerprint_sha256",
                  "not_before", "not_after", "authority", "challenge", "renewed_from", "device",
                  "transaction_id", "revoked_at", "revocation_reason", "created_at"]
        read_only_fields = fields


class RevokeSerializer(StrictJsonInput, serializers.Serializer):
    reason = serializers.ChoiceField(choices=RevocationReason.choices,
                                     default=RevocationReason.UNSPECIFIED)


class ChallengeSerializer(serializers.ModelSerializer):
    class Meta:
        model = Challenge
        fields = ["id", "purpose", "created_at", "expires_at", "used_at"]
        read_only_fields = fields


class CreateChallengeSerializer(StrictJsonInput, serializers.Serializer):
    purpose = serializers.CharField(max_length=100, required=False, allow_blank=True)
    ttl_minutes = serializers.IntegerField(min_value=1, max_value=24 * 60, required=False)


class MintedChallengeSerializer(ChallengeSerializer):
    challenge = serializers.CharField(help_text="The one-time challenge password; shown once.")
    scep_url = serializers.URLField()

    class Meta(ChallengeSerializer.Meta):
        fields = [*ChallengeSerializer.Meta.fields, "challenge", "scep_url"]
        read_only_fields = fields
