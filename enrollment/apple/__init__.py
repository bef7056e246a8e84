"""Apple enrollment: the enrollment profile of one registration, built, signed and served.

Other code calls ``enrollment.apple.links.profile_url(tenant, raw_token)``.
"""
