"""Top-level URLs: portals under /t/<tenant_slug>/, devices' protocol endpoints, the API."""

import re

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from devices.apple import views as apple_views
from enrollment.scep.views import scep
from users.models import Tenant
from users.models.tenants import slug_validator

from .api.router import router
from .health import healthz


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


tenant_patterns = [
    path("admin/", include("mdm_server.portal_urls")),
    path("", include("devices.device_urls")),
    path("app/v1/", include("enrollment.app_urls")),
    path("portal/", include("users.selfservice_urls")),
]

# What devices call all day, flat: `DeviceEndpointsMiddleware` resolves these itself, ahead of
# the portals' middleware; they are listed here too, first, for reverse() and the test client.
device_protocol_patterns = [
    path("t/<slug:tenant_slug>/mdm/server", apple_views.server, name="apple-mdm-server"),
    path("t/<slug:tenant_slug>/mdm/checkin", apple_views.checkin, name="apple-mdm-checkin"),
    path("t/<slug:tenant_slug>/scep", scep, name="scep"),
    path("t/<slug:tenant_slug>/scep/pkiclient.exe", scep),
]

urlpatterns = [
    *device_protocol_patterns,
    path("", home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("t/<slug:tenant_slug>/", include(tenant_patterns)),
    path("r/", include("enrollment.selfservice.urls")),
    path("api/v1/", include("enrollment.api.invitation_urls")),
    path("api/v1/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
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
urlpatterns += [path("android/", include("devices.android.urls"))]  # AMAPI Pub/Sub push
