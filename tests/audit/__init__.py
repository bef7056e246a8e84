"""Tests of audit: recording events, the audit trail page, its API and export."""
