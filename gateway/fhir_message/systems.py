"""URIs of the code systems, identifier systems and profiles the FHIR message uses, defined once.

Sources: notes/medcom-fhir.md §0, §3, §6 (MedCom messaging 4.0.2, DK-core), DESIGN §4.
"""

from __future__ import annotations

# Identifier systems (DESIGN §4; DK-core)
CPR = "urn:oid:1.2.208.176.1.2"
X_ECPR = "urn:oid:1.2.208.176.1.6.1.1"  # DK-core x-ecpr (erstatnings-CPR)
SOR = "urn:oid:1.2.208.176.1.1"
YDERNUMMER = "urn:oid:1.2.208.176.1.4"
GLN = "https://www.gs1.org/gln"
NPU = "urn:oid:1.2.208.176.2.1"
UCUM = "http://unitsofmeasure.org"

# labgw's own systems, until MedCom publishes lab equivalents
LABGW = "http://labgw.dk/fhir"
PROFILE = f"{LABGW}/StructureDefinition"
EVENTS = f"{LABGW}/CodeSystem/labgw-message-events"
EVENT_LAB_REPORT = "lab-report-message"
LOCAL_ANALYSES = f"{LABGW}/CodeSystem/labgw-local-analyses"
SAMPLE_ID = f"{LABGW}/NamingSystem/lps-sample-id"

# MedCom messaging
DESTINATION_USE_EXT = (
    "http://medcomfhir.dk/ig/messaging/StructureDefinition/medcom-messaging-destinationUseExtension"
)
DESTINATION_USE = "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-messaging-destinationUse"
ACTIVITY = "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-messaging-activityCodes"
PRODUCENT_ID = "http://medcomfhir.dk/ig/terminology/CodeSystem/MedComProducentID"
SOR_ENDPOINT = "https://sor2.sum.dsdn.dk/#id="

# HL7 terminology
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
LAB_REPORT_LOINC = "11502-2"  # Laboratory report (DK-core lab-report guidance)
GENERAL_PRACTICE_SCT = "408443003"  # General medical practice (notes/danish-domain.md §0.4)
PROVENANCE_ROLE = "http://terminology.hl7.org/CodeSystem/provenance-entity-role"
