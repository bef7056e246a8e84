"""FilterSets shared by the portal lists and the API."""

import django_filters

from devices.models import Platform

from .models import IssuedCertificate, Registration, RegistrationMethod, RegistrationState


class IssuedCertificateFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(field_name="common_name", lookup_expr="icontains",
                                  label="Common name")
    serial = django_filters.CharFilter(field_name="serial_hex", lookup_expr="istartswith")
    revoked = django_filters.BooleanFilter(field_name="revoked_at", lookup_expr="isnull",
                                           exclude=True, label="Revoked")
    device = django_filters.NumberFilter(field_name="device_id")

    class Meta:
        model = IssuedCertificate
        fields = ["q", "serial", "revoked", "device"]


class RegistrationFilterSet(django_filters.FilterSet):
    user = django_filters.NumberFilter(field_name="user_id")
    state = django_filters.ChoiceFilter(choices=RegistrationState.choices)
    platform = django_filters.ChoiceFilter(choices=Platform.choices)
    method = django_filters.ChoiceFilter(choices=RegistrationMethod.choices)
    step = django_filters.ChoiceFilter(
        method="reached_step", label="Reached step",
        choices=[("profile_downloaded", "Profile downloaded"),
                 ("certificate_issued", "Certificate issued")])

    class Meta:
        model = Registration
        fields = ["user", "state", "platform", "method", "step"]

    def reached_step(self, queryset, name, value):
        return queryset.filter(**{f"{value}_at__isnull": False})
