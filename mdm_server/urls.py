"""The root URLconf: each app's URL lists, mounted once here (no app routes another's views).

URL spaces: portals under /t/<tenant_slug>/, devices' protocol endpoints, /r/ links, the API.
"""

import re

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from audit import urls as audit_urls
from devices import urls as devices_urls
from enrollment import urls as enrollment_urls
from mdm_server.health import healthz
from portal import urls as portal_urls
from profiles import urls as profiles_urls
from tenants.models import Tenant, slug_validator
from users import urls as users_urls


def home(request: HttpRequest) -> HttpResponse:
    """Organization picker: the portals live under each tenant's slug."""
    slug = request.GET.get("organization", "").strip().lower()
    if slug:
        # Only what a slug can be reaches the query (a NUL byte there was a 500).
        if slug_validator.regex.match(slug) and \
                Tenant.objects.filter(slug=slug, is_active=True).exists():
            return redirect("portal:dashboard", tenant_slug=slug)
        return render(request, "home.html", {"unknown": slug}, status=404)
    return render(request, "home.html")


admin_portal_patterns = [
    *users_urls.portal_patterns, *audit_urls.portal_patterns, *enrollment_urls.portal_patterns,
    *devices_urls.portal_patterns, *profiles_urls.portal_patterns, *portal_urls.portal_patterns,
]
selfservice_patterns = [
    *portal_urls.selfservice_patterns, *users_urls.selfservice_patterns,
    *enrollment_urls.selfservice_patterns,
]

tenant_patterns = [
    path("admin/", include((admin_portal_patterns, "portal"))),
    *enrollment_urls.tenant_device_patterns,
    path("app/v1/", include([*enrollment_urls.app_patterns, *devices_urls.app_patterns])),
    path("portal/", include((selfservice_patterns, "selfservice"))),
]

# Devices call these all day: first and flat (DeviceEndpointsMiddleware resolves only these).
device_protocol_patterns = [
    *devices_urls.protocol_patterns,
    *enrollment_urls.protocol_patterns,
    *enrollment_urls.well_known_patterns,
]

urlpatterns = [
    *device_protocol_patterns,
    path("", home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("t/<slug:tenant_slug>/", include(tenant_patterns)),
    path("r/", include((enrollment_urls.link_patterns, "go"))),
    # The enrollment app's routes come first: `users/<id>/invitations/` must win over the
    # users viewset.
    path("api/v1/", include("enrollment.api.urls")),
    path("api/v1/", include("users.api.urls")),
    path("api/v1/", include("audit.api.urls")),
    path("api/v1/", include("profiles.api.urls")),
    path("api/v1/", include("devices.api.urls")),
    path("api/v1/", include("portal.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("android/", include((devices_urls.android_push_patterns, "android"))),
]


AGENT_APP_API = re.compile(r"^/t/[^/]+/app/v1/")


def _wants_json(request: HttpRequest) -> bool:
    """The admin API and the agent app's (an unknown organization there is a JSON 404 too)."""
    return request.path.startswith("/api/") or AGENT_APP_API.match(request.path) is not None


def handler404(request: HttpRequest, exception=None) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"error": {"code": "not_found", "message": "Not found."}}, status=404)
    return render(request, "errors/404.html", status=404)


def handler500(request: HttpRequest) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"error": {"code": "server_error",
                                       "message": "Internal error; it has been logged."}},
                            status=500)
    return render(request, "errors/500.html", status=500)


def handler400(request: HttpRequest, exception=None) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"error": {"code": "bad_request", "message": "Bad request."}},
                            status=400)
    return render(request, "errors/400.html", status=400)
