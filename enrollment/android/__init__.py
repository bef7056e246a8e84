"""Android Enterprise through the Android Management API: the API client, the enterprise
binding, enrollment tokens and the Settings > Android page."""
