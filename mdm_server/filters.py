"""Filter types shared by every FilterSet (portal lists and API alike)."""

import datetime as dt

import django_filters


class StableOrderingFilter(django_filters.OrderingFilter):
    """Sorting that pages reliably: the chosen columns, then the primary key in the direction
    of the last column (so one (tenant, column, id) index serves both directions); without a
    (valid) choice the model's own ordering stays."""

    def filter(self, qs, value):
        chosen = [self.get_ordering_value(param) for param in value or [] if param]
        if not chosen:
            return qs
        return qs.order_by(*chosen, "-pk" if chosen[-1].startswith("-") else "pk")


class UTCDateTimeFilter(django_filters.IsoDateTimeFilter):
    """ISO 8601 date-time, normalised to UTC: PostgreSQL refuses offsets beyond +-15:59, which
    Python accepts (up to 23:59), so an exotic but valid offset must not reach the query."""

    def filter(self, qs, value):
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return super().filter(qs, value)
