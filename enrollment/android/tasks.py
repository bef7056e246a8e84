"""Celery tasks of Android enrollment tokens. Thin: take ids, call `tokens`, return a dict.

- `android.revoke_token`: delete one ended registration's token on Google (queued by name when
  the registration ends, see enrollment.models.android).
- `android.revoke_ended_tokens` (beat): delete tokens of ended/expired registrations the
  queued revocations missed (bulk updates send no signal).
"""

from __future__ import annotations

import logging

from celery import shared_task

from enrollment.android.amapi import AmapiError, AmapiUnavailable
from enrollment.android.tokens import revoke_enrollment_token, revoke_reason, tokens_to_revoke
from enrollment.models import AndroidEnrollmentToken

log = logging.getLogger(__name__)
SYSTEM_ACTOR = "system:android-sync"


@shared_task(name="android.revoke_token", bind=True, max_retries=5)
def revoke_token(self, token_id: int) -> dict:
    """Delete one ended registration's token on Google (queued when it ends)."""
    token = (AndroidEnrollmentToken.objects.select_related("enterprise", "registration__user",
                                                           "tenant")
             .filter(pk=token_id, revoked_at__isnull=True).first())
    if token is None:
        return {"token_id": token_id, "revoked": False}
    try:
        revoked = revoke_enrollment_token(token, reason=revoke_reason(token),
                                          actor=SYSTEM_ACTOR)
    except AmapiUnavailable as exc:
        raise self.retry(exc=exc, countdown=30 * (2 ** self.request.retries)) from exc
    return {"token_id": token_id, "revoked": revoked}


@shared_task(name="android.revoke_ended_tokens")
def revoke_ended_tokens() -> dict:
    revoked, failed = 0, 0
    for token in tokens_to_revoke():
        try:
            revoked += revoke_enrollment_token(token, reason=revoke_reason(token),
                                               actor=SYSTEM_ACTOR)
        except AmapiError as exc:  # tried again at the next run
            failed += 1
            log.warning("could not revoke %s: %s", token.name, exc)
    return {"revoked": revoked, "failed": failed}
