"""State changes of the users app (`do_*` functions: atomic, tenant first, audited)."""
