"""API: the tenant CA, issued certificates (list, revoke), SCEP challenges (mint, list)."""

from __future__ import annotations

import datetime as dt

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.viewsets import TenantReadOnlyViewSet, TenantScopedMixin
from core.origin import Origin
from enrollment.api.serializers import (
    CertificateAuthoritySerializer,
    ChallengeSerializer,
    CreateChallengeSerializer,
    GenerateCASerializer,
    ImportCASerializer,
    IssuedCertificateSerializer,
    MintedChallengeSerializer,
    RevokeSerializer,
)
from enrollment.filtersets import CertificateAuthorityFilterSet, IssuedCertificateFilterSet
from enrollment.links import scep_url
from enrollment.models import CertificateAuthority, Challenge, IssuedCertificate
from enrollment.services.authorities import do_generate_ca, do_import_ca
from enrollment.services.certificates import do_revoke_certificate
from enrollment.services.challenges import do_create_challenge


class CertificateAuthorityViewSet(TenantReadOnlyViewSet):
    """The tenant's CAs; the active one issues. Generate a new one or import one."""

    queryset = CertificateAuthority.objects.all()
    serializer_class = CertificateAuthoritySerializer
    filterset_class = CertificateAuthorityFilterSet

    @extend_schema(request=GenerateCASerializer,
                   responses={201: CertificateAuthoritySerializer})
    @action(detail=False, methods=["post"])
    def generate(self, request):
        params = GenerateCASerializer(data=request.data)
        params.is_valid(raise_exception=True)
        ca = do_generate_ca(self.tenant, actor=self.actor, origin=Origin.of(request),
                            **params.validated_data)
        return Response(CertificateAuthoritySerializer(ca).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ImportCASerializer, responses={201: CertificateAuthoritySerializer})
    @action(detail=False, methods=["post"], url_path="import")
    def import_ca(self, request):
        params = ImportCASerializer(data=request.data)
        params.is_valid(raise_exception=True)
        ca = do_import_ca(self.tenant, params.validated_data["key_pair"], actor=self.actor,
                          origin=Origin.of(request))
        return Response(CertificateAuthoritySerializer(ca).data, status=status.HTTP_201_CREATED)


class IssuedCertificateViewSet(TenantReadOnlyViewSet):
    """Certificates issued over SCEP."""

    queryset = IssuedCertificate.objects.all()
    serializer_class = IssuedCertificateSerializer
    filterset_class = IssuedCertificateFilterSet

    @extend_schema(request=RevokeSerializer, responses={200: IssuedCertificateSerializer})
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        certificate = self.get_object()
        params = RevokeSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        do_revoke_certificate(self.tenant, certificate, actor=self.actor,
                              origin=Origin.of(request),
                              reason=params.validated_data["reason"])
        return Response(IssuedCertificateSerializer(certificate).data)


class ChallengeViewSet(TenantScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                       viewsets.GenericViewSet):
    """One-time SCEP challenges. The challenge value is returned once, at creation."""

    queryset = Challenge.objects.all()
    serializer_class = ChallengeSerializer

    @extend_schema(request=CreateChallengeSerializer, responses={201: MintedChallengeSerializer})
    def create(self, request):
        params = CreateChallengeSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        ttl = params.validated_data.get("ttl_minutes")
        minted = do_create_challenge(
            self.tenant, actor=self.actor, purpose=params.validated_data.get("purpose", ""),
            ttl=dt.timedelta(minutes=ttl) if ttl else None, origin=Origin.of(request))
        data = {**ChallengeSerializer(minted.challenge).data, "challenge": minted.raw,
                "scep_url": scep_url(self.tenant)}
        return Response(data, status=status.HTTP_201_CREATED)
