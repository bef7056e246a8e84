"""Enrollment: per-tenant PKI and SCEP, challenges, registrations, invitations, profiles served."""
