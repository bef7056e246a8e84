"""`Origin`: where a change came from (the caller's address and user agent), as a small value.

A view builds it from its request (`Origin.of(request)`) and hands it to a service, which hands
it to the audit trail; services and protocol code never see the `HttpRequest` itself. A change
the system makes on its own (a task, a management command, a sweep) has no origin: `None`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.http import HttpRequest


@dataclass(frozen=True, slots=True)
class Origin:
    address: str | None = None  # REMOTE_ADDR; None when the server did not get one
    user_agent: str = ""

    @classmethod
    def of(cls, request: HttpRequest) -> Origin:
        """The origin of ``request`` (a Django or DRF request). REMOTE_ADDR only: behind a
        proxy, set it from the proxy's header in the WSGI server (gunicorn
        --forwarded-allow-ips) rather than trusting any header here."""
        meta = request.META
        return cls(address=meta.get("REMOTE_ADDR") or None,
                   user_agent=meta.get("HTTP_USER_AGENT", ""))
