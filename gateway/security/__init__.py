"""Keys, certificates and trust: signing identities, the pinned trust store, expiry reports."""
