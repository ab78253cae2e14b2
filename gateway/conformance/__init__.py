"""Conformance suites (DESIGN §9): cases as data in conformance/<suite>/manifest.json, run
against labgw itself, a vendor's folder of messages, or a live endpoint, and judged the same way
whichever target produced the observation."""
