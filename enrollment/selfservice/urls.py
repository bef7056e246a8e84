"""/r/ URLs (mounted at the site root, outside /t/<slug>/: the link token names the tenant).

Versions and tokens are matched as plain strings so that any malformed, old-format or unknown
link reaches a view and gets the 410 "no longer valid" page instead of a bare 404.
"""

from django.urls import path, re_path

from . import views

app_name = "go"
urlpatterns = [
    path("<str:version>/<str:token>/go", views.go, name="go"),
    path("<str:version>/<str:token>/i/<str:invitation>/go", views.go_invitation,
         name="go-invitation"),
    path("<str:version>/<str:token>/go/pin", views.go_pin, name="pin"),
    path("<str:version>/<str:token>/go/password", views.go_set_password, name="password"),
    re_path(r"^.*$", views.link_gone, name="gone"),
]
