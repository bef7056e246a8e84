"""Pure X.509 work for the tenant CA: generate, import, issue. No Django imports."""
