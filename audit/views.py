"""Admin portal: the audit trail page (filters, per-user and per-device views, CSV export)."""

import csv
import json

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render

from audit.filtersets import AuditEventFilterSet
from audit.models import AuditEvent
from core.portal import admin_required, paginate


def _filtered(request: HttpRequest) -> AuditEventFilterSet:
    events = AuditEvent.objects.for_tenant(request.tenant).select_related("actor", "user", "device")
    return AuditEventFilterSet(request.GET or None, queryset=events)


@admin_required
def audit_trail(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    filterset = _filtered(request)
    return render(request, "audit/trail.html", {
        "filterset": filterset, **paginate(request, filterset.qs),
    })


class _Echo:
    def write(self, value: str) -> str:
        return value


CSV_COLUMNS = ["time_utc", "action", "actor", "target_type", "target_id", "target",
               "user", "device_id", "device", "source_ip", "detail"]


@admin_required
def audit_export(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    """The filtered audit trail as CSV, streamed (constant memory however long)."""
    filterset = _filtered(request)
    if filterset.is_bound and not filterset.is_valid():
        return HttpResponse("Invalid filter.", status=400, content_type="text/plain")
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow(CSV_COLUMNS)
        for event in filterset.qs.iterator(chunk_size=2000):
            yield writer.writerow([
                event.created_at.isoformat(), event.action, _safe(event.actor_label),
                event.target_type, _safe(event.target_id), _safe(event.target_label),
                _safe(event.user.email) if event.user_id else "", event.device_id or "",
                _safe(str(event.device)) if event.device_id else "", event.source_ip or "",
                json.dumps(event.detail, sort_keys=True, default=str),
            ])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{tenant_slug}-audit.csv"'
    return response


def _safe(value: str) -> str:
    """Neutralise spreadsheet formulas (CSV injection) in every column a request can write
    (an actor label is whatever email a failed sign-in typed)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
