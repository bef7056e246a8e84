"""Admin-portal URLs of the devices app."""

portal_patterns: list = []
