"""Receipts: MedCom XCTL03/XCTL02 for XML letters and the MedCom FHIR Acknowledgement."""
