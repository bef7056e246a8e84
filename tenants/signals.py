"""Project-wide signals: apps react to a new tenant (e.g. generating its CA) without the
users app importing them."""

from django.dispatch import Signal

tenant_created = Signal()  # kwargs: tenant
