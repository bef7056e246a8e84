"""API: configuration profiles (CRUD), each change through the audited services."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.response import Response

from core.api.viewsets import TenantModelViewSet
from core.origin import Origin
from profiles.api.serializers import ConfigurationProfileSerializer
from profiles.models import ConfigurationProfile
from profiles.services.configuration import (
    InvalidPayload,
    do_create_profile,
    do_delete_profile,
    do_update_profile,
)

_WRITE_ERRORS = {404: OpenApiResponse(description="An assigned user is not found here."),
                 409: OpenApiResponse(description="Another profile uses this identifier.")}


@extend_schema_view(
    create=extend_schema(responses={201: ConfigurationProfileSerializer, **_WRITE_ERRORS}),
    update=extend_schema(responses={200: ConfigurationProfileSerializer, **_WRITE_ERRORS}),
    partial_update=extend_schema(responses={200: ConfigurationProfileSerializer,
                                            **_WRITE_ERRORS}))
class ConfigurationProfileViewSet(TenantModelViewSet, mixins.DestroyModelMixin):
    """Admin-defined configuration profiles, installed on enrollment: scope `device` on the
    device channel, `user` on the enrolled user's channel (macOS)."""

    queryset = ConfigurationProfile.objects.prefetch_related("assigned_users")
    serializer_class = ConfigurationProfileSerializer
    filterset_fields = ["scope", "assign_to_all"]

    def create(self, request, *args, **kwargs):
        params = self.get_serializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = dict(params.validated_data)
        users = data.pop("assigned_users", [])
        try:
            profile = do_create_profile(self.tenant, actor=self.actor, assigned_users=users,
                                        origin=Origin.of(request), **data)
        except InvalidPayload as exc:
            raise serializers.ValidationError({"payload_plist": [str(exc)]}) from None
        return Response(self.get_serializer(profile).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        profile = self.get_object()
        params = self.get_serializer(profile, data=request.data,
                                     partial=kwargs.get("partial", False))
        params.is_valid(raise_exception=True)
        data = dict(params.validated_data)
        users = data.pop("assigned_users", None)
        try:
            profile = do_update_profile(self.tenant, profile, actor=self.actor,
                                        assigned_users=users, origin=Origin.of(request), **data)
        except InvalidPayload as exc:
            raise serializers.ValidationError({"payload_plist": [str(exc)]}) from None
        return Response(self.get_serializer(profile).data)

    def destroy(self, request, *args, **kwargs):
        do_delete_profile(self.tenant, self.get_object(), actor=self.actor,
                          origin=Origin.of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
