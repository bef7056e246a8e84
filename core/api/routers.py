"""The router every app's `api/urls.py` registers its viewsets on: trailing slashes, no root
view (the schema at /api/schema/ is the index)."""

from rest_framework.routers import DefaultRouter


def api_router() -> DefaultRouter:
    router = DefaultRouter(trailing_slash=True)
    router.include_root_view = False
    return router
