"""Apple MDM: check-in and command protocol, device identity, push."""
