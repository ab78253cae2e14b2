"""The durable outbox (DESIGN §7): what was accepted, what was sent where, and what came back."""
