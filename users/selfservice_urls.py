"""Self-service portal URLs (mounted under /t/<tenant_slug>/portal/)."""

from django.urls import path

from . import views

app_name = "selfservice"
urlpatterns = [
    path("", views.selfservice_home, name="home"),
    path("login/", views.selfservice_login, name="login"),
    path("logout/", views.sign_out, name="logout"),
]
