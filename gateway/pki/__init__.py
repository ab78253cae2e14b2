"""A test PKI shaped like OCES3 (MitID Erhverv organisation certificates), for tests and demos."""

from gateway.pki.build import DEFAULT_PASSWORD, LEAVES, PkiEntry, TestPki, build_test_pki

__all__ = ["DEFAULT_PASSWORD", "LEAVES", "PkiEntry", "TestPki", "build_test_pki"]
