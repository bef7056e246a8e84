from __future__ import annotations

import re

from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.api.schema import StrictJsonInput
from devices.apple.commands import TYPED_REQUEST_TYPES
from devices.models import AppleChannel, Command, Device, IdentityRenewal
from devices.services.bulk import ACTIONS, MAX_DEVICES, OUTCOMES
from enrollment.models import AppleMdmSettings


class OwnerSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    email = serializers.EmailField(read_only=True)


class DeviceSerializer(serializers.ModelSerializer):
    owner = OwnerSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Device
        fields = ["id", "platform", "state", "owner", "udid", "serial_number", "name", "model",
                  "model_name", "product_name", "os_version", "build_version", "enrolled_at",
                  "last_seen_at", "identity_expires_at", "user_enrollment", "created_at"]
        read_only_fields = fields
        extra_kwargs = {
            "identity_expires_at": {"help_text": (
                "Apple: when the MDM identity certificate expires (renewed before it does).")},
            "user_enrollment": {"help_text": (
                "Apple User Enrollment: a personal device, known by its EnrollmentID (in "
                "`udid`); only the commands Apple allows on such devices are accepted.")}}


class IdentityRenewalSerializer(serializers.ModelSerializer):
    """One attempt to renew a device's MDM identity."""

    previous_certificate = serializers.CharField(
        source="previous_certificate.serial_hex", read_only=True, allow_null=True,
        default=None, help_text="Serial of the identity being replaced.")
    new_certificate = serializers.CharField(
        source="new_certificate.serial_hex", read_only=True, allow_null=True, default=None,
        help_text="Serial of the identity that replaced it (completed).")
    requested_by = serializers.CharField(source="requested_by_label", read_only=True)

    class Meta:
        model = IdentityRenewal
        fields = ["id", "device", "state", "reason", "attempt", "previous_certificate",
                  "new_certificate", "registration", "requested_by", "failure_reason",
                  "created_at", "expires_at", "ended_at"]
        read_only_fields = fields
        extra_kwargs = {
            "expires_at": {"help_text": "The attempt waits for the device until then; the "
                                        "next one follows with a longer window."},
            "attempt": {"help_text": "Consecutive attempts, from 1."}}


class IdentitySummarySerializer(serializers.Serializer):
    expired = serializers.IntegerField(help_text="Managed Apple devices whose identity expired.")
    within_30 = serializers.IntegerField(help_text="Identities expiring within 30 days.")
    within_60 = serializers.IntegerField(help_text="Identities expiring within 60 days.")
    within_90 = serializers.IntegerField(help_text="Identities expiring within 90 days.")
    renewing = serializers.IntegerField(help_text="Attempts waiting for their device.")
    failed_recently = serializers.IntegerField(help_text="Attempts failed in the last 7 days.")


class RenewIdentityResultSerializer(serializers.Serializer):
    renewal = IdentityRenewalSerializer(allow_null=True, help_text=(
        "The attempt sent now; null when the per-minute limit defers it to the next minutes."))
    deferred = serializers.BooleanField(help_text="Sent with the next scans (rate limit).")


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
                  "channels", "identity_renewal", "previous_identity_accepted_until"]
        read_only_fields = fields

    identity_renewal = serializers.SerializerMethodField(
        help_text="The latest identity renewal attempt (null: none yet).")
    previous_identity_accepted_until = serializers.SerializerMethodField(
        help_text="After a renewal, the replaced identity still speaks until then.")

    @extend_schema_field(IdentityRenewalSerializer(allow_null=True))
    def get_identity_renewal(self, device: Device) -> dict | None:
        latest = getattr(device, "latest_renewals", None)
        return IdentityRenewalSerializer(latest[0]).data if latest else None

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_previous_identity_accepted_until(self, device: Device):
        for channel in device.apple_channels.all():
            if not channel.is_user_channel and channel.previous_certificate_until:
                return serializers.DateTimeField().to_representation(
                    channel.previous_certificate_until)
        return None


