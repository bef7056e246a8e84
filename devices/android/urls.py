"""The Pub/Sub push endpoint's URL (mounted at /android/ by mdm_server/urls.py)."""

from django.urls import path

from .pubsub import pubsub_push

app_name = "android"
urlpatterns = [
    path("pubsub/<str:endpoint_id>/", pubsub_push, name="pubsub-push"),
]
