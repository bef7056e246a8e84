"""API: the tenant's identity renewal policy (issue 16)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.response import Response

from core.api.errors import ErrorSerializer
from core.api.schema import StrictJsonInput
from core.api.viewsets import TenantScopedMixin
from core.origin import Origin
from enrollment.models import IdentityRenewalPolicy
from enrollment.services.renewal_policy import (
    RenewalPolicyInvalid,
    do_save_renewal_policy,
    renewal_policy,
)


class IdentityRenewalPolicySerializer(StrictJsonInput, serializers.ModelSerializer):
    class Meta:
        model = IdentityRenewalPolicy
        fields = ["renew_days_before", "max_per_minute", "grace_days", "updated_at"]
        read_only_fields = ["updated_at"]


class IdentityRenewalPolicyViewSet(TenantScopedMixin, viewsets.GenericViewSet):
    """When Apple device identities are renewed: `renew_days_before` their expiry (less than
    the certificates' lifetime), at most `max_per_minute` devices a minute, the replaced
    identity still accepted for `grace_days`. Defaults until saved (`updated_at` null)."""

    queryset = IdentityRenewalPolicy.objects.all()
    serializer_class = IdentityRenewalPolicySerializer
    pagination_class = None

    @extend_schema(responses={200: IdentityRenewalPolicySerializer})
    def show(self, request):
        return Response(IdentityRenewalPolicySerializer(renewal_policy(self.tenant)).data)

    @extend_schema(request=IdentityRenewalPolicySerializer, responses={
        200: IdentityRenewalPolicySerializer,
        400: OpenApiResponse(ErrorSerializer, description=(
            "A value out of bounds, or renewals starting a certificate lifetime or more "
            "before expiry; nothing saved."))})
    def replace(self, request):
        # Every field has a default: a PUT, like a PATCH, keeps what it does not name.
        params = IdentityRenewalPolicySerializer(renewal_policy(self.tenant), data=request.data,
                                                 partial=True)
        params.is_valid(raise_exception=True)
        try:
            policy = do_save_renewal_policy(self.tenant, actor=self.actor,
                                            origin=Origin.of(request), **params.validated_data)
        except RenewalPolicyInvalid as exc:
            raise serializers.ValidationError(exc.errors) from None
        return Response(IdentityRenewalPolicySerializer(policy).data)
