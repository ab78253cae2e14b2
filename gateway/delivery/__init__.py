"""Delivery: sealing messages for the wire, sending them, and taking their receipts."""
