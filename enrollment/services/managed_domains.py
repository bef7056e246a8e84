"""Managed domains: which organization answers Apple's service discovery for a domain.

A domain is a DNS name (lower-cased, no trailing dot, no scheme, port or path) and belongs to
one tenant at most, across the whole server. Discovery reads it on every device request, so
the tenant of a domain is kept in the shared cache for a minute and dropped when the domain is
added or removed (on commit).
"""

from __future__ import annotations

import re

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from audit.events import AuditAction
from audit.record import record
from enrollment.models import ManagedDomain
from users.models import User

DISCOVERY_CACHE_SECONDS = 60
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_NO_TENANT = ""  # cached "no organization has this domain"


class DomainTaken(Exception):
    """The domain belongs to an organization (which one is never said)."""


def normalize_domain(value: str) -> str:
    """The domain as stored, or ValidationError. Accepts what an admin pastes: surrounding
    blanks, capitals and a final dot; refuses a URL, a port, an address or a single label."""
    if not isinstance(value, str):
        raise ValidationError("Enter a domain name.")
    domain = value.strip().lower().removesuffix(".")
    if any(c in domain for c in ":/@?#") or domain.startswith("*"):
        raise ValidationError("Enter only the domain name (example.com): no scheme, port, "
                              "path or wildcard.")
    labels = domain.split(".")
    if (not domain or len(domain) > 253 or len(labels) < 2
            or not all(_LABEL.match(label) for label in labels) or labels[-1].isdigit()):
        raise ValidationError("Enter a domain name such as example.com.")
    return domain


def _cache_key(domain: str) -> str:
    return f"account-discovery:{domain}"


def tenant_slug_for_domain(domain: str) -> str | None:
    """The slug of the active tenant managing ``domain`` (already normalized), or None. One
    indexed query, no model built; the answer (a miss too) is cached for a minute."""
    key = _cache_key(domain)
    slug = cache.get(key)
    if slug is None:
        slug = (ManagedDomain.objects.filter(domain=domain, tenant__is_active=True)
                .values_list("tenant__slug", flat=True).first()) or _NO_TENANT
        cache.set(key, slug, DISCOVERY_CACHE_SECONDS)
    return slug or None


def _forget(domain: str) -> None:
    transaction.on_commit(lambda: cache.delete(_cache_key(domain)))


@transaction.atomic
def do_add_managed_domain(tenant, domain: str, *, actor, origin=None) -> ManagedDomain:
    """Raise ValidationError for a malformed name, DomainTaken when any organization (this one
    included) has it already."""
    domain = normalize_domain(domain)
    try:
        with transaction.atomic():
            managed = ManagedDomain.objects.create(
                tenant=tenant, domain=domain,
                created_by=actor if isinstance(actor, User) else None)
    except IntegrityError:
        raise DomainTaken(domain) from None
    record(tenant, AuditAction.MANAGED_DOMAIN_ADDED, actor=actor, target=managed,
           origin=origin, detail={"domain": domain})
    _forget(domain)
    return managed


@transaction.atomic
def do_remove_managed_domain(tenant, managed: ManagedDomain, *, actor, origin=None) -> None:
    assert managed.tenant_id == tenant.id
    domain = managed.domain
    record(tenant, AuditAction.MANAGED_DOMAIN_REMOVED, actor=actor, origin=origin,
           detail={"domain": domain})
    managed.delete()
    _forget(domain)
