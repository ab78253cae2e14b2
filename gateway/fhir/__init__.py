"""FHIR R4 validation: packages, profiles, FHIRPath invariants, Bundle checks."""
