"""REST API of the profiles app: configuration profiles."""
