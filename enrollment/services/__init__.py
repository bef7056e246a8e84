"""State changes of the enrollment app (`do_*`: atomic, tenant first, audited)."""
