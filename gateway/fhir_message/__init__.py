"""The MedCom-style FHIR R4 lab message: rendering, exact JSON, narratives and reading back."""
