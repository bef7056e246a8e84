"""OPTIONS answers: name, description and formats only.

DRF's default metadata builds a form per writable method by calling `get_object()`, which
fails on singleton endpoints (a tenant's one policy or settings row, no pk in the URL) and
runs permission checks twice; the OpenAPI schema already describes every body.
"""

from rest_framework.metadata import SimpleMetadata


class SchemaPointerMetadata(SimpleMetadata):
    def determine_metadata(self, request, view) -> dict:
        metadata = super().determine_metadata(request, view)
        metadata.pop("actions", None)
        metadata["schema"] = "/api/schema/"
        return metadata

    def determine_actions(self, request, view) -> dict:
        return {}
