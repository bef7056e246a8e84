"""Device services: Apple MDM settings and device lifecycle (retire)."""
