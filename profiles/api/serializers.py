from __future__ import annotations

import re

from django.core.validators import RegexValidator
from rest_framework import serializers
from rest_framework.exceptions import NotFound

from core.api.errors import Conflict
from core.api.schema import StrictJsonInput
from profiles.models import ConfigurationProfile
from profiles.services.configuration import InvalidPayload, normalise_payload_plist
from users.models import User

APPLE_PLATFORMS = [("ios", "iOS / iPadOS"), ("macos", "macOS")]
IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-_]*$")


class TenantUserField(serializers.PrimaryKeyRelatedField):
    """A user id of this organization; any other id is a 404, as a user id in a path."""

    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if exc.get_codes() == ["does_not_exist"]:
                raise NotFound({"assigned_users": [f"No user {data} here."]}) from None
            raise


class ConfigurationProfileSerializer(StrictJsonInput, serializers.ModelSerializer):
    content_formats = {"payload_plist": "plist-payloads"}

    platforms = serializers.MultipleChoiceField(choices=APPLE_PLATFORMS, allow_empty=False)
    assigned_users = TenantUserField(
        many=True, required=False, queryset=User.objects.none(),
        help_text="User ids; used when assign_to_all is false.")
    payload_plist = serializers.CharField(
        max_length=1_000_000, help_text="XML plist: an array of payload dictionaries, or a "
                                        "whole .mobileconfig (its PayloadContent is taken).")

    class Meta:
        model = ConfigurationProfile
        fields = ["id", "name", "identifier", "description", "payload_plist", "scope",
                  "platforms", "assign_to_all", "assigned_users", "profile_uuid", "created_at",
                  "updated_at"]
        read_only_fields = ["id", "profile_uuid", "created_at", "updated_at"]
        # Uniqueness per tenant is checked in validate_identifier (the model constraint
        # would otherwise become a validator that ignores the tenant).
        validators: list = []
        extra_kwargs = {"identifier": {"validators": [RegexValidator(
            IDENTIFIER, "Use a reverse-DNS identifier such as com.example.wifi.")]}}

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        tenant = getattr(getattr(request, "_request", request), "tenant", None)
        if tenant is not None:
            fields["assigned_users"].child_relation.queryset = User.objects.for_tenant(tenant)
        return fields

    def _tenant(self):
        request = self.context["request"]
        return request._request.tenant

    def validate_identifier(self, value: str) -> str:
        if not IDENTIFIER.match(value):
            raise serializers.ValidationError(
                "Use a reverse-DNS identifier such as com.example.wifi.")
        others = ConfigurationProfile.objects.for_tenant(self._tenant()).filter(identifier=value)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise Conflict({"identifier": ["Another profile uses this identifier."]})
        return value

    def validate_payload_plist(self, value: str) -> str:
        try:
            return normalise_payload_plist(value)
        except InvalidPayload as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate_platforms(self, value) -> list[str]:
        return sorted(value)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["platforms"] = sorted(data["platforms"])
        return data
