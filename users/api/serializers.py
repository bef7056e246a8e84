"""Serializers of the LDAP connector API. The bind password is write-only: it is accepted,
encrypted, and never returned (`has_bind_password` says whether one is stored)."""

from __future__ import annotations

from rest_framework import serializers

from core.api.errors import Conflict
from core.api.schema import StrictJsonInput
from users.ldap.client import LdapConfigError, validate_server_url
from users.models import LdapConnector


class LdapConnectorSerializer(StrictJsonInput, serializers.ModelSerializer):
    content_formats = {"server_urls": "ldap-url", "ca_certificate_pem": "pem-ca-certificate",
                       "bind_dn": "ldap-dn", "base_dn": "ldap-dn", "user_filter": "ldap-filter"}

    server_urls = serializers.ListField(
        child=serializers.CharField(max_length=500), min_length=1, max_length=10,
        help_text="ldap:// or ldaps:// URLs, tried in order.")
    bind_password = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=1000,
        trim_whitespace=False, style={"input_type": "password"},
        help_text="Write-only. Omit or leave blank to keep the stored password.")
    has_bind_password = serializers.BooleanField(read_only=True)

    class Meta:
        model = LdapConnector
        fields = [
            "server_urls", "start_tls", "ca_certificate_pem", "bind_dn", "bind_password",
            "has_bind_password", "base_dn", "user_filter", "email_attribute",
            "first_name_attribute", "last_name_attribute", "unique_id_attribute", "is_enabled",
            "sync_interval_minutes", "last_sync_at", "last_sync_status", "last_sync_counts",
            "last_sync_problems", "last_sync_error", "last_sync_duration_ms", "updated_at",
        ]
        extra_kwargs = {"ca_certificate_pem": {"max_length": 65536}}
        read_only_fields = [
            "last_sync_at", "last_sync_status", "last_sync_counts", "last_sync_problems",
            "last_sync_error", "last_sync_duration_ms", "updated_at",
        ]

    # base_dn, bind_dn, user_filter, the attribute names and the CA PEM are checked by the
    # model field validators, which ModelSerializer runs.
    def validate_server_urls(self, urls: list[str]) -> list[str]:
        for url in urls:
            try:
                validate_server_url(url)
            except LdapConfigError as exc:
                raise serializers.ValidationError(str(exc)) from None
        return urls

    def validate(self, attrs):
        stored = self.instance is not None and self.instance.has_bind_password
        if attrs.get("bind_dn") and not attrs.get("bind_password") and not stored:
            # the input is well formed: what is (not) stored refuses it
            raise Conflict({"bind_password": ["A bind DN needs a password (none is stored "
                                              "yet)."]})
        return attrs


class ConnectionTestSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    message = serializers.CharField()
    server_url = serializers.CharField(allow_blank=True)
    entry_count = serializers.IntegerField(allow_null=True)


class SyncOutcomeSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["succeeded", "failed", "skipped"])
    counts = serializers.DictField(child=serializers.IntegerField())
    problems = serializers.ListField(child=serializers.DictField(child=serializers.CharField()))
    error = serializers.CharField(allow_blank=True)
