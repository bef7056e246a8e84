"""The OpenAPI schema and the promises it makes about requests.

- drf-spectacular extensions describing our authentication classes;
- `ApiAutoSchema`, the schema class of every API view: it declares the error answers each
  operation can give (the `Error` envelope of `errors.py`) by rule, once, so no view lists
  400/401/403/404/415 by hand; views declare only what is theirs (a 409, a 502).
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "mdm_server.api.authentication.ApiTokenAuthentication"
    name = "bearerToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "Tenant API token (Settings > API tokens, or create_tenant)."}


class AdminSessionScheme(OpenApiAuthenticationExtension):
    target_class = "mdm_server.api.authentication.AdminSessionAuthentication"
    name = "adminSession"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}


class AppSessionScheme(OpenApiAuthenticationExtension):
    target_class = "enrollment.api.app.AppSessionAuthentication"
    name = "agentAppSession"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "The app_... token returned by the agent app's register call."}


# --- the error envelope ----------------------------------------------------------------------

class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Why, for programs: invalid, not_found, "
                                           "not_authenticated, conflict, ...")
    message = serializers.CharField(help_text="Why, for people.")
    fields = serializers.DictField(
        required=False, child=serializers.JSONField(),
        help_text="Invalid input: each field named with its messages (a list of strings, "
                  "or an object for a nested value); non_field_errors for the body as a whole.")


class ErrorSerializer(serializers.Serializer):
    """Every API failure: `{"error": {"code", "message", "fields"?}}`."""

    error = ErrorDetailSerializer()


ERROR_DESCRIPTIONS = {
    "400": "Invalid input: `message` says what, `fields` names each field.",
    "401": "No valid credentials: missing, malformed or revoked.",
    "403": "Not allowed: a portal session's unsafe request without its CSRF token.",
    "404": "Not found: no such object in this organization (a foreign one alike), or a page "
           "past the last.",
    "409": "Conflicts with the current state (the message says what is missing or taken).",
    "415": "Unsupported media type: request bodies are application/json.",
    "502": "The upstream service (Google) failed; nothing was changed.",
}
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class ApiAutoSchema(AutoSchema):
    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        error = {"application/json": {"schema": self.resolve_serializer(
            ErrorSerializer, "response").ref}}
        responses = operation["responses"]
        for code in self._error_statuses(operation):
            responses.setdefault(code, {"description": ERROR_DESCRIPTIONS[code]})
        for code, response in responses.items():
            if code[0] in "45" and "content" not in response:
                response["content"] = error
                response["description"] = response.get("description") or \
                    ERROR_DESCRIPTIONS.get(code, "")
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _error_statuses(self, operation) -> list[str]:
        """What every operation of its kind can answer, whatever the view: input is checked
        (body, query), credentials are, objects named in the path are looked up, pages too."""
        parameters = operation.get("parameters", [])
        query = {p["name"] for p in parameters if p["in"] == "query"}
        has_body = "requestBody" in operation
        schemes = {name for requirement in operation.get("security", []) for name in requirement}
        statuses = []
        if has_body or query - {"page"}:
            statuses.append("400")
        if schemes:
            statuses.append("401")
        if "adminSession" in schemes and self.method in UNSAFE_METHODS:
            statuses.append("403")
        if "page" in query or any(p["in"] == "path" for p in parameters):
            statuses.append("404")
        if has_body:
            statuses.append("415")
        return statuses
