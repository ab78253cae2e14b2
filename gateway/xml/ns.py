"""MedCom XML namespaces, version codes and the fixed codes labgw writes, each defined once.

Sources: notes/medcom-xml.md §1 (namespace ↔ version-code table) and §2 (XR0131K content model).
"""

from __future__ import annotations

# XRPT01 XR0131K and XRPT05 XR0532M live in the 2014/10/08 generation.
NS_2014 = "http://rep.oio.dk/medcom.dk/xml/schemas/2014/10/08/"
# The receipts XCTL02/XCTL03 (XC0230Q, XC0330Q) live in the 2005/08/07 generation.
NS_2005 = "http://rep.oio.dk/sundcom.dk/medcom.dk/xml/schemas/2005/08/07/"

XRPT01_VERSION = "XR0131K"
XRPT01_TYPE = "XRPT01"
XRPT01_MAX_RESULTS = 99  # LaboratoryReport/LaboratoryResults/Result maxOccurs
VALUE_MAX = 12  # Result/Value S1_12; longer results go to ResultTextValue
SHORT_NAME_MAX = 35  # AnalysisShortName S1_35
PRODUCER_ID_MAX = 35  # ProducerOfLabResult/Identifier S1_35

ACK_POSITIVE_WANTED = "pluspositivkvitt"
NPU_CODE_TYPE = "iupac"  # AnalysisCodeType for NPU/DNK codes
SPECIALITY_GP = "almen_medicin"


def q(name: str, ns: str = NS_2014) -> str:
    """Clark notation `{ns}name` for lxml."""
    return f"{{{ns}}}{name}"


XRPT05_VERSION = "XR0532M"
XRPT05_TYPE = "XRPT05"
XRPT05_MAX_INVESTIGATIONS = 90  # LaboratoryResults/Investigation maxOccurs
PARAGRAPH_MAX = 500  # ParagraphedTextType/Paragraph maxLength
PARAGRAPHS_MAX = 10  # ParagraphedTextType/Paragraph maxOccurs
MIC_PRODUCER_ID_MAX = 17  # Examination/ProducerOfLabResult/Identifier S1_17
MDS_NAME_MAX = 70  # AnalysisMDSName/Examination, Material; Examinator: S1_70
MIC_LIMIT_MAX = 8  # Findings/ReferenceInterval/LowerLimit, UpperLimit: S1_8
