"""REST API of the enrollment app."""