class CommandSerializer(serializers.ModelSerializer):
    channel = serializers.CharField(source="channel.channel_id", read_only=True)
    created_by = serializers.CharField(source="created_by_label", read_only=True)

    class Meta:
        model = Command
        fields = ["id", "command_uuid", "request_type", "status", "payload", "result",
                  "error_chain", "channel", "delivered_count", "created_by", "created_at",
                  "sent_at", "completed_at"]
        read_only_fields = fields


class EnqueueCommandSerializer(StrictJsonInput, serializers.Serializer):
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


# Surrounding white space is trimmed; none inside (nor NUL, as in any text). Blank (or only
# white space) means none: the schema says "" apart, so the pattern must not match it.
PUSH_TOPIC = re.compile(r"^(\s*com\.apple\.mgmt\.[^\s\x00]+\s*|\s+)$")
PUSH_TOPIC_MESSAGE = "The APNs topic starts with com.apple.mgmt. (see the push certificate)."


class AppleMdmSettingsSerializer(StrictJsonInput, serializers.ModelSerializer):
    updated_at = serializers.DateTimeField(
        read_only=True, allow_null=True,
        help_text="null while the defaults apply (never saved).")

    confirm_topic_change = serializers.BooleanField(
        write_only=True, default=False, help_text=(
            "Confirm a push topic that differs from the current one: every managed Apple "
            "device would have to enroll again (the 400 confirmation_required answer says how "
            "many)."))

    class Meta:
        model = AppleMdmSettings
        fields = ["push_topic", "sign_enrollment_profiles", "confirm_topic_change",
                  "updated_at"]
        read_only_fields = ["updated_at"]
        extra_kwargs = {"push_topic": {"validators": [
            RegexValidator(PUSH_TOPIC, PUSH_TOPIC_MESSAGE)]}}

    def validate_push_topic(self, value: str) -> str:
        value = value.strip()
        if value and not PUSH_TOPIC.match(value):
            raise serializers.ValidationError(PUSH_TOPIC_MESSAGE)
        return value


@extend_schema_field({"type": "boolean", "enum": [True]})
class ConfirmField(serializers.BooleanField):
    """true, the only value that acts; false is accepted as "show me first" (a 400 that
    says what would happen), so the schema lists only true."""


class BulkActionSerializer(StrictJsonInput, serializers.Serializer):
    action = serializers.ChoiceField(
        choices=list(ACTIONS),
        help_text="refresh (DeviceInformation), push (APNs wake-up), reregister, retire, "
                  "wipe (erase all data), delete, renew_identity (Apple: a re-enrollment "
                  "profile renews the MDM identity; at most the per-minute limit at once, the "
                  "rest within the next minutes).")
    devices = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1), allow_empty=False,
        max_length=MAX_DEVICES,
        help_text=f"Device ids (at most {MAX_DEVICES}). Ids that are not this organization's "
                  "devices come back as not_found.")
    confirm = ConfirmField(help_text="Must be true: with false nothing happens and the "
                                     "answer (400 confirmation_required) says what would.")
    pin = serializers.RegexField(r"^[0-9]{6}$", required=False,
                                 help_text="wipe: the six-digit Find My PIN every Mac gets "
                                           "(a Mac without one is not erased).")
    preserve_data_plan = serializers.BooleanField(
        default=True, help_text="wipe: keep the cellular data plan (iPhones, iPads).")


class BulkOutcomeSerializer(serializers.Serializer):
    device = serializers.IntegerField(source="device_id")
    name = serializers.CharField(source="label")
    outcome = serializers.ChoiceField(choices=list(OUTCOMES))
    detail = serializers.CharField(allow_blank=True)


class BulkResultSerializer(serializers.Serializer):
    action = serializers.CharField()
    summary = serializers.CharField()
    done = serializers.IntegerField()
    skipped = serializers.IntegerField()
    failed = serializers.IntegerField()
    not_found = serializers.IntegerField()
    results = BulkOutcomeSerializer(many=True)
