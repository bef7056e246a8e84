"""Celery tasks of the users app: the periodic LDAP sweep and one tenant's LDAP sync.

Thin: they take ids, call the service, return a result dict. Overlapping syncs of one tenant
skip under the lock taken in `do_sync_ldap`. No retries: a directory that is down is recorded on
the connector and tried again at the next interval.
"""

from __future__ import annotations

from celery import shared_task

from users.models import Tenant
from users.services.ldap import LdapNotConfigured, connectors_due_for_sync, do_sync_ldap

SYNC_ACTOR = "system:ldap-sync"


@shared_task(name="users.sync_ldap_directories")
def sync_ldap_directories() -> dict:
    """Every 5 minutes (CELERY_BEAT_SCHEDULE): queue a sync for each connector that is due."""
    tenant_ids = [connector.tenant_id for connector in connectors_due_for_sync()]
    for tenant_id in tenant_ids:
        sync_ldap.delay(tenant_id)
    return {"queued": tenant_ids}


@shared_task(name="users.sync_ldap")
def sync_ldap(tenant_id: int) -> dict:
    tenant = Tenant.objects.filter(pk=tenant_id, is_active=True).first()
    if tenant is None:
        return {"tenant_id": tenant_id, "status": "skipped", "error": "no such active tenant"}
    try:
        outcome = do_sync_ldap(tenant, actor=SYNC_ACTOR)
    except LdapNotConfigured as exc:
        return {"tenant_id": tenant_id, "status": "skipped", "error": str(exc)}
    return {"tenant_id": tenant_id, **outcome.as_dict()}
