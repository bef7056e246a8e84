"""The one place the server makes RSA keys (tenant CAs, profile-signing certificates), so that
the test suite can hand out pre-generated keys instead of paying ~100 ms per tenant."""

from cryptography.hazmat.primitives.asymmetric import rsa


def new_rsa_key(key_size: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=key_size)
