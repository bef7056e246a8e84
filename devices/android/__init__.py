"""Android devices through the Android Management API: Pub/Sub push endpoint, sync and
reconciliation, admin actions and commands."""
