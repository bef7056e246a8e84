"""Filter types shared by every FilterSet (portal lists and API alike), and the API's
filter backend."""

import datetime as dt

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

BIGINT_MAX = 2**63 - 1


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": BIGINT_MAX})
class IdFilter(django_filters.NumberFilter):
    """A row id: a whole number a bigint column holds. A larger one would overflow the
    database driver (a 500); here it is a form error (a 400 in the API)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        super().__init__(*args, **kwargs)

    def get_max_validator(self):
        return MaxValueValidator(BIGINT_MAX)


class _StrictNullBooleanSelect(forms.NullBooleanSelect):
    """Hands the field what it does not recognise instead of "any"."""

    def value_from_datadict(self, data, files, name):
        raw = data.get(name)
        known = super().value_from_datadict(data, files, name)
        return raw if known is None and raw not in (None, "", "unknown") else known


class _StrictNullBooleanField(forms.NullBooleanField):
    widget = _StrictNullBooleanSelect

    def to_python(self, value):
        if isinstance(value, str) and value.lower() not in ("", "unknown", "true", "false",
                                                            "1", "0"):
            raise ValidationError("Enter true or false.", code="invalid")
        return super().to_python(value.lower() if isinstance(value, str) else value)


class BooleanFilter(django_filters.BooleanFilter):
    """true/false, or absent for any; anything else is an error, not silently "any"."""

    field_class = _StrictNullBooleanField


class StableOrderingFilter(django_filters.OrderingFilter):
    """Sorting that pages reliably: the chosen columns, then the primary key in the direction
    of the last column (so one (tenant, column, id) index serves both directions); without a
    (valid) choice the model's own ordering stays."""

    def filter(self, qs, value):
        chosen = [self.get_ordering_value(param) for param in value or [] if param]
        if not chosen:
            return qs
        return qs.order_by(*chosen, "-pk" if chosen[-1].startswith("-") else "pk")


class _UTCIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    def to_python(self, value):
        value = super().to_python(value)
        if value is None or value.tzinfo is None:
            return value
        try:
            return value.astimezone(dt.UTC)
        except OverflowError:  # 9999-12-31T23:59-23:00 is past year 9999 in UTC
            raise ValidationError("Enter a date-time between years 1 and 9999 in UTC.",
                                  code="invalid") from None


class UTCDateTimeFilter(django_filters.IsoDateTimeFilter):
    """ISO 8601 date-time, normalised to UTC: PostgreSQL refuses offsets beyond +-15:59, which
    Python accepts (up to 23:59), so an exotic but valid offset must not reach the query; one
    that moves the moment past year 9999 or before year 1 is a form error, not a 500."""

    field_class = _UTCIsoDateTimeField


class ApiFilterBackend(DjangoFilterBackend):
    """The API reads these FilterSets as its schema types them. A portal form sends every
    field, empty when unused, and django-filter takes an empty or odd value as "any"; for an
    API client that is a value the schema does not allow (an empty date, `is_active=2`), so it
    is a 400 naming the parameter. Free text (CharFilter) may be empty."""

    def get_filterset(self, request, queryset, view):
        filterset = super().get_filterset(request, queryset, view)
        if filterset is not None:
            refuse_loose_values(filterset, request.query_params)
        return filterset


# Free text may be empty, and so may a list (an empty one is sent as `ordering=`).
FREE_OR_LIST_FILTERS = (django_filters.CharFilter, django_filters.filters.BaseCSVFilter,
                        django_filters.MultipleChoiceFilter)


def refuse_loose_values(filterset, query_params) -> None:
    """See ApiFilterBackend; for views that apply a FilterSet themselves."""
    problems = {}
    for name, query_filter in filterset.filters.items():
        for raw in query_params.getlist(name):
            if isinstance(query_filter, django_filters.BooleanFilter):
                if raw.lower() not in ("true", "false"):
                    problems[name] = ["Enter true or false."]
            elif raw == "" and not isinstance(query_filter, FREE_OR_LIST_FILTERS):
                problems[name] = ["Give a value, or leave the parameter out."]
    if problems:
        raise serializers.ValidationError(problems)
