from rest_framework import serializers

from audit.models import AuditEvent


class AuditEventSerializer(serializers.ModelSerializer):
    actor_email = serializers.EmailField(source="actor.email", default=None, read_only=True,
                                         allow_null=True)
    user_email = serializers.EmailField(source="user.email", default=None, read_only=True,
                                        allow_null=True)

    class Meta:
        model = AuditEvent
        fields = [
            "id", "created_at", "action", "actor", "actor_email", "actor_label", "target_type",
            "target_id", "target_label", "user", "user_email", "device", "detail", "source_ip",
        ]
        read_only_fields = fields
