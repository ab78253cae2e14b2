"""`labgw serve`: the HTTP API and the delivery workers in one process (DESIGN §10)."""
