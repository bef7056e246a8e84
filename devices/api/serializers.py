from __future__ import annotations

from rest_framework import serializers

from ..apple.commands import TYPED_REQUEST_TYPES
from ..models import AppleChannel, AppleMdmSettings, Command, Device


class OwnerSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    email = serializers.EmailField(read_only=True)


class DeviceSerializer(serializers.ModelSerializer):
    owner = OwnerSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Device
        fields = ["id", "platform", "state", "owner", "udid", "serial_number", "name", "model",
                  "model_name", "product_name", "os_version", "build_version", "enrolled_at",
                  "last_seen_at", "created_at"]
        read_only_fields = fields


class ChannelSerializer(serializers.ModelSerializer):
    class Meta:
        model = AppleChannel
        fields = ["channel_id", "is_user_channel", "user_guid", "user_short_name",
                  "user_long_name", "topic", "enabled", "authenticated_at", "token_updated_at",
                  "last_seen_at"]
        read_only_fields = fields


class DeviceDetailSerializer(DeviceSerializer):
    channels = ChannelSerializer(source="apple_channels", many=True, read_only=True)

    class Meta(DeviceSerializer.Meta):
        fields = [*DeviceSerializer.Meta.fields, "imei", "meid", "device_information",
                  "channels"]
        read_only_fields = fields


class CommandSerializer(serializers.ModelSerializer):
    channel = serializers.CharField(source="channel.channel_id", read_only=True)
    created_by = serializers.CharField(source="created_by_label", read_only=True)

    class Meta:
        model = Command
        fields = ["id", "command_uuid", "request_type", "status", "payload", "result",
                  "error_chain", "channel", "delivered_count", "created_by", "created_at",
                  "sent_at", "completed_at"]
        read_only_fields = fields


class EnqueueCommandSerializer(serializers.Serializer):
    request_type = serializers.CharField(
        max_length=100,
        help_text=f"Apple RequestType. Validated: {', '.join(TYPED_REQUEST_TYPES)}; any other "
                  "is sent as given (raw command).")
    payload = serializers.JSONField(
        required=False, default=dict,
        help_text="Command keys besides RequestType, e.g. {\"Identifier\": \"...\"}; data "
                  "values (InstallProfile Payload) as base64.")
    configuration_profile = serializers.IntegerField(
        required=False, help_text="InstallProfile: id of a configuration profile to install "
                                  "(instead of payload.Payload).")
    user_channel = serializers.CharField(
        required=False, max_length=300,
        help_text="macOS: a user channel id (UDID:UserID) instead of the device channel.")

    def validate_payload(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be an object.")
        return value


class AppleMdmSettingsSerializer(serializers.ModelSerializer):
    class Meta:
        model = AppleMdmSettings
        fields = ["push_topic", "sign_enrollment_profiles", "updated_at"]
        read_only_fields = ["updated_at"]

    def validate_push_topic(self, value: str) -> str:
        value = value.strip()
        if value and (not value.startswith("com.apple.mgmt.") or value == "com.apple.mgmt."
                      or any(c.isspace() for c in value)):
            raise serializers.ValidationError(
                "The APNs topic starts with com.apple.mgmt. (see the push certificate).")
        return value
