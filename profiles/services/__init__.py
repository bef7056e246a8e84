"""Services of the profiles app: the signing identity and configuration profiles."""
