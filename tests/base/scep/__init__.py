"""SCEP test helpers: a SCEP client (requests, CertRep decoding, test CAs) and Debian's
micromdm scepclient."""
