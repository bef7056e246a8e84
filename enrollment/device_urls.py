"""Endpoints devices call (mounted under /t/<tenant_slug>/): SCEP."""

from django.urls import path

from .scep.views import scep

urlpatterns = [
    path("scep", scep, name="scep"),
    path("scep/pkiclient.exe", scep),
]
