"""The Pub/Sub push endpoint: POST /android/pubsub/<endpoint id>/?token=<secret>.

Each tenant's enterprise has its own endpoint id and secret token (shown on Settings >
Android, used as the push subscription's URL). The token is compared in constant time; a
wrong one answers 403 (Pub/Sub keeps the message and retries, so a misconfigured subscription
loses nothing). A body that can never be applied (not JSON, unknown type, a resource of
another enterprise) answers 204 so Google stops retrying, with an audit entry. Anything valid
goes to a Celery task; if the broker is unreachable the answer is 503 and Pub/Sub retries.
"""

from __future__ import annotations

import hashlib
import hmac
import logging

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from audit.events import AuditAction
from audit.record import record
from devices.android.tasks import process_notification
from enrollment.android.messages import BadNotification, enterprise_of, parse_push
from enrollment.models import AndroidEnterprise

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 1_000_000
_NO_SUCH_TOKEN = hashlib.sha256(b"no such endpoint").hexdigest()


def _token_matches(given: str, expected_hash: str) -> bool:
    return hmac.compare_digest(hashlib.sha256(given.encode()).hexdigest(), expected_hash)


def _reject(enterprise: AndroidEnterprise, reason: str, message_id: str = "") -> HttpResponse:
    log.warning("android pubsub: dropped a message for %s: %s", enterprise, reason)
    with transaction.atomic():
        record(enterprise.tenant, AuditAction.ANDROID_NOTIFICATION_REJECTED,
               actor="google-pubsub", target=enterprise,
               detail={"reason": reason[:300], "message_id": message_id})
    return HttpResponse(status=204)


@csrf_exempt
@require_POST
def pubsub_push(request: HttpRequest, endpoint_id: str) -> HttpResponse:
    # Sliced, not .first(): no ORDER BY, so the unique index on push_endpoint_id is used.
    enterprise = next(iter(AndroidEnterprise.objects.select_related("tenant").filter(
        push_endpoint_id=endpoint_id, tenant__is_active=True)[:1]), None)
    given = request.GET.get("token", "")
    expected = enterprise.push_token_hash if enterprise is not None else _NO_SUCH_TOKEN
    if not _token_matches(given, expected) or enterprise is None:
        log.warning("android pubsub: refused a push for endpoint %r (bad token)",
                    endpoint_id[:40])
        return HttpResponse(status=403)
    if len(request.body) > MAX_BODY_BYTES:
        return _reject(enterprise, "body too large")
    try:
        envelope = parse_push(request.body)
    except BadNotification as exc:
        return _reject(enterprise, str(exc))
    if not enterprise.is_bound:
        log.info("android pubsub: %s is not bound; message %s acknowledged", enterprise,
                 envelope.message_id)
        return HttpResponse(status=204)
    if envelope.notification_type != "test" and \
            enterprise_of(envelope.resource_name) != enterprise.enterprise_name:
        return _reject(enterprise, "resource of another enterprise", envelope.message_id)
    try:
        process_notification.delay(enterprise.pk, envelope.as_dict())
    except Exception:  # broker down: let Pub/Sub redeliver later
        log.exception("android pubsub: could not queue message %s", envelope.message_id)
        return HttpResponse(status=503)
    return HttpResponse(status=204)
