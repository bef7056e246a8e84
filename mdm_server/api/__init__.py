"""REST API plumbing shared by every app: token auth, tenant scoping, pagination, JSON errors."""
