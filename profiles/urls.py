"""Admin-portal URLs of the profiles app."""

portal_patterns: list = []
