"""Apple test helpers: simulated devices with issued identities, throwaway CAs, Apple's
profile and command schemas."""
