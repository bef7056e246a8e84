"""API: the tenant's LDAP connector, a singleton at /api/v1/ldap-connector/ (GET, PUT), with
`test/` (bind + one search page) and `sync/` (run a sync now and return its counts)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from core.api.errors import Conflict
from core.api.viewsets import TenantScopedMixin
from users.api.serializers import (
    ConnectionTestSerializer,
    LdapConnectorSerializer,
    SyncOutcomeSerializer,
)
from users.models import LdapConnector
from users.services.ldap import (
    BindPasswordRequired,
    LdapNotConfigured,
    check_ldap_connection,
    do_save_ldap_connector,
    do_sync_ldap,
    get_connector,
)

NOT_CONFIGURED = "No LDAP connector is configured; PUT one to /api/v1/ldap-connector/."
NOT_CONFIGURED_RESPONSE = OpenApiResponse(description="No connector yet.")


class LdapConnectorViewSet(TenantScopedMixin, viewsets.GenericViewSet):
    """The tenant's LDAP connector (one per tenant). The bind password is write-only."""

    queryset = LdapConnector.objects.all()
    serializer_class = LdapConnectorSerializer
    pagination_class = None

    @classmethod
    def as_view(cls, actions=None, **initkwargs):
        # DefaultRouter gives the collection URL GET->list and POST->create. This resource is a
        # singleton, so that URL answers GET (show) and PUT (replace) instead.
        if actions and actions.get("get") == "list":
            actions = {"get": "show", "put": "replace"}
        return super().as_view(actions, **initkwargs)

    def list(self, request):  # pragma: no cover - routed to `show` by as_view
        return self.show(request)

    def get_object(self) -> LdapConnector:
        connector = get_connector(self.tenant)
        if connector is None:
            raise Http404(NOT_CONFIGURED)
        return connector

    @extend_schema(responses={200: LdapConnectorSerializer, 404: NOT_CONFIGURED_RESPONSE})
    def show(self, request):
        return Response(LdapConnectorSerializer(self.get_object()).data)

    @extend_schema(request=LdapConnectorSerializer, responses={
        200: LdapConnectorSerializer, 201: LdapConnectorSerializer,
        409: OpenApiResponse(description=(
            "`bind_password` must be given: with a bind DN while no password is stored, or "
            "again with new server URLs (the stored password never goes to a new host)."))})
    def replace(self, request):
        existing = get_connector(self.tenant)
        params = LdapConnectorSerializer(existing, data=request.data)
        params.is_valid(raise_exception=True)
        values = dict(params.validated_data)
        password = values.pop("bind_password", None)
        try:
            connector = do_save_ldap_connector(self.tenant, actor=self.actor,
                                               bind_password=password, **values)
        except BindPasswordRequired as exc:
            raise Conflict(exc.message_dict) from None
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        return Response(LdapConnectorSerializer(connector).data,
                        status=status.HTTP_200_OK if existing else status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: ConnectionTestSerializer,
                                            404: NOT_CONFIGURED_RESPONSE})
    @action(detail=False, methods=["post"])
    def test(self, request):
        self.get_object()
        result = check_ldap_connection(self.tenant)
        return Response(ConnectionTestSerializer(result).data)

    @extend_schema(request=None, responses={200: SyncOutcomeSerializer,
                                            404: NOT_CONFIGURED_RESPONSE})
    @action(detail=False, methods=["post"])
    def sync(self, request):
        try:
            outcome = do_sync_ldap(self.tenant, actor=self.actor)
        except LdapNotConfigured:
            raise Http404(NOT_CONFIGURED) from None
        return Response(SyncOutcomeSerializer(outcome.as_dict()).data)
