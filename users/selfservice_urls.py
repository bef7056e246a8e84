"""Self-service portal URLs (mounted under /t/<tenant_slug>/portal/)."""

from django.urls import path

from enrollment import register_views

from . import views

app_name = "selfservice"
urlpatterns = [
    path("", views.selfservice_home, name="home"),
    path("login/", views.selfservice_login, name="login"),
    path("login/password/", views.change_temporary_password, name="password-change"),
    path("logout/", views.sign_out, name="logout"),
    path("register/", register_views.register, name="register"),
    path("registrations/<int:registration_id>/", register_views.registration_status,
         name="registration"),
    path("app-qr/", register_views.app_qr, name="app-qr"),
]
