"""API: the organization's managed domains (account-driven enrollment's service discovery).

GET/POST /api/v1/managed-domains/, GET/DELETE /api/v1/managed-domains/{id}/. A domain another
organization has is a 409 that does not say which organization.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.response import Response

from core.api.errors import error_response
from core.api.schema import StrictJsonInput
from core.api.viewsets import TenantScopedMixin
from core.origin import Origin
from enrollment.apple.links import discovery_url
from enrollment.models import ManagedDomain
from enrollment.services.managed_domains import (
    DomainTaken,
    do_add_managed_domain,
    do_remove_managed_domain,
)

TAKEN_MESSAGE = "This domain belongs to another organization, or is already listed here."


class ManagedDomainSerializer(StrictJsonInput, serializers.ModelSerializer):
    # Declared, so the model's unique check (a 400 that would tell another organization's
    # domain from a free one) does not run: the service answers "taken" alike.
    domain = serializers.CharField(max_length=253, help_text="The domain of users' addresses.")
    content_formats = {"domain": "dns-name"}
    discovery_url = serializers.SerializerMethodField(
        help_text="Where Apple devices ask for this domain's users: "
                  "https://<domain>/.well-known/com.apple.remotemanagement must answer what "
                  "this URL answers (redirect or reverse proxy).")

    class Meta:
        model = ManagedDomain
        fields = ["id", "domain", "discovery_url", "created_at"]
        read_only_fields = ["id", "discovery_url", "created_at"]

    def get_discovery_url(self, managed) -> str:
        return discovery_url()


@extend_schema_view(
    create=extend_schema(responses={
        201: ManagedDomainSerializer,
        409: OpenApiResponse(description="The domain is already managed (here or by another "
                                         "organization, which is not named).")}),
    destroy=extend_schema(responses={204: None}),
)
class ManagedDomainViewSet(TenantScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                           mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Domains whose users enroll with this organization by signing in on their device
    (Settings > VPN & Device Management): Apple's service discovery picks the organization
    by the domain of the address the user types."""

    queryset = ManagedDomain.objects.all()
    serializer_class = ManagedDomainSerializer

    def create(self, request, *args, **kwargs):
        params = self.get_serializer(data=request.data)
        params.is_valid(raise_exception=True)
        try:
            managed = do_add_managed_domain(self.tenant, params.validated_data["domain"],
                                            actor=self.actor, origin=Origin.of(request))
        except ValidationError as exc:
            raise serializers.ValidationError({"domain": exc.messages}) from None
        except DomainTaken:
            return error_response("conflict", TAKEN_MESSAGE, status.HTTP_409_CONFLICT)
        return Response(self.get_serializer(managed).data, status=status.HTTP_201_CREATED)

    def destroy(self, request, *args, **kwargs):
        do_remove_managed_domain(self.tenant, self.get_object(), actor=self.actor,
                                 origin=Origin.of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
