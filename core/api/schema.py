"""OpenAPI descriptions of our authentication classes (drf-spectacular extensions)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "users.api.authentication.ApiTokenAuthentication"
    name = "bearerToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "Tenant API token (Settings > API tokens, or create_tenant)."}


class AdminSessionScheme(OpenApiAuthenticationExtension):
    target_class = "users.api.authentication.AdminSessionAuthentication"
    name = "adminSession"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}


class AppSessionScheme(OpenApiAuthenticationExtension):
    target_class = "enrollment.api.app.AppSessionAuthentication"
    name = "agentAppSession"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "The app_... token returned by the agent app's register call."}
