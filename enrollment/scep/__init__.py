"""SCEP (RFC 8894) protocol layer: pure functions, no Django imports."""
