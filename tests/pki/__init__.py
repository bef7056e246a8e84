"""Tests of pki: DER, CMS SignedData and certificate building (pure, no Django)."""
