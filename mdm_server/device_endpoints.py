"""Devices' protocol endpoints (MDM check-in and server, SCEP, Apple's service discovery)
skip the portals' middleware.

No session, CSRF token, login, flash message or frame header applies to a device, yet that chain
costs about as much CPU as a whole GetCACert, and SCEP and MDM traffic is most of what a
server does. This middleware comes first: it matches the few device URLs, sets
``request.tenant`` as ``TenantMiddleware`` would, and calls the view. Every other request goes
down the chain as before. Django's handler still wraps it (exceptions become responses, the
database connection is managed per request), and the test client goes through it too.
"""

from __future__ import annotations

from django.http import HttpRequest

from mdm_server.urls import device_protocol_patterns
from tenants.tenancy import set_request_tenant


class DeviceEndpointsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.patterns = device_protocol_patterns

    def __call__(self, request: HttpRequest):
        path = request.path_info
        if path.startswith(("/t/", "/.well-known/")):
            for pattern in self.patterns:
                match = pattern.resolve(path[1:])
                if match is not None:
                    # Apple's service discovery has no tenant in its URL (it finds one itself).
                    request.tenant = None
                    if "tenant_slug" in match.kwargs:
                        set_request_tenant(request, match.kwargs["tenant_slug"])
                    request.resolver_match = match
                    return match.func(request, *match.args, **match.kwargs)
        return self.get_response(request)
