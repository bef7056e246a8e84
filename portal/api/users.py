"""API: users of the tenant (list, create with optional invitation, read, update)."""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from core.api.errors import Conflict
from core.api.schema import StrictJsonInput
from core.api.viewsets import TenantModelViewSet
from core.origin import Origin
from enrollment.services.invitations import do_create_and_invite_users
from portal.filtersets import UserFilterSet, with_registered
from users.csv_import import UserRow
from users.models import User
from users.services.people import do_create_users, do_update_user


class UserSerializer(StrictJsonInput, serializers.ModelSerializer):
    is_registered = serializers.BooleanField(read_only=True)
    has_password = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "email", "first_name", "last_name", "role", "source", "is_active",
                  "must_change_password", "require_registration_pin", "has_password",
                  "is_registered", "date_joined"]
        read_only_fields = ["id", "email", "source", "must_change_password", "has_password",
                            "is_registered", "date_joined"]

    def get_has_password(self, user: User) -> bool:
        return user.has_usable_password()


class CreateUserSerializer(StrictJsonInput, serializers.Serializer):
    content_formats = {"password": "password"}
    # a temporary password is one to give
    any_of = [{"properties": {"temporary_password": {"enum": [False]}}},
              {"required": ["password"], "properties": {"password": {"minLength": 1}}}]

    email = serializers.EmailField(max_length=254)
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    password = serializers.CharField(max_length=256, required=False, allow_blank=True,
                                     write_only=True, trim_whitespace=False)
    temporary_password = serializers.BooleanField(default=False)
    require_registration_pin = serializers.BooleanField(default=False)
    send_invitation = serializers.BooleanField(default=False)


@extend_schema_view(partial_update=extend_schema(responses={
    200: UserSerializer, 403: OpenApiResponse(description="You cannot disable or demote "
                                                          "yourself.")}))
class UserViewSet(TenantModelViewSet):
    """Users of the organization. Creating one can send the registration invitation at once."""

    queryset = User.objects.all()
    serializer_class = UserSerializer
    filterset_class = UserFilterSet
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return with_registered(super().get_queryset()).order_by("email")

    @extend_schema(request=CreateUserSerializer, responses={
        201: UserSerializer, 409: OpenApiResponse(description="The address has an account.")})
    def create(self, request):
        params = CreateUserSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        row = UserRow(line=1, email=data["email"], first_name=data.get("first_name", ""),
                      last_name=data.get("last_name", ""), password=data.get("password", ""),
                      temporary_password=data["temporary_password"],
                      require_pin=data["require_registration_pin"])
        create = do_create_and_invite_users if data["send_invitation"] else do_create_users
        result = create(self.tenant, [row], actor=self.actor, origin=Origin.of(request))
        if not result.ok:
            taken = [e for e in result.errors if "already has an account" in e]
            if taken:
                raise Conflict({"email": [e.removeprefix("row 1: ") for e in taken]})
            fields: dict[str, list[str]] = {}
            for error in result.errors:
                message = error.removeprefix("row 1: ")
                field = "password" if "password" in message else "email"
                fields.setdefault(field, []).append(message)
            raise ValidationError(fields)
        user = self.get_queryset().get(pk=result.users[0].pk)
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)

    @transaction.atomic
    def perform_update(self, serializer):
        if serializer.instance.pk == getattr(self.request.user, "pk", None) and (
                serializer.validated_data.get("is_active") is False
                or serializer.validated_data.get("role", "admin") != "admin"):
            raise PermissionDenied("You cannot disable or demote yourself.")
        do_update_user(self.tenant, serializer.instance, actor=self.actor,
                       origin=Origin.of(self.request), **serializer.validated_data)
