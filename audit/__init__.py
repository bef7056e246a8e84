"""The audit trail (SPEC S21): one row per state change, written in the change's transaction."""
