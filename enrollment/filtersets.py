"""FilterSets shared by the portal lists and the API."""

import django_filters

from .models import IssuedCertificate


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
