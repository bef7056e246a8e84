"""The agent app's API (mounted under /t/<tenant_slug>/app/v1/)."""

from django.urls import path

from devices.api.push import AppPushTokenView

from .api.app import AppRegisterView, AppRegistrationView, AppReregisterView

urlpatterns = [
    path("register", AppRegisterView.as_view(), name="app-register"),
    path("registration", AppRegistrationView.as_view(), name="app-registration"),
    path("reregister", AppReregisterView.as_view(), name="app-reregister"),
    path("push-token", AppPushTokenView.as_view(), name="app-push-token"),
]
