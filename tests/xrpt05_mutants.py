"""XRPT05 ``MicrobiologyWebReport`` XR0532M bases and mutants, for checking ``xr0532m.xsd``.

Plain helper module (no tests here), the XRPT05 counterpart of ``tests/xml_mutants.py`` and built
on its edit helpers. Every mutant is a well-formed XML document derived from a base message by one
small edit. Ids starting with ``valid-`` are edits the standard allows (the test suite checks that
label against the official schema too); every other id names an edit the standard forbids. An edit
that does not apply to a base (the element it needs is absent) is skipped.

* :func:`xrpt05_bases` - the valid XR0532M bases: an XR0532M version of MedCom's official
  XR0530M example ``6092035412.xml`` (namespace 2007/02/01), two letters written for labgw (a
  general-practice urine culture and a strep A antigen test) and the urine culture with every
  optional element added.
* :func:`to_xr0532m` - the XR0530M -> XR0532M conversion used for the first base.
* :func:`xrpt05_mutants` - the mutants of one base.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from lxml import etree

from tests.xml_mutants import (
    NS_2007,
    NS_2014,
    PATIENT_ORDER,
    Edit,
    Element,
    Maker,
    _append,
    _chain,
    _Doc,
    _duplicate,
    _el,
    _foreign,
    _insert_after,
    _insert_before,
    _insert_ordered,
    _local,
    _move,
    _remove,
    _remove_all,
    _rename,
    _renamespace,
    _replace,
    _run,
    _set_attr,
    _set_leading_text,
    _set_text,
    _to_ns,
    _unqualify,
    _xml,
)

NS_2011 = "http://rep.oio.dk/medcom.dk/xml/schemas/2011/06/15/"

# --------------------------------------------------------------------------------------------
# paths (relative to Emessage, first match) and child orders
# --------------------------------------------------------------------------------------------

MWR = "MicrobiologyWebReport"
LETTER = f"{MWR}/Letter"
SENDER = f"{MWR}/Sender"
RECEIVER = f"{MWR}/Receiver"
CC = f"{MWR}/CCReceiver"
PATIENT = f"{MWR}/Patient"
REQ = f"{MWR}/RequisitionInformation"
SAMPLE = f"{REQ}/Sample"
RESULTS = f"{MWR}/LaboratoryResults"
GENERAL = f"{RESULTS}/GeneralResultInformation"
INV = f"{RESULTS}/Investigation"
EXAM = f"{INV}/Examination"
MDS = f"{EXAM}/AnalysisMDSName"
PRODUCER = f"{EXAM}/ProducerOfLabResult"
QF = f"{INV}/QuantitativeFindings"
AF = f"{QF}/AnalysisFindings"
FINDINGS = f"{AF}/Findings"
CF = f"{INV}/CultureFindings"
MO = f"{CF}/Microorganism"
IDENT = f"{MO}/Identification"
PATTERN = f"{CF}/Pattern"
ANTIBIOTIC = f"{PATTERN}/Antibiotic"
ENTRY = f"{PATTERN}/PatternEntry"
CELL = f"{ENTRY}/SusceptibilityValue"
MF = f"{INV}/MicroscopicFindings"

Order = Sequence[Sequence[str]]

LETTER_ORDER: Order = [
    ["Letter"],
    ["Sender"],
    ["Receiver"],
    ["CCReceiver"],
    ["Patient"],
    ["RequisitionInformation"],
    ["LaboratoryResults"],
]
REQ_ORDER: Order = [["ClinicalInformation"], ["Comments"], ["Sample"]]
GENERAL_ORDER: Order = [
    ["ReportStatusCode"],
    ["ResultStatusCode"],
    ["ToLabIdentifier"],
    ["LaboratoryInternalProductionIdentifier"],
    ["ResultsDateTime"],
    ["Summary"],
]
RESULTS_ORDER: Order = [["GeneralResultInformation"], ["Investigation"], ["Comments"]]
INV_ORDER: Order = [
    ["Examination"],
    ["QuantitativeFindings"],
    ["CultureFindings"],
    ["MicroscopicFindings"],
]
EXAM_ORDER: Order = [
    ["ExaminationTypeCode"],
    ["MICAnalysisCode"],
    ["AnalysisCodeType"],
    ["AnalysisCodeResponsible"],
    ["AnalysisShortName"],
    ["AnalysisMDSName"],
    ["SupplementaryLocation"],
    ["Examinator"],
    ["ProducerOfLabResult"],
    ["Summary"],
]
QF_ORDER: Order = [["InterPretation"], ["AnalysisFindings"], ["Comments"]]
FINDINGS_ORDER: Order = [
    ["InterPretation"],
    ["ReferenceInterval"],
    ["Operator"],
    ["Value"],
    ["Unit"],
    ["ResultValidation"],
    ["Reference"],
    ["Comments"],
]
CF_ORDER: Order = [["Headline"], ["Microorganism"], ["Pattern"], ["Comments"]]
ORGANISM_ORDER: Order = [["Identification"], ["GrowthValue"], ["SpeciesComment"]]
ANTIBIOTIC_ORDER: Order = [["AntibioticName"], ["SusceptibilityMethod"]]
ENTRY_ORDER: Order = [
    ["RefMicroorganism"],
    ["RefAntibiotic"],
    ["Susceptibility"],
    ["SusceptibilityValue"],
]
MF_ORDER: Order = [["Headline"], ["Comments"], ["Grouping"]]


def _label(path: str) -> str:
    """Readable id fragment: the last two levels of the path (below the letter), joined by '-'."""
    parts = [p for p in path.lstrip("/").split("/") if p != MWR] or [MWR]
    return "-".join(parts[-2:])


# --------------------------------------------------------------------------------------------
# XRPT05-specific edits
# --------------------------------------------------------------------------------------------


def _text(text: str) -> str:
    return f"<Text><Paragraph>{text}</Paragraph></Text>"


def _coded(name: str, text: str, code: str | None = None) -> str:
    head = (
        f"<Code>{code}</Code><CodeType>lokal</CodeType><CodeResponsible>KMA</CodeResponsible>"
        if code
        else ""
    )
    return f"<{name}>{head}{_text(text)}</{name}>"


def _add_if_absent(parent_path: str, order: Order, make: Maker) -> Edit:
    """Insert ``make`` at its place under ``parent_path``, but only where no such child exists."""

    def edit(d: _Doc) -> bool:
        parent = d.get(parent_path)
        if parent is None:
            return False
        new = make(d)
        if parent.find(d.q(_local(new))) is not None:
            return False
        return _insert_ordered(parent_path, order, lambda _d: new)(d)

    return edit


def _fill(parent_path: str, order: Order, make: Maker, total: int) -> Edit:
    """Replace the children named like ``make``'s element by ``total`` fresh ones."""

    def edit(d: _Doc) -> bool:
        parent = d.get(parent_path)
        if parent is None:
            return False
        name = d.q(_local(make(d)))
        for child in parent.findall(name):
            parent.remove(child)
        for _ in range(total):
            _insert_ordered(parent_path, order, make)(d)
        return True

    return edit


def _repeat_here(path: str, total: int) -> Edit:
    """Make exactly ``total`` copies of the first element at ``path`` among its own siblings
    (other parents keep their children, unlike ``xml_mutants._repeat``)."""

    def edit(d: _Doc) -> bool:
        first = d.get(path)
        parent = None if first is None else first.getparent()
        if first is None or parent is None:
            return False
        for extra in parent.findall(first.tag)[1:]:
            parent.remove(extra)
        raw = etree.tostring(first)
        for _ in range(total - 1):
            first.addnext(etree.fromstring(raw))
        return True

    return edit


def _remove_code(path: str) -> Edit:
    """Drop the optional (Code, CodeType, CodeResponsible) triple of a coded text."""

    def edit(d: _Doc) -> bool:
        el = d.get(path)
        if el is None or el.find(d.q("Code")) is None:
            return False
        for name in ("Code", "CodeType", "CodeResponsible"):
            child = el.find(d.q(name))
            if child is not None:
                el.remove(child)
        return True

    return edit


def _examination_last() -> Edit:
    """Move the first Investigation's Examination behind its findings."""

    def edit(d: _Doc) -> bool:
        inv = d.get(INV)
        exam = d.get(EXAM)
        if inv is None or exam is None or len(inv) < 2:
            return False
        inv.append(exam)
        return True

    return edit


_EXAMINATION = (
    "<Examination><ExaminationTypeCode>maalemetode</ExaminationTypeCode>"
    "<MICAnalysisCode>LGW0001</MICAnalysisCode><AnalysisCodeType>lokal</AnalysisCodeType>"
    "<AnalysisCodeResponsible>KMA</AnalysisCodeResponsible>"
    "<AnalysisMDSName><Examination>Testundersøgelse</Examination></AnalysisMDSName>"
    "<Examinator>Klinisk Mikrobiologi</Examinator>"
    "<ProducerOfLabResult><Identifier>5790000000000</Identifier>"
    "<IdentifierCode>KMA</IdentifierCode></ProducerOfLabResult></Examination>"
)


def _investigation(findings: str = "", examination: str = _EXAMINATION) -> Edit:
    """Append an Investigation (a fixed Examination plus ``findings``) after the last one."""

    def edit(d: _Doc) -> bool:
        invs = d.all(INV)
        if not invs:
            return False
        invs[-1].addnext(_xml(f"<Investigation>{examination}{findings}</Investigation>")(d))
        return True

    return edit


def _quant(findings: str, *, extra: str = "") -> str:
    """A QuantitativeFindings block with one AnalysisFindings holding ``findings``."""
    return (
        f"<QuantitativeFindings><AnalysisFindings>{_coded('Analysis', 'Borrelia IgG')}"
        f"<Findings>{findings}</Findings></AnalysisFindings>{extra}</QuantitativeFindings>"
    )


_INTERP = _coded("InterPretation", "Positiv", "POS")
_URL_REF = "<Reference><RefDescription>Rapport</RefDescription><URL>https://lab.example/r/1</URL></Reference>"
_BIN_REF = (
    "<Reference><RefDescription>Kurve</RefDescription><BIN>"
    "<ObjectIdentifier>0f8fad5b-d9cb-469f-a165-70867728950e</ObjectIdentifier>"
    "<ObjectCode>billede</ObjectCode><ObjectExtensionCode>png</ObjectExtensionCode>"
    "<OriginalObjectSize>2048</OriginalObjectSize></BIN></Reference>"
)
_FULL_FINDINGS = (
    f"{_INTERP}<ReferenceInterval><TypeOfInterval>fysiologisk</TypeOfInterval>"
    "<LowerLimit>0</LowerLimit><UpperLimit>2.0</UpperLimit><IntervalText>Negativ under 2,0"
    "</IntervalText></ReferenceInterval><Operator>stoerre_end</Operator><Value>2.0</Value>"
    f"<Unit>U/ml</Unit><ResultValidation>for_hoej</ResultValidation>{_URL_REF}"
    f"{_coded('Comments', 'Tyder på aktuel infektion')}"
)


def _ref_interval(inner: str) -> str:
    return f"{_INTERP}<ReferenceInterval>{inner}</ReferenceInterval>"


def _culture(microorganisms: str, pattern: str = "", comments: str = "") -> str:
    body = f"<Headline>Dyrkning</Headline>{microorganisms}{pattern}{comments}"
    return f"<CultureFindings>{body}</CultureFindings>"


_ORGANISM = (
    f"<Microorganism>{_coded('Identification', 'Staphylococcus aureus', 'SAUR')}"
    f"{_coded('GrowthValue', 'Rigelig vækst')}{_coded('SpeciesComment', 'MRSA', 'MRSA')}"
    "</Microorganism>"
)


def _pattern(entry_value: str = "", antibiotics: int = 1, entries: int = 1) -> str:
    rows = (
        f"<Antibiotic>{_coded('AntibioticName', 'Dicloxacillin', 'DIC')}"
        f"{_coded('SusceptibilityMethod', 'MIC-bestemmelse')}</Antibiotic>"
    ) * antibiotics
    cells = (
        "<PatternEntry><RefMicroorganism>1</RefMicroorganism><RefAntibiotic>1</RefAntibiotic>"
        f"<Susceptibility>R</Susceptibility>{entry_value}</PatternEntry>"
    ) * entries
    return (
        f"<Pattern><Headline>Antibiotikafølsomhed</Headline>{rows}{cells}"
        "<SusceptibilityInterpretation><Paragraph>S = følsom, R = resistent</Paragraph>"
        "</SusceptibilityInterpretation></Pattern>"
    )


def _cell(inner: str) -> str:
    return f"<SusceptibilityValue>{inner}</SusceptibilityValue>"


def _microscopy(
    groupings: str = "",
    comments: str = "<Comments><Paragraph>Få leukocytter</Paragraph></Comments>",
) -> str:
    body = f"<Headline>Mikroskopi</Headline>{comments}{groupings}"
    return f"<MicroscopicFindings>{body}</MicroscopicFindings>"


def _grouping(types: str = "", headline: str = _coded("Headline", "Gramfarvning")) -> str:
    return f"<Grouping>{headline}{types}</Grouping>"


def _mtype(kind: str = "celler", details: str = "") -> str:
    return f"<MicroscopicType><Type>{kind}</Type>{details}</MicroscopicType>"


_DETAILS = f"<Details>{_coded('Identification', 'Leukocytter')}{_coded('Value', 'Mange')}</Details>"


def _consent(value: str) -> Maker:
    return _el("Consent", None, _el("Given", value))


def _set_consent(value: str) -> Edit:
    """Set Patient/Consent/Given, adding the Consent where the base has none."""

    def edit(d: _Doc) -> bool:
        given = d.get(f"{PATIENT}/Consent/Given")
        if given is not None:
            return _set_text(f"{PATIENT}/Consent/Given", value)(d)
        return _insert_ordered(PATIENT, PATIENT_ORDER, _consent(value))(d)

    return edit


def _cc_receiver(code: str = "ydernummer", *, ean: bool = False, local: bool = False) -> Maker:
    head = "<EANIdentifier>5790000125029</EANIdentifier>" if ean else ""
    kind = (
        f"<IdentifierLocal>{code}</IdentifierLocal>"
        if local
        else f"<IdentifierCode>{code}</IdentifierCode>"
    )
    return _xml(
        f"<CCReceiver>{head}<Identifier>654321</Identifier>{kind}"
        "<OrganisationName>Kopimodtager</OrganisationName></CCReceiver>"
    )


# --------------------------------------------------------------------------------------------
# the catalogue
# --------------------------------------------------------------------------------------------

_MISSING_REQUIRED = [
    "Envelope",
    "Envelope/Sent",
    "Envelope/Sent/Date",
    "Envelope/Sent/Time",
    "Envelope/Identifier",
    "Envelope/AcknowledgementCode",
    LETTER,
    f"{LETTER}/Identifier",
    f"{LETTER}/VersionCode",
    f"{LETTER}/StatisticalCode",
    f"{LETTER}/Authorisation",
    f"{LETTER}/Authorisation/Date",
    f"{LETTER}/TypeCode",
    SENDER,
    f"{SENDER}/EANIdentifier",
    f"{SENDER}/Identifier",
    f"{SENDER}/IdentifierCode",
    f"{SENDER}/OrganisationName",
    f"{SENDER}/MedicalSpecialityCode",
    f"{SENDER}/FromLabIdentifier",
    RECEIVER,
    f"{RECEIVER}/EANIdentifier",
    f"{RECEIVER}/Identifier",
    f"{RECEIVER}/IdentifierCode",
    f"{RECEIVER}/Physician/PersonInitials",
    f"{CC}/Identifier",
    f"{CC}/IdentifierCode",
    PATIENT,
    f"{PATIENT}/CivilRegistrationNumber",
    f"{PATIENT}/PersonSurnameName",
    f"{PATIENT}/Consent/Given",
    REQ,
    SAMPLE,
    f"{SAMPLE}/LaboratoryInternalSampleIdentifier",
    f"{SAMPLE}/SamplingDateTime",
    f"{SAMPLE}/SampleReceivedDateTime",
    f"{SAMPLE}/SampleReceivedDateTime/Time",
    f"{REQ}/Comments/Text",
    RESULTS,
    GENERAL,
    f"{GENERAL}/ReportStatusCode",
    f"{GENERAL}/ResultStatusCode",
    f"{GENERAL}/LaboratoryInternalProductionIdentifier",
    f"{GENERAL}/ResultsDateTime",
    EXAM,
    f"{EXAM}/ExaminationTypeCode",
    f"{EXAM}/MICAnalysisCode",
    f"{EXAM}/AnalysisCodeType",
    f"{EXAM}/AnalysisCodeResponsible",
    MDS,
    f"{MDS}/Examination",
    f"{EXAM}/Examinator",
    PRODUCER,
    f"{PRODUCER}/Identifier",
    f"{PRODUCER}/IdentifierCode",
    f"{AF}/Analysis",
    f"{AF}/Analysis/Text",
    FINDINGS,
    f"{FINDINGS}/InterPretation",
    f"{CF}/Headline",
    IDENT,
    f"{IDENT}/Text",
    f"{IDENT}/Code",
    f"{IDENT}/CodeType",
    f"{IDENT}/CodeResponsible",
    f"{PATTERN}/Headline",
    f"{ANTIBIOTIC}/AntibioticName",
    f"{ENTRY}/RefMicroorganism",
    f"{ENTRY}/RefAntibiotic",
    f"{ENTRY}/Susceptibility",
    f"{PATTERN}/SusceptibilityInterpretation",
    f"{MF}/Headline",
    f"{MF}/Comments",
    f"{MF}/Grouping/Headline",
    f"{MF}/Grouping/MicroscopicType/Type",
    f"{MF}/Grouping/MicroscopicType/Details/Identification",
    f"{MF}/Grouping/MicroscopicType/Details/Value",
    f"{FINDINGS}/Reference/RefDescription",
    f"{FINDINGS}/Reference/URL",
    f"{FINDINGS}/Reference/BIN",
    f"{FINDINGS}/Reference/BIN/ObjectIdentifier",
    f"{FINDINGS}/Reference/BIN/ObjectCode",
    f"{FINDINGS}/Reference/BIN/ObjectExtensionCode",
    f"{FINDINGS}/Reference/BIN/OriginalObjectSize",
]

_MISSING_ALL = [
    MWR,
    INV,
    ANTIBIOTIC,
    ENTRY,
    f"{PATTERN}/SusceptibilityInterpretation/Paragraph",
    f"{REQ}/ClinicalInformation/Paragraph",
    f"{IDENT}/Text/Paragraph",
]

_OPTIONAL = [
    f"{SENDER}/DepartmentName",
    f"{SENDER}/UnitName",
    f"{RECEIVER}/OrganisationName",
    f"{RECEIVER}/DepartmentName",
    f"{RECEIVER}/StreetName",
    f"{RECEIVER}/SuburbName",
    f"{RECEIVER}/DistrictName",
    f"{RECEIVER}/PostCodeIdentifier",
    f"{RECEIVER}/Physician",
    CC,
    f"{CC}/OrganisationName",
    f"{CC}/DepartmentName",
    f"{CC}/UnitName",
    f"{PATIENT}/PersonGivenName",
    f"{PATIENT}/Consent",
    f"{REQ}/ClinicalInformation",
    f"{SAMPLE}/RequesterSampleIdentifier",
    f"{GENERAL}/ToLabIdentifier",
    f"{GENERAL}/Summary",
    f"{EXAM}/AnalysisShortName",
    f"{MDS}/Material",
    f"{MDS}/Location",
    f"{EXAM}/SupplementaryLocation",
    f"{EXAM}/Summary",
    QF,
    f"{QF}/InterPretation",
    f"{FINDINGS}/ReferenceInterval",
    f"{FINDINGS}/ResultValidation",
    CF,
    f"{MO}/GrowthValue",
    PATTERN,
    f"{ANTIBIOTIC}/SusceptibilityMethod",
    CELL,
    f"{CELL}/ReferenceInterval",
    f"{CELL}/Reference",
    f"{FINDINGS}/Reference",
    MF,
    f"{MF}/Grouping",
    f"{MF}/Grouping/MicroscopicType",
    f"{MF}/Grouping/MicroscopicType/Details",
]

_OPTIONAL_ALL = [
    f"{REQ}/Comments",
    f"{RESULTS}/Comments",
    f"{QF}/AnalysisFindings",
    f"{QF}/Comments",
    f"{CF}/Comments",
    f"{FINDINGS}/Comments",
]

# (path, id, wrong value) - every enumerated / fixed-value element of XR0532M
_BAD_ENUM = [
    ("Envelope/AcknowledgementCode", "AcknowledgementCode", "positivkvitt"),
    (f"{LETTER}/VersionCode", "VersionCode", "XR0531M"),
    (f"{LETTER}/VersionCode", "VersionCode", "XR0530M"),
    (f"{LETTER}/VersionCode", "VersionCode", "XR0131K"),
    (f"{LETTER}/TypeCode", "TypeCode", "XRPT01"),
    (f"{LETTER}/TypeCode", "TypeCode", "XRPT06"),
    (f"{SENDER}/IdentifierCode", "Sender-IdentifierCode", "lokal_kode"),
    (f"{SENDER}/IdentifierCode", "Sender-IdentifierCode", "amt"),
    (f"{SENDER}/MedicalSpecialityCode", "MedicalSpecialityCode", "mikrobiologi"),
    (f"{RECEIVER}/IdentifierCode", "Receiver-IdentifierCode", "lokal"),
    (f"{RECEIVER}/IdentifierCode", "Receiver-IdentifierCode", "Amt"),
    (f"{GENERAL}/ReportStatusCode", "ReportStatusCode", "komplet"),
    (f"{GENERAL}/ResultStatusCode", "ResultStatusCode", "svar_foreloebigt"),
    (f"{GENERAL}/ResultStatusCode", "ResultStatusCode", "komplet_svar"),
    (f"{EXAM}/ExaminationTypeCode", "ExaminationTypeCode", "resistens"),
    (f"{EXAM}/AnalysisCodeType", "AnalysisCodeType", "miba"),
    ("//CodeType", "CodeType", "miba"),
    ("//CodeType", "CodeType", "MDS"),
    ("//TypeOfInterval", "TypeOfInterval", "normal"),
    ("//Operator", "Operator", "lig"),
    ("//ResultValidation", "ResultValidation", "positiv"),
    (f"{PATIENT}/Consent/Given", "Consent-Given", "ja"),
    (f"{MF}/Grouping/MicroscopicType/Type", "MicroscopicType-Type", "bakterier"),
    ("//ObjectCode", "ObjectCode", "foto"),
    ("//ObjectExtensionCode", "ObjectExtensionCode", "docx"),
]

_GOOD_ENUM = [
    ("Envelope/AcknowledgementCode", "AcknowledgementCode", "minuspositivkvitt"),
    ("Envelope/AcknowledgementCode", "AcknowledgementCode", "pluspositivkvitt"),
    *[
        (f"{SENDER}/IdentifierCode", "Sender-IdentifierCode", code)
        for code in (
            "sygehusafdelingsnummer",
            "ydernummer",
            "lokationsnummer",
            "kommunenummer",
            "sorkode",
        )
    ],
    ("//ObjectCode", "ObjectCode", "tekstfil"),
    ("//ObjectCode", "ObjectCode", "proprietaert_indhold"),
    ("//ObjectExtensionCode", "ObjectExtensionCode", "pdf"),
    ("//ObjectExtensionCode", "ObjectExtensionCode", "fnx"),
    (f"{SENDER}/MedicalSpecialityCode", "MedicalSpecialityCode", "almen_medicin"),
    (f"{SENDER}/MedicalSpecialityCode", "MedicalSpecialityCode", "klin_mikrobiologi"),
    *[
        (f"{RECEIVER}/IdentifierCode", "Receiver-IdentifierCode", code)
        for code in (
            "sygehusafdelingsnummer",
            "ydernummer",
            "lokationsnummer",
            "kommunenummer",
            "amt",
            "sorkode",
            "lokal_kode",
        )
    ],
    *[
        (f"{GENERAL}/ReportStatusCode", "ReportStatusCode", code)
        for code in ("del_svar", "komplet_svar", "modtaget")
    ],
    *[
        (f"{GENERAL}/ResultStatusCode", "ResultStatusCode", code)
        for code in ("proeve_modtaget", "svar_midlertidigt", "svar_endeligt", "svar_rettet")
    ],
    *[
        (f"{EXAM}/ExaminationTypeCode", "ExaminationTypeCode", code)
        for code in (
            "maalemetode",
            "maaleprocedure",
            "maalbar_kvantitet",
            "overskrift",
            "observerbar_egenskab",
            "antibiotika_sammensaetning",
            "dyrkning",
        )
    ],
    *[(f"{EXAM}/AnalysisCodeType", "AnalysisCodeType", c) for c in ("iupac", "mds", "lokal")],
    *[("//CodeType", "CodeType", c) for c in ("iupac", "mds", "lokal")],
    *[
        ("//Operator", "Operator", c)
        for c in ("mindre_end", "stoerre_end", "lig_med", "ikke_angivet")
    ],
    *[("//TypeOfInterval", "TypeOfInterval", c) for c in ("terapeutisk", "uspecificeret")],
    *[("//ResultValidation", "ResultValidation", c) for c in ("for_hoej", "for_lav", "unormal")],
    (f"{PATIENT}/Consent/Given", "Consent-Given", "false"),
    (f"{PATIENT}/Consent/Given", "Consent-Given", "0"),
]

# (path, id, maximum length, may be empty)
_MAX_LENGTH = [
    ("Envelope/Identifier", "Envelope-Identifier", 14, False),
    (f"{LETTER}/Identifier", "Letter-Identifier", 14, False),
    (f"{LETTER}/StatisticalCode", "StatisticalCode", 8, False),
    (f"{SENDER}/EANIdentifier", "Sender-EANIdentifier", 35, False),
    (f"{SENDER}/Identifier", "Sender-Identifier", 17, False),
    (f"{SENDER}/OrganisationName", "Sender-OrganisationName", 35, False),
    (f"{SENDER}/DepartmentName", "Sender-DepartmentName", 35, False),
    (f"{SENDER}/FromLabIdentifier", "FromLabIdentifier", 3, False),
    (f"{RECEIVER}/Identifier", "Receiver-Identifier", 17, False),
    (f"{RECEIVER}/SuburbName", "Receiver-SuburbName", 35, False),
    (f"{RECEIVER}/PostCodeIdentifier", "PostCodeIdentifier", 9, True),
    (f"{RECEIVER}/Physician/PersonInitials", "PersonInitials", 17, False),
    (f"{PATIENT}/PersonSurnameName", "PersonSurnameName", 70, False),
    (f"{PATIENT}/PersonGivenName", "PersonGivenName", 70, False),
    (
        f"{SAMPLE}/LaboratoryInternalSampleIdentifier",
        "LaboratoryInternalSampleIdentifier",
        20,
        False,
    ),
    (f"{SAMPLE}/RequesterSampleIdentifier", "RequesterSampleIdentifier", 15, False),
    (f"{GENERAL}/ToLabIdentifier", "ToLabIdentifier", 3, False),
    (f"{GENERAL}/LaboratoryInternalProductionIdentifier", "ProductionIdentifier", 20, False),
    (f"{GENERAL}/Summary", "General-Summary", 70, False),
    (f"{EXAM}/MICAnalysisCode", "MICAnalysisCode", 17, False),
    (f"{EXAM}/AnalysisCodeResponsible", "AnalysisCodeResponsible", 3, False),
    (f"{EXAM}/AnalysisShortName", "AnalysisShortName", 35, False),
    (f"{MDS}/Examination", "AnalysisMDSName-Examination", 70, False),
    (f"{MDS}/Material", "AnalysisMDSName-Material", 70, False),
    (f"{MDS}/Location", "AnalysisMDSName-Location", 70, False),
    (f"{EXAM}/SupplementaryLocation", "SupplementaryLocation", 70, False),
    (f"{EXAM}/Examinator", "Examinator", 70, False),
    (f"{PRODUCER}/Identifier", "ProducerOfLabResult-Identifier", 17, False),
    (f"{PRODUCER}/IdentifierCode", "ProducerOfLabResult-IdentifierCode", 3, False),
    (f"{EXAM}/Summary", "Examination-Summary", 70, False),
    (f"{CF}/Headline", "CultureFindings-Headline", 35, False),
    (f"{PATTERN}/Headline", "Pattern-Headline", 35, False),
    (f"{MF}/Headline", "MicroscopicFindings-Headline", 35, False),
    ("//Code", "Code", 20, False),
    ("//CodeResponsible", "CodeResponsible", 20, False),
    (f"{ENTRY}/Susceptibility", "Susceptibility", 8, False),
    ("//Value", "Value", 12, False),
    ("//Unit", "Unit", 16, False),
    ("//LowerLimit", "LowerLimit", 8, False),
    ("//UpperLimit", "UpperLimit", 8, False),
    ("//IntervalText", "IntervalText", 70, False),
    ("//Paragraph", "Paragraph", 500, True),
    ("//URL", "URL", 350, False),
    ("//RefDescription", "RefDescription", 70, False),
]

_BAD_DATES = [
    ("Envelope/Sent/Date", "Sent", "2025-13-01"),
    ("Envelope/Sent/Date", "Sent", "2023-02-29"),
    (f"{SAMPLE}/SamplingDateTime/Date", "SamplingDateTime", "10-03-2025"),
    (f"{SAMPLE}/SampleReceivedDateTime/Date", "SampleReceivedDateTime", "2025-3-10"),
    (f"{LETTER}/Authorisation/Date", "Authorisation", "20250312"),
]
_BAD_TIMES = [
    ("Envelope/Sent/Time", "Sent", "24:00"),
    ("Envelope/Sent/Time", "Sent", "12:00:00"),
    ("Envelope/Sent/Time", "Sent", "9:05"),
    (f"{GENERAL}/ResultsDateTime/Time", "ResultsDateTime", "14.00"),
    (f"{LETTER}/Authorisation/Time", "Authorisation", "1402"),
    (f"{SAMPLE}/SampleReceivedDateTime/Time", "SampleReceivedDateTime", "13:15Z"),
]
_GOOD_DATETIMES = [
    ("Envelope/Sent/Date", "date-Sent-leap-day", "2024-02-29"),
    ("Envelope/Sent/Date", "date-Sent-with-timezone", "2025-03-12+01:00"),
    (f"{SAMPLE}/SamplingDateTime/Time", "time-SamplingDateTime-00-00", "00:00"),
    ("Envelope/Sent/Time", "time-Sent-23-59", "23:59"),
]

# (parent, child) pairs XR0532M lets repeat; every other element occurs at most once. Used by the
# automatic duplicate mutants (one per distinct element path of the base).
_REPEATABLE = {
    ("Emessage", MWR),
    ("LaboratoryResults", "Investigation"),
    ("LaboratoryResults", "Comments"),
    ("RequisitionInformation", "Comments"),
    ("QuantitativeFindings", "AnalysisFindings"),
    ("QuantitativeFindings", "Comments"),
    ("Findings", "Reference"),
    ("Findings", "Comments"),
    ("SusceptibilityValue", "Reference"),
    ("SusceptibilityValue", "Comments"),
    ("CultureFindings", "Microorganism"),
    ("CultureFindings", "Comments"),
    ("Microorganism", "SpeciesComment"),
    ("Pattern", "Antibiotic"),
    ("Pattern", "PatternEntry"),
    ("MicroscopicFindings", "Grouping"),
    ("Grouping", "MicroscopicType"),
    ("MicroscopicType", "Details"),
}


def _catalogue() -> list[tuple[str, Edit]]:
    cat: list[tuple[str, Edit]] = []

    def add(mutant_id: str, edit: Edit) -> None:
        cat.append((mutant_id, edit))

    # -- required elements removed (invalid) / optional elements removed (valid)
    for path in _MISSING_REQUIRED:
        add(f"missing-{_label(path)}", _remove(path))
    for path in _MISSING_ALL:
        add(f"missing-all-{_label(path)}", _remove_all(path))
    add(
        "missing-ReferenceInterval-TypeOfInterval",
        _remove("//TypeOfInterval", only_if_any=("LowerLimit", "UpperLimit")),
    )
    for path in _OPTIONAL:
        add(f"valid-optional-removed-{_label(path)}", _remove(path))
    for path in _OPTIONAL_ALL:
        add(f"valid-optional-removed-all-{_label(path)}", _remove_all(path))
    add("valid-Identification-without-code", _remove_code(IDENT))
    add("valid-AntibioticName-without-code", _remove_code(f"{ANTIBIOTIC}/AntibioticName"))
    add("valid-Microorganism-all-removed-Pattern-kept", _remove_all(MO))
    add(
        "valid-SusceptibilityValue-without-Operator-Value-Unit",
        _chain(_remove(f"{CELL}/Operator"), _remove(f"{CELL}/Value"), _remove(f"{CELL}/Unit")),
    )
    add(
        "Operator-removed-Value-kept",
        _remove("//Operator", only_if_any=("Value",)),
    )

    # -- code lists
    for path, label, value in _BAD_ENUM:
        add(f"enum-{label}-{value}", _set_text(path, value))
    add("enum-whitespace-VersionCode", _set_text(f"{LETTER}/VersionCode", " XR0532M "))
    add("enum-case-ExaminationTypeCode", _set_text(f"{EXAM}/ExaminationTypeCode", "Dyrkning"))
    for path, label, value in _GOOD_ENUM:
        add(f"valid-enum-{label}-{value}", _set_text(path, value))
    add(
        "dropped-ResultStatus-XR0530M",
        _insert_after(f"{GENERAL}/ResultsDateTime", _el("ResultStatus", "komplet")),
    )

    # -- lengths
    for path, label, limit, may_be_empty in _MAX_LENGTH:
        add(f"too-long-{label}-{limit + 1}", _set_text(path, "7" * (limit + 1)))
        add(f"valid-length-{label}-{limit}", _set_text(path, "7" * limit))
        add(f"valid-length-{label}-1", _set_text(path, "7"))
        if may_be_empty:
            add(f"valid-empty-{label}", _set_text(path, ""))
        else:
            add(f"empty-{label}", _set_text(path, ""))
    add("valid-length-Paragraph-500-non-ascii", _set_text("//Paragraph", "ø" * 500))
    add("too-long-Paragraph-501-non-ascii", _set_text("//Paragraph", "ø" * 501))
    add("too-long-Unit-17-non-ascii", _set_text("//Unit", "µ" * 17))
    add("empty-VersionCode", _set_text(f"{LETTER}/VersionCode", ""))
    add("empty-Sent-Date", _set_text("Envelope/Sent/Date", ""))

    # -- element order
    add("order-Sender-after-Receiver", _move(SENDER, RECEIVER, before=False))
    add("order-Letter-after-Sender", _move(LETTER, SENDER, before=False))
    add("order-Patient-before-Receiver", _move(PATIENT, RECEIVER, before=True))
    add("order-Envelope-after-letter", _move("Envelope", MWR, before=False))
    add(
        "order-LaboratoryResults-before-RequisitionInformation",
        _move(RESULTS, REQ, before=True),
    )
    add(
        "order-FromLabIdentifier-before-MedicalSpecialityCode",
        _move(f"{SENDER}/FromLabIdentifier", f"{SENDER}/MedicalSpecialityCode", before=True),
    )
    add(
        "order-MedicalSpecialityCode-before-OrganisationName",
        _move(f"{SENDER}/MedicalSpecialityCode", f"{SENDER}/OrganisationName", before=True),
    )
    add(
        "order-ResultStatusCode-before-ReportStatusCode",
        _move(f"{GENERAL}/ResultStatusCode", f"{GENERAL}/ReportStatusCode", before=True),
    )
    add(
        "order-ToLabIdentifier-after-ProductionIdentifier",
        _insert_after(
            f"{GENERAL}/LaboratoryInternalProductionIdentifier", _el("ToLabIdentifier", "KMA")
        ),
    )
    add(
        "order-Summary-before-ResultsDateTime",
        _move(f"{GENERAL}/Summary", f"{GENERAL}/ResultsDateTime", before=True),
    )
    add(
        "order-SampleReceivedDateTime-before-SamplingDateTime",
        _move(f"{SAMPLE}/SampleReceivedDateTime", f"{SAMPLE}/SamplingDateTime", before=True),
    )
    add(
        "order-ClinicalInformation-after-Sample",
        _move(f"{REQ}/ClinicalInformation", SAMPLE, before=False),
    )
    add(
        "order-Comments-before-ClinicalInformation",
        _insert_before(f"{REQ}/ClinicalInformation", _xml(_coded("Comments", "Kommentar"))),
    )
    add(
        "order-Comments-before-Investigation",
        _move(f"{RESULTS}/Comments", INV, before=True),
    )
    add("order-Examination-last", _examination_last())
    add("order-MicroscopicFindings-before-CultureFindings", _move(MF, CF, before=True))
    add(
        "order-QuantitativeFindings-after-CultureFindings",
        _insert_after(CF, _el("QuantitativeFindings")),
    )
    add(
        "order-CultureFindings-before-QuantitativeFindings",
        _insert_before(QF, _xml(_culture(""))),
    )
    add("order-Pattern-before-Microorganism", _move(PATTERN, MO, before=True))
    add("order-PatternEntry-before-Antibiotic", _move(ENTRY, ANTIBIOTIC, before=True))
    add(
        "order-SusceptibilityInterpretation-before-PatternEntry",
        _move(f"{PATTERN}/SusceptibilityInterpretation", ENTRY, before=True),
    )
    add(
        "order-RefAntibiotic-before-RefMicroorganism",
        _move(f"{ENTRY}/RefAntibiotic", f"{ENTRY}/RefMicroorganism", before=True),
    )
    add(
        "order-ProducerOfLabResult-before-Examinator",
        _move(PRODUCER, f"{EXAM}/Examinator", before=True),
    )
    add(
        "order-Location-before-Material",
        _move(f"{MDS}/Location", f"{MDS}/Material", before=True),
    )
    add(
        "order-AnalysisMDSName-before-AnalysisCodeType",
        _move(MDS, f"{EXAM}/AnalysisCodeType", before=True),
    )
    add("order-Findings-before-Analysis", _move(FINDINGS, f"{AF}/Analysis", before=True))
    add("order-Text-before-Code", _move(f"{IDENT}/Text", f"{IDENT}/Code", before=True))
    add(
        "order-CodeResponsible-before-CodeType",
        _move(f"{IDENT}/CodeResponsible", f"{IDENT}/CodeType", before=True),
    )
    add("order-GrowthValue-before-Identification", _move(f"{MO}/GrowthValue", IDENT, before=True))
    add(
        "order-ResultValidation-before-InterPretation",
        _move(f"{FINDINGS}/ResultValidation", f"{FINDINGS}/InterPretation", before=True),
    )
    add("order-MF-Comments-before-Headline", _move(f"{MF}/Comments", f"{MF}/Headline", before=True))
    add("order-Unit-before-Value", _move(f"{CELL}/Unit", f"{CELL}/Value", before=True))
    add(
        "order-ReferenceInterval-after-Value",
        _move(f"{CELL}/ReferenceInterval", f"{CELL}/Value", before=False),
    )
    add(
        "order-Consent-before-PersonSurnameName",
        _insert_after(f"{PATIENT}/CivilRegistrationNumber", _consent("false")),
    )
    add("order-CCReceiver-after-Patient", _insert_after(PATIENT, _cc_receiver()))

    # -- namespaces and letter element
    add("ns-root-2007", _rename(".", _to_ns(NS_2007)))
    add("ns-all-2007", _rename(".", _to_ns(NS_2007), subtree=True))
    add("ns-all-2011", _rename(".", _to_ns(NS_2011), subtree=True))
    add("ns-root-none", _unqualify("root"))
    add("ns-all-none", _unqualify("all"))
    add("ns-child-Patient-2007", _rename(PATIENT, _to_ns(NS_2007)))
    add(
        "ns-subtree-Sender-foreign", _rename(SENDER, _to_ns("urn:labgw:test:foreign"), subtree=True)
    )
    add("ns-child-Paragraph-none", _unqualify("Paragraph"))
    add(
        "wrong-letter-element-LaboratoryReport", _rename(MWR, lambda d, _e: d.q("LaboratoryReport"))
    )
    add("wrong-letter-element-MiBaReport", _rename(MWR, lambda d, _e: d.q("MiBaReport")))

    # -- dates and times
    for path, label, value in _BAD_DATES:
        add(f"date-{label}-{value}", _set_text(path, value))
    for path, label, value in _BAD_TIMES:
        add(f"time-{label}-{value.replace(':', '-')}", _set_text(path, value))
    for path, label, value in _GOOD_DATETIMES:
        add(f"valid-{label}", _set_text(path, value))

    # -- duplicated single elements / repeatable ones

    # -- occurrence limits
    add("valid-count-Investigation-90", _repeat_here(INV, 90))
    add("count-Investigation-91", _repeat_here(INV, 91))
    add("valid-count-Microorganism-10", _repeat_here(MO, 10))
    add("count-Microorganism-11", _repeat_here(MO, 11))
    add("valid-count-Antibiotic-80", _repeat_here(ANTIBIOTIC, 80))
    add("count-Antibiotic-81", _repeat_here(ANTIBIOTIC, 81))
    add("valid-count-PatternEntry-80", _repeat_here(ENTRY, 80))
    add("count-PatternEntry-81", _repeat_here(ENTRY, 81))
    add("valid-count-AnalysisFindings-20", _repeat_here(AF, 20))
    add("count-AnalysisFindings-21", _repeat_here(AF, 21))
    interp = f"{PATTERN}/SusceptibilityInterpretation/Paragraph"
    add("valid-count-SusceptibilityInterpretation-Paragraph-10", _repeat_here(interp, 10))
    add("count-SusceptibilityInterpretation-Paragraph-11", _repeat_here(interp, 11))
    add("valid-count-Text-Paragraph-10", _repeat_here(f"{IDENT}/Text/Paragraph", 10))
    add("count-Text-Paragraph-11", _repeat_here(f"{IDENT}/Text/Paragraph", 11))
    comments = _xml(_coded("Comments", "Kommentar"))
    for parent, order, label in (
        (RESULTS, RESULTS_ORDER, "LaboratoryResults-Comments"),
        (REQ, REQ_ORDER, "RequisitionInformation-Comments"),
        (CF, CF_ORDER, "CultureFindings-Comments"),
        (QF, QF_ORDER, "QuantitativeFindings-Comments"),
        (FINDINGS, FINDINGS_ORDER, "Findings-Comments"),
    ):
        add(f"valid-count-{label}-10", _fill(parent, order, comments, 10))
        add(f"count-{label}-11", _fill(parent, order, comments, 11))
    species = _xml(_coded("SpeciesComment", "ESBL"))
    add("valid-count-SpeciesComment-10", _fill(MO, ORGANISM_ORDER, species, 10))
    add("count-SpeciesComment-11", _fill(MO, ORGANISM_ORDER, species, 11))
    paragraph = _el("Paragraph", "Linje")
    add(
        "valid-count-ClinicalInformation-Paragraph-10",
        _fill(f"{REQ}/ClinicalInformation", [["Paragraph"]], paragraph, 10),
    )
    add(
        "count-ClinicalInformation-Paragraph-11",
        _fill(f"{REQ}/ClinicalInformation", [["Paragraph"]], paragraph, 11),
    )
    add("valid-count-Grouping-5", _investigation(_microscopy(_grouping(_mtype()) * 5)))
    add("count-Grouping-6", _investigation(_microscopy(_grouping(_mtype()) * 6)))
    add("valid-count-MicroscopicType-10", _investigation(_microscopy(_grouping(_mtype() * 10))))
    add("count-MicroscopicType-11", _investigation(_microscopy(_grouping(_mtype() * 11))))
    add(
        "valid-count-Details-10",
        _investigation(_microscopy(_grouping(_mtype(details=_DETAILS * 10)))),
    )
    add("count-Details-11", _investigation(_microscopy(_grouping(_mtype(details=_DETAILS * 11)))))
    add(
        "valid-count-Findings-Reference-10",
        _investigation(_quant(_INTERP + _URL_REF * 10)),
    )
    add("count-Findings-Reference-11", _investigation(_quant(_INTERP + _URL_REF * 11)))
    for total in (10, 11):
        add(
            f"{'valid-' if total == 10 else ''}count-SusceptibilityValue-Reference-{total}",
            _investigation(_culture(_ORGANISM, _pattern(_cell(_URL_REF * total)))),
        )
    add(
        "valid-count-SusceptibilityValue-Comments-10",
        _investigation(_culture(_ORGANISM, _pattern(_cell(_coded("Comments", "x") * 10)))),
    )
    add(
        "count-SusceptibilityValue-Comments-11",
        _investigation(_culture(_ORGANISM, _pattern(_cell(_coded("Comments", "x") * 11)))),
    )

    # -- susceptibility table references
    for value, ok in (
        ("10", True),
        ("01", True),
        ("0", False),
        ("11", False),
        ("-1", False),
        ("1.0", False),
        ("A", False),
    ):
        prefix = "valid-" if ok else ""
        add(f"{prefix}RefMicroorganism-{value}", _set_text(f"{ENTRY}/RefMicroorganism", value))
    for value, ok in (("80", True), ("81", False), ("0", False)):
        prefix = "valid-" if ok else ""
        add(f"{prefix}RefAntibiotic-{value}", _set_text(f"{ENTRY}/RefAntibiotic", value))
    add("valid-Susceptibility-code-texts", _set_text(f"{ENTRY}/Susceptibility", "(S)"))

    # -- patient identification and consent
    cpr = f"{PATIENT}/CivilRegistrationNumber"
    add("cpr-9-digits", _set_text(cpr, "251248999"))
    add("cpr-letters", _set_text(cpr, "25124899AB"))
    add("cpr-hyphen", _set_text(cpr, "251248-9996"))
    add("valid-cpr-not-a-date", _set_text(cpr, "9999999999"))
    add("valid-AlternativeIdentifier", _replace(cpr, _el("AlternativeIdentifier", "X123456789")))
    add(
        "AlternativeIdentifier-11-chars", _replace(cpr, _el("AlternativeIdentifier", "X1234567890"))
    )
    add(
        "dup-AlternativeIdentifier",
        _chain(
            _replace(cpr, _el("AlternativeIdentifier", "X123456789")),
            _duplicate(f"{PATIENT}/AlternativeIdentifier"),
        ),
    )
    add(
        "both-CivilRegistrationNumber-and-AlternativeIdentifier",
        _insert_after(cpr, _el("AlternativeIdentifier", "X123456789")),
    )
    add("valid-Consent-false", _set_consent("false"))
    add("valid-Consent-true", _set_consent("true"))
    add("enum-Consent-Given-maybe", _set_consent("maybe"))
    add(
        "missing-Consent-Given-added-empty",
        _chain(
            _remove(f"{PATIENT}/Consent"), _insert_ordered(PATIENT, PATIENT_ORDER, _el("Consent"))
        ),
    )
    add(
        "extra-Patient-StreetName",
        _insert_after(f"{PATIENT}/PersonSurnameName", _el("StreetName", "Vej 1")),
    )

    # -- party identification (XR0532M has no IdentifierLocal; Receiver's list is wider)
    add(
        "Sender-IdentifierLocal",
        _replace(f"{SENDER}/IdentifierCode", _el("IdentifierLocal", "KMA")),
    )
    add(
        "Receiver-IdentifierLocal",
        _replace(f"{RECEIVER}/IdentifierCode", _el("IdentifierLocal", "FK")),
    )
    add(
        "Sender-IdentifierCode-and-IdentifierLocal",
        _insert_after(f"{SENDER}/IdentifierCode", _el("IdentifierLocal", "KMA")),
    )
    cc = _add_if_absent(MWR, LETTER_ORDER, _cc_receiver())
    add("valid-CCReceiver", cc)
    add("valid-CCReceiver-sorkode", _add_if_absent(MWR, LETTER_ORDER, _cc_receiver("sorkode")))
    add(
        "enum-CCReceiver-IdentifierCode-lokal_kode",
        _add_if_absent(MWR, LETTER_ORDER, _cc_receiver("lokal_kode")),
    )
    add(
        "enum-CCReceiver-IdentifierCode-amt", _add_if_absent(MWR, LETTER_ORDER, _cc_receiver("amt"))
    )
    add(
        "CCReceiver-IdentifierLocal",
        _add_if_absent(MWR, LETTER_ORDER, _cc_receiver("KOP", local=True)),
    )
    add("CCReceiver-with-EANIdentifier", _add_if_absent(MWR, LETTER_ORDER, _cc_receiver(ean=True)))
    add("extra-CCReceiver-StreetName", _chain(cc, _append(CC, _el("StreetName", "Vej 1"))))

    # -- general result information and examination details
    add(
        "valid-ToLabIdentifier",
        _add_if_absent(GENERAL, GENERAL_ORDER, _el("ToLabIdentifier", "OUH")),
    )
    add("valid-General-Summary", _add_if_absent(GENERAL, GENERAL_ORDER, _el("Summary", "Se svar")))
    add(
        "valid-SupplementaryLocation",
        _add_if_absent(EXAM, EXAM_ORDER, _el("SupplementaryLocation", "Højre side")),
    )
    add("valid-Examination-Summary", _add_if_absent(EXAM, EXAM_ORDER, _el("Summary", "Positiv")))
    add(
        "AnalysisCompleteName-from-XR0131K",
        _insert_after(MDS, _el("AnalysisCompleteName", "Dyrkning")),
    )
    add("Volume-from-XR0131K", _append(SAMPLE, _el("Volume", "10")))
    add("Result-from-XR0131K", _insert_after(GENERAL, _el("Result")))
    add(
        "ProducerOfLabResult-Identifier-18-XR0131K-allows-35",
        _set_text(f"{PRODUCER}/Identifier", "5" * 18),
    )

    # -- quantitative findings (in an appended Investigation)
    add("valid-Investigation-Examination-only", _investigation())
    add("valid-QuantitativeFindings-empty", _investigation("<QuantitativeFindings/>"))
    add(
        "valid-QuantitativeFindings-full",
        _investigation(_quant(_FULL_FINDINGS, extra=_coded("Comments", "x"))),
    )
    add("valid-Findings-InterPretation-only", _investigation(_quant(_INTERP)))
    add(
        "valid-Findings-Operator-Value-without-Unit",
        _investigation(_quant(_INTERP + "<Operator>ikke_angivet</Operator><Value>pos</Value>")),
    )
    add("valid-Findings-Reference-BIN", _investigation(_quant(_INTERP + _BIN_REF)))
    add(
        "valid-Findings-Reference-SUP",
        _investigation(
            _quant(
                _INTERP + "<Reference><RefDescription>S</RefDescription><SUP>true</SUP></Reference>"
            )
        ),
    )
    add(
        "bad-Findings-Reference-SUP-false",
        _investigation(
            _quant(
                _INTERP
                + "<Reference><RefDescription>S</RefDescription><SUP>false</SUP></Reference>"
            )
        ),
    )
    add(
        "bad-Findings-Reference-BIN-uuid",
        _investigation(_quant(_INTERP + _BIN_REF.replace("0f8fad5b-", "0f8fad5b"))),
    )
    add(
        "Findings-without-InterPretation",
        _investigation(_quant("<Operator>lig_med</Operator><Value>1</Value>")),
    )
    add(
        "Value-without-Operator",
        _investigation(_quant(_INTERP + "<Value>0.6</Value><Unit>unit</Unit>")),
    )
    add("Operator-without-Value", _investigation(_quant(_INTERP + "<Operator>lig_med</Operator>")))
    add("Unit-without-Value", _investigation(_quant(_INTERP + "<Unit>mg/L</Unit>")))
    add(
        "ResultValidation-before-Operator",
        _investigation(
            _quant(
                _INTERP
                + "<ResultValidation>unormal</ResultValidation>"
                + "<Operator>lig_med</Operator><Value>1</Value>"
            )
        ),
    )
    add("valid-ReferenceInterval-empty", _investigation(_quant(_ref_interval(""))))
    add(
        "valid-ReferenceInterval-IntervalText-only",
        _investigation(_quant(_ref_interval("<IntervalText>Negativ</IntervalText>"))),
    )
    add(
        "valid-ReferenceInterval-TypeOfInterval-only",
        _investigation(_quant(_ref_interval("<TypeOfInterval>uspecificeret</TypeOfInterval>"))),
    )
    add(
        "LowerLimit-without-TypeOfInterval",
        _investigation(_quant(_ref_interval("<LowerLimit>1</LowerLimit>"))),
    )
    add(
        "too-long-ReferenceInterval-LowerLimit-9-XR0131K-allows-12",
        _investigation(
            _quant(
                _ref_interval(
                    "<TypeOfInterval>fysiologisk</TypeOfInterval><LowerLimit>123456789</LowerLimit>"
                )
            )
        ),
    )
    add(
        "valid-length-ReferenceInterval-UpperLimit-8",
        _investigation(
            _quant(
                _ref_interval(
                    "<TypeOfInterval>fysiologisk</TypeOfInterval><UpperLimit>12345678</UpperLimit>"
                )
            )
        ),
    )
    add(
        "order-IntervalText-before-TypeOfInterval",
        _investigation(
            _quant(
                _ref_interval(
                    "<IntervalText>x</IntervalText><TypeOfInterval>fysiologisk</TypeOfInterval>"
                )
            )
        ),
    )
    add(
        "enum-Operator-stoerre_end_eller_lig",
        _investigation(
            _quant(_INTERP + "<Operator>stoerre_end_eller_lig</Operator><Value>1</Value>")
        ),
    )
    add(
        "text-plain-in-InterPretation",
        _investigation(_quant("<InterPretation>Positiv</InterPretation>")),
    )
    add(
        "Code-without-CodeType-and-CodeResponsible",
        _investigation(
            _quant("<InterPretation><Code>P</Code>" + _text("Positiv") + "</InterPretation>")
        ),
    )
    add(
        "valid-QuantitativeFindings-InterPretation-and-Comments",
        _investigation(
            "<QuantitativeFindings>" + _INTERP + _coded("Comments", "x") + "</QuantitativeFindings>"
        ),
    )

    # -- culture findings and susceptibility (in an appended Investigation)
    add("valid-CultureFindings-Headline-only", _investigation(_culture("")))
    add(
        "valid-CultureFindings-full",
        _investigation(_culture(_ORGANISM * 2, _pattern(), _coded("Comments", "x"))),
    )
    add("valid-Pattern-without-Microorganism", _investigation(_culture("", _pattern())))
    add(
        "valid-SusceptibilityValue-MIC",
        _investigation(
            _culture(
                _ORGANISM,
                _pattern(
                    _cell(
                        "<ReferenceInterval><TypeOfInterval>uspecificeret</TypeOfInterval>"
                        "<UpperLimit>2</UpperLimit></ReferenceInterval><Operator>stoerre_end</Operator>"
                        "<Value>256</Value><Unit>mg/L</Unit>" + _URL_REF + _coded("Comments", "x")
                    )
                ),
            )
        ),
    )
    add("valid-SusceptibilityValue-empty", _investigation(_culture(_ORGANISM, _pattern(_cell("")))))
    add(
        "SusceptibilityValue-with-ResultValidation",
        _investigation(
            _culture(
                _ORGANISM,
                _pattern(
                    _cell(
                        "<Operator>lig_med</Operator><Value>1</Value><ResultValidation>unormal</ResultValidation>"
                    )
                ),
            )
        ),
    )
    add(
        "SusceptibilityValue-with-InterPretation",
        _investigation(_culture(_ORGANISM, _pattern(_cell(_INTERP)))),
    )
    add(
        "Pattern-without-Antibiotic-rows",
        _investigation(_culture(_ORGANISM, _pattern(antibiotics=0))),
    )
    add("Pattern-without-PatternEntry", _investigation(_culture(_ORGANISM, _pattern(entries=0))))
    add(
        "valid-count-Pattern-80-rows-80-cells",
        _investigation(_culture(_ORGANISM, _pattern(antibiotics=80, entries=80))),
    )
    add(
        "Microorganism-after-Comments",
        _investigation(_culture("", "", _coded("Comments", "x") + _ORGANISM)),
    )
    add(
        "text-plain-in-GrowthValue",
        _investigation(
            _culture(
                f"<Microorganism>{_coded('Identification', 'E. coli')}"
                "<GrowthValue>Rigelig</GrowthValue></Microorganism>"
            )
        ),
    )
    add(
        "text-Text-with-Break-like-2007-examples",
        _investigation(_culture("", "", "<Comments><Text>INGEN VÆKST<Break/></Text></Comments>")),
    )
    add(
        "CultureFindings-Headline-coded",
        _investigation("<CultureFindings>" + _coded("Headline", "Dyrkning") + "</CultureFindings>"),
    )

    # -- microscopic findings (in an appended Investigation)
    add("valid-MicroscopicFindings-minimal", _investigation(_microscopy()))
    add(
        "valid-MicroscopicFindings-full",
        _investigation(_microscopy(_grouping(_mtype(details=_DETAILS)))),
    )
    for kind in ("celler", "mikroorganisme", "konsistens", "udseende", "vurdering", "flora"):
        add(f"valid-MicroscopicType-{kind}", _investigation(_microscopy(_grouping(_mtype(kind)))))
    add(
        "enum-MicroscopicType-Type-Celler", _investigation(_microscopy(_grouping(_mtype("Celler"))))
    )
    add("valid-Grouping-without-MicroscopicType", _investigation(_microscopy(_grouping())))
    add(
        "MicroscopicType-without-Type", _investigation(_microscopy(_grouping("<MicroscopicType/>")))
    )
    add(
        "Details-without-Value",
        _investigation(
            _microscopy(
                _grouping(_mtype(details=f"<Details>{_coded('Identification', 'x')}</Details>"))
            )
        ),
    )
    add("Grouping-without-Headline", _investigation(_microscopy("<Grouping/>")))
    add(
        "Grouping-Headline-plain-text",
        _investigation(_microscopy(_grouping(headline="<Headline>Gram</Headline>"))),
    )
    add(
        "MicroscopicFindings-Comments-coded-like-elsewhere",
        _investigation(_microscopy(comments=_coded("Comments", "Få leukocytter"))),
    )
    add("MicroscopicFindings-without-Comments", _investigation(_microscopy(comments="")))
    add(
        "MicroscopicFindings-Comments-without-Paragraph",
        _investigation(_microscopy(comments="<Comments/>")),
    )

    # -- free text: paragraphs only, no markup
    add("text-Break-in-Paragraph", _append("//Paragraph", _el("Break")))
    add("text-Bold-in-Paragraph", _append("//Paragraph", _el("Bold", "fed")))
    add("text-plain-in-Text", _set_leading_text(f"{IDENT}/Text", "E. coli"))
    add(
        "text-plain-in-ClinicalInformation",
        _set_leading_text(f"{REQ}/ClinicalInformation", "Feber"),
    )
    add(
        "valid-ClinicalInformation-added",
        _add_if_absent(
            REQ,
            REQ_ORDER,
            _xml("<ClinicalInformation><Paragraph>Feber</Paragraph></ClinicalInformation>"),
        ),
    )
    add("ClinicalInformation-empty", _add_if_absent(REQ, REQ_ORDER, _el("ClinicalInformation")))

    # -- unknown elements, attributes and text
    add("extra-element-Patient-Foo", _append(PATIENT, _el("Foo", "x")))
    add("extra-element-Investigation-end-Foo", _append(INV, _el("Foo", "x")))
    add("extra-foreign-element-Sender", _append(SENDER, _foreign("Note")))
    add("extra-Letter-StatusCode", _append(LETTER, _el("StatusCode", "nytbrev")))
    add("extra-attribute-Paragraph", _set_attr("//Paragraph", "lang", "da"))
    add("extra-attribute-Emessage", _set_attr(".", "version", "1"))
    add("extra-text-Sender", _set_leading_text(SENDER, "stray text"))
    return cat


def _element_paths(base: bytes) -> list[str]:
    """The distinct local-name paths (below Emessage) of a message, in document order."""
    root = etree.fromstring(base)
    paths: dict[str, None] = {}
    for el in root.iter():
        if isinstance(el.tag, str) and el is not root:
            names = [_local(a) for a in reversed(list(el.iterancestors())) if a is not root]
            paths["/".join([*names, _local(el)])] = None
    return list(paths)


def _duplicate_catalogue(base: bytes) -> list[tuple[str, Edit]]:
    """One duplicate mutant per distinct element path of the base: ``valid-dup-...`` where the
    standard lets the element repeat (``_REPEATABLE``, any ``Paragraph``), else ``dup-...``.
    Ids use the shortest path suffix that is unique within the base."""
    paths = _element_paths(base)
    split = [p.split("/") for p in paths]
    cat: list[tuple[str, Edit]] = []
    for parts in split:
        k = 2
        while k < len(parts) and sum(o[-k:] == parts[-k:] for o in split) > 1:
            k += 1
        parent = parts[-2] if len(parts) > 1 else "Emessage"
        repeatable = (parent, parts[-1]) in _REPEATABLE or parts[-1] == "Paragraph"
        label = "-".join(parts[-k:])
        cat.append((f"{'valid-' if repeatable else ''}dup-{label}", _duplicate("/".join(parts))))
    return cat


def xrpt05_mutants(base: bytes) -> list[tuple[str, bytes]]:
    """Mutants of an XRPT05 XR0532M message (``Emessage`` in namespace 2014/10/08)."""
    return _run(base, _catalogue() + _duplicate_catalogue(base))


# --------------------------------------------------------------------------------------------
# bases
# --------------------------------------------------------------------------------------------

_REPORT_STATUS = {"komplet": "komplet_svar", "delvis": "del_svar", "modtaget": "modtaget"}
_XSI = "http://www.w3.org/2001/XMLSchema-instance"


def to_xr0532m(xr0530m: bytes, *, from_lab: str = "KMA") -> bytes:
    """Convert an XRPT05 XR0530M message (namespace 2007/02/01) to XR0532M (2014/10/08).

    Moves every element to the 2014/10/08 namespace (dropping the old ``xsi:schemaLocation`` and
    processing instructions), sets VersionCode XR0532M and applies the XR0530M -> XR0532M changes:

    * ``Sender/FromLabIdentifier`` (mandatory, last child of Sender) = ``from_lab``;
    * ``GeneralResultInformation/ReportStatusCode`` (mandatory, first child), taken from the old
      ``ResultStatus`` (komplet -> komplet_svar, delvis -> del_svar, modtaget -> modtaget), which
      XR0532M dropped and which is removed;
    * ``Examination/ProducerOfLabResult`` (mandatory, after Examinator): the sender's
      EANIdentifier and ``from_lab``.

    The result keeps the source's encoding declaration (the official examples are ISO-8859-1).
    """
    src_root = etree.fromstring(xr0530m)
    encoding = src_root.getroottree().docinfo.encoding or "UTF-8"
    root = _renamespace(src_root, NS_2014)
    root.attrib.pop(f"{{{_XSI}}}schemaLocation", None)
    etree.cleanup_namespaces(root)

    def q(name: str) -> str:
        return f"{{{NS_2014}}}{name}"

    for letter in root.iterfind(q(MWR)):
        version = letter.find(f"{q('Letter')}/{q('VersionCode')}")
        if version is not None:
            version.text = "XR0532M"
        sender = letter.find(q("Sender"))
        ean = "labgw"
        if sender is not None:
            ean = sender.findtext(q("EANIdentifier")) or ean
            if sender.find(q("FromLabIdentifier")) is None:
                _append_like(sender, q("FromLabIdentifier"), from_lab)
        general = letter.find(f"{q('LaboratoryResults')}/{q('GeneralResultInformation')}")
        if general is not None and general.find(q("ReportStatusCode")) is None:
            old = general.find(q("ResultStatus"))
            status = etree.Element(q("ReportStatusCode"))
            status.text = (
                _REPORT_STATUS[(old.text or "").strip()] if old is not None else "komplet_svar"
            )
            if old is not None:
                general.remove(old)
            general.insert(0, status)
        for exam in letter.iterfind(f".//{q('Investigation')}/{q('Examination')}"):
            examinator = exam.find(q("Examinator"))
            if examinator is None or exam.find(q("ProducerOfLabResult")) is not None:
                continue
            producer = etree.Element(q("ProducerOfLabResult"))
            etree.SubElement(producer, q("Identifier")).text = ean[:17]
            etree.SubElement(producer, q("IdentifierCode")).text = from_lab
            examinator.addnext(producer)
    return etree.tostring(root, xml_declaration=True, encoding=encoding)


def _append_like(parent: Element, tag: str, text: str) -> None:
    """Append a child, keeping the indentation of the existing children."""
    prev = parent[-1] if len(parent) else None
    child = etree.SubElement(parent, tag)
    child.text = text
    if prev is not None:
        child.tail, prev.tail = prev.tail, parent.text


URINE_CULTURE = """<?xml version="1.0" encoding="UTF-8"?>
<!-- labgw test letter: XRPT05 XR0532M, general practice urine culture, E. coli > 10^5/ml,
     susceptibility to three antibiotics. Invented data (test CPR), written for labgw. -->
<Emessage xmlns="http://rep.oio.dk/medcom.dk/xml/schemas/2014/10/08/">
  <Envelope>
    <Sent><Date>2025-03-12</Date><Time>14:05</Time></Sent>
    <Identifier>LGW25031200001</Identifier>
    <AcknowledgementCode>pluspositivkvitt</AcknowledgementCode>
  </Envelope>
  <MicrobiologyWebReport>
    <Letter>
      <Identifier>MIK25031200001</Identifier>
      <VersionCode>XR0532M</VersionCode>
      <StatisticalCode>XRPT05</StatisticalCode>
      <Authorisation><Date>2025-03-12</Date><Time>14:02</Time></Authorisation>
      <TypeCode>XRPT05</TypeCode>
    </Letter>
    <Sender>
      <EANIdentifier>5790000000017</EANIdentifier>
      <Identifier>1234567</Identifier>
      <IdentifierCode>sygehusafdelingsnummer</IdentifierCode>
      <OrganisationName>Labgw Testhospital</OrganisationName>
      <DepartmentName>Klinisk Mikrobiologisk Afdeling</DepartmentName>
      <MedicalSpecialityCode>klin_mikrobiologi</MedicalSpecialityCode>
      <FromLabIdentifier>KMA</FromLabIdentifier>
    </Sender>
    <Receiver>
      <EANIdentifier>5790000000024</EANIdentifier>
      <Identifier>012345</Identifier>
      <IdentifierCode>ydernummer</IdentifierCode>
      <OrganisationName>Lægerne Testvej</OrganisationName>
      <StreetName>Testvej 1</StreetName>
      <SuburbName>Testby</SuburbName>
      <DistrictName>Testby</DistrictName>
      <PostCodeIdentifier>5000</PostCodeIdentifier>
      <Physician><PersonInitials>AB</PersonInitials></Physician>
    </Receiver>
    <Patient>
      <CivilRegistrationNumber>2512489996</CivilRegistrationNumber>
      <PersonSurnameName>Berggren</PersonSurnameName>
      <PersonGivenName>Nancy Ann</PersonGivenName>
      <Consent><Given>true</Given></Consent>
    </Patient>
    <RequisitionInformation>
      <ClinicalInformation>
        <Paragraph>Dysuri og hyppig vandladning i 3 dage. Ingen feber.</Paragraph>
      </ClinicalInformation>
      <Sample>
        <LaboratoryInternalSampleIdentifier>U25-004711</LaboratoryInternalSampleIdentifier>
        <RequesterSampleIdentifier>R4711</RequesterSampleIdentifier>
        <SamplingDateTime><Date>2025-03-10</Date><Time>08:40</Time></SamplingDateTime>
        <SampleReceivedDateTime><Date>2025-03-10</Date><Time>13:15</Time></SampleReceivedDateTime>
      </Sample>
    </RequisitionInformation>
    <LaboratoryResults>
      <GeneralResultInformation>
        <ReportStatusCode>komplet_svar</ReportStatusCode>
        <ResultStatusCode>svar_endeligt</ResultStatusCode>
        <LaboratoryInternalProductionIdentifier>U25-004711</LaboratoryInternalProductionIdentifier>
        <ResultsDateTime><Date>2025-03-12</Date><Time>14:00</Time></ResultsDateTime>
        <Summary>Signifikant bakteriuri med E. coli</Summary>
      </GeneralResultInformation>
      <Investigation>
        <Examination>
          <ExaminationTypeCode>dyrkning</ExaminationTypeCode>
          <MICAnalysisCode>100113000130420</MICAnalysisCode>
          <AnalysisCodeType>mds</AnalysisCodeType>
          <AnalysisCodeResponsible>MDS</AnalysisCodeResponsible>
          <AnalysisShortName>Urin, dyrkning og resistens</AnalysisShortName>
          <AnalysisMDSName>
            <Examination>Dyrkning og resistens</Examination>
            <Material>Urin</Material>
            <Location>Urinblære</Location>
          </AnalysisMDSName>
          <Examinator>Klinisk Mikrobiologisk Afdeling</Examinator>
          <ProducerOfLabResult>
            <Identifier>5790000000017</Identifier>
            <IdentifierCode>KMA</IdentifierCode>
          </ProducerOfLabResult>
        </Examination>
        <CultureFindings>
          <Headline>Dyrkning med fund</Headline>
          <Microorganism>
            <Identification>
              <Code>ECOLI</Code>
              <CodeType>lokal</CodeType>
              <CodeResponsible>KMA</CodeResponsible>
              <Text><Paragraph>Escherichia coli</Paragraph></Text>
            </Identification>
            <GrowthValue>
              <Text><Paragraph>&gt; 10^5 bakterier/ml</Paragraph></Text>
            </GrowthValue>
          </Microorganism>
          <Pattern>
            <Headline>Antibiotikafølsomhed</Headline>
            <Antibiotic>
              <AntibioticName>
                <Code>MEC</Code>
                <CodeType>lokal</CodeType>
                <CodeResponsible>KMA</CodeResponsible>
                <Text><Paragraph>Mecillinam</Paragraph></Text>
              </AntibioticName>
              <SusceptibilityMethod>
                <Text><Paragraph>Diskdiffusion (EUCAST)</Paragraph></Text>
              </SusceptibilityMethod>
            </Antibiotic>
            <Antibiotic>
              <AntibioticName>
                <Code>SUL</Code>
                <CodeType>lokal</CodeType>
                <CodeResponsible>KMA</CodeResponsible>
                <Text><Paragraph>Sulfamethizol</Paragraph></Text>
              </AntibioticName>
            </Antibiotic>
            <Antibiotic>
              <AntibioticName>
                <Code>NIT</Code>
                <CodeType>lokal</CodeType>
                <CodeResponsible>KMA</CodeResponsible>
                <Text><Paragraph>Nitrofurantoin</Paragraph></Text>
              </AntibioticName>
            </Antibiotic>
            <PatternEntry>
              <RefMicroorganism>1</RefMicroorganism>
              <RefAntibiotic>1</RefAntibiotic>
              <Susceptibility>S</Susceptibility>
            </PatternEntry>
            <PatternEntry>
              <RefMicroorganism>1</RefMicroorganism>
              <RefAntibiotic>2</RefAntibiotic>
              <Susceptibility>R</Susceptibility>
            </PatternEntry>
            <PatternEntry>
              <RefMicroorganism>1</RefMicroorganism>
              <RefAntibiotic>3</RefAntibiotic>
              <Susceptibility>S</Susceptibility>
              <SusceptibilityValue>
                <ReferenceInterval>
                  <TypeOfInterval>uspecificeret</TypeOfInterval>
                  <UpperLimit>64</UpperLimit>
                </ReferenceInterval>
                <Operator>lig_med</Operator>
                <Value>16</Value>
                <Unit>mg/L</Unit>
              </SusceptibilityValue>
            </PatternEntry>
            <SusceptibilityInterpretation>
              <Paragraph>S = følsom, I = følsom ved øget eksponering, R = resistent</Paragraph>
            </SusceptibilityInterpretation>
          </Pattern>
        </CultureFindings>
      </Investigation>
      <Comments>
        <Text><Paragraph>Resistent over for sulfamethizol.</Paragraph></Text>
      </Comments>
    </LaboratoryResults>
  </MicrobiologyWebReport>
</Emessage>
"""

STREP_A_ANTIGEN = """<?xml version="1.0" encoding="UTF-8"?>
<!-- labgw test letter: XRPT05 XR0532M, strep A antigen test on a throat swab (positive), culture
     still running (partial reply). Invented data (test CPR), written for labgw. -->
<Emessage xmlns="http://rep.oio.dk/medcom.dk/xml/schemas/2014/10/08/">
  <Envelope>
    <Sent><Date>2025-03-14</Date><Time>09:31</Time></Sent>
    <Identifier>LGW25031400007</Identifier>
    <AcknowledgementCode>minuspositivkvitt</AcknowledgementCode>
  </Envelope>
  <MicrobiologyWebReport>
    <Letter>
      <Identifier>MIK25031400007</Identifier>
      <VersionCode>XR0532M</VersionCode>
      <StatisticalCode>XRPT05</StatisticalCode>
      <Authorisation><Date>2025-03-14</Date><Time>09:30</Time></Authorisation>
      <TypeCode>XRPT05</TypeCode>
    </Letter>
    <Sender>
      <EANIdentifier>5790000000017</EANIdentifier>
      <Identifier>1234567</Identifier>
      <IdentifierCode>sygehusafdelingsnummer</IdentifierCode>
      <OrganisationName>Labgw Testhospital</OrganisationName>
      <DepartmentName>Klinisk Mikrobiologisk Afdeling</DepartmentName>
      <UnitName>Hurtigdiagnostik</UnitName>
      <MedicalSpecialityCode>klin_mikrobiologi</MedicalSpecialityCode>
      <FromLabIdentifier>KMA</FromLabIdentifier>
    </Sender>
    <Receiver>
      <EANIdentifier>5790000000031</EANIdentifier>
      <Identifier>123456789012345</Identifier>
      <IdentifierCode>sorkode</IdentifierCode>
      <OrganisationName>Lægehuset Prøvegade</OrganisationName>
    </Receiver>
    <CCReceiver>
      <Identifier>054321</Identifier>
      <IdentifierCode>ydernummer</IdentifierCode>
      <OrganisationName>Vagtlægen</OrganisationName>
    </CCReceiver>
    <Patient>
      <CivilRegistrationNumber>0101010000</CivilRegistrationNumber>
      <PersonSurnameName>Testesen</PersonSurnameName>
      <PersonGivenName>Tim</PersonGivenName>
    </Patient>
    <RequisitionInformation>
      <Comments>
        <Text><Paragraph>Halsbetændelse, feber 39 grader.</Paragraph></Text>
      </Comments>
      <Sample>
        <LaboratoryInternalSampleIdentifier>S25-000815</LaboratoryInternalSampleIdentifier>
        <SamplingDateTime><Date>2025-03-13</Date><Time>15:10</Time></SamplingDateTime>
        <SampleReceivedDateTime><Date>2025-03-14</Date><Time>07:55</Time></SampleReceivedDateTime>
      </Sample>
    </RequisitionInformation>
    <LaboratoryResults>
      <GeneralResultInformation>
        <ReportStatusCode>del_svar</ReportStatusCode>
        <ResultStatusCode>svar_midlertidigt</ResultStatusCode>
        <ToLabIdentifier>KMA</ToLabIdentifier>
        <LaboratoryInternalProductionIdentifier>S25-000815</LaboratoryInternalProductionIdentifier>
        <ResultsDateTime><Date>2025-03-14</Date><Time>09:28</Time></ResultsDateTime>
      </GeneralResultInformation>
      <Investigation>
        <Examination>
          <ExaminationTypeCode>maalemetode</ExaminationTypeCode>
          <MICAnalysisCode>STREPA-AG</MICAnalysisCode>
          <AnalysisCodeType>lokal</AnalysisCodeType>
          <AnalysisCodeResponsible>KMA</AnalysisCodeResponsible>
          <AnalysisShortName>Strep A antigen</AnalysisShortName>
          <AnalysisMDSName>
            <Examination>Streptokok gruppe A antigen</Examination>
            <Material>Podning</Material>
            <Location>Svælg</Location>
          </AnalysisMDSName>
          <SupplementaryLocation>Tonsiller</SupplementaryLocation>
          <Examinator>Klinisk Mikrobiologisk Afdeling</Examinator>
          <ProducerOfLabResult>
            <Identifier>5790000000017</Identifier>
            <IdentifierCode>KMA</IdentifierCode>
          </ProducerOfLabResult>
          <Summary>Positiv</Summary>
        </Examination>
        <QuantitativeFindings>
          <AnalysisFindings>
            <Analysis>
              <Code>STREPA</Code>
              <CodeType>lokal</CodeType>
              <CodeResponsible>KMA</CodeResponsible>
              <Text><Paragraph>Streptococcus pyogenes (gruppe A), antigen</Paragraph></Text>
            </Analysis>
            <Findings>
              <InterPretation>
                <Code>POS</Code>
                <CodeType>lokal</CodeType>
                <CodeResponsible>KMA</CodeResponsible>
                <Text><Paragraph>Positiv</Paragraph></Text>
              </InterPretation>
              <ReferenceInterval>
                <IntervalText>Negativ</IntervalText>
              </ReferenceInterval>
              <ResultValidation>unormal</ResultValidation>
              <Comments>
                <Text><Paragraph>Hurtigtest (immunkromatografi).</Paragraph></Text>
              </Comments>
            </Findings>
          </AnalysisFindings>
          <Comments>
            <Text><Paragraph>Negativ hurtigtest udelukker ikke infektion.</Paragraph></Text>
          </Comments>
        </QuantitativeFindings>
      </Investigation>
      <Investigation>
        <Examination>
          <ExaminationTypeCode>dyrkning</ExaminationTypeCode>
          <MICAnalysisCode>STREP-D</MICAnalysisCode>
          <AnalysisCodeType>lokal</AnalysisCodeType>
          <AnalysisCodeResponsible>KMA</AnalysisCodeResponsible>
          <AnalysisMDSName>
            <Examination>Dyrkning for hæmolytiske streptokokker</Examination>
            <Material>Podning</Material>
            <Location>Svælg</Location>
          </AnalysisMDSName>
          <Examinator>Klinisk Mikrobiologisk Afdeling</Examinator>
          <ProducerOfLabResult>
            <Identifier>5790000000017</Identifier>
            <IdentifierCode>KMA</IdentifierCode>
          </ProducerOfLabResult>
        </Examination>
        <CultureFindings>
          <Headline>Dyrkning igangsat</Headline>
          <Comments>
            <Text><Paragraph>Svar følger.</Paragraph></Text>
          </Comments>
        </CultureFindings>
      </Investigation>
    </LaboratoryResults>
  </MicrobiologyWebReport>
</Emessage>
"""


def _all_elements(base: bytes) -> bytes:
    """``base`` (the urine culture) with every optional XR0532M element present at least once, so
    that the missing / duplicate mutants reach every element of the content model."""
    cc = (
        "<CCReceiver><Identifier>054321</Identifier><IdentifierCode>ydernummer</IdentifierCode>"
        "<OrganisationName>Vagtlægen</OrganisationName><DepartmentName>Akutklinik</DepartmentName>"
        "<UnitName>Visitation</UnitName></CCReceiver>"
    )
    quantitative = (
        f"<QuantitativeFindings>{_INTERP}<AnalysisFindings>{_coded('Analysis', 'Leukocytter')}"
        f"<Findings>{_FULL_FINDINGS.replace(_URL_REF, _URL_REF + _BIN_REF)}</Findings>"
        "</AnalysisFindings>"
        f"{_coded('Comments', 'Urinstix')}</QuantitativeFindings>"
    )
    cell = _cell(
        "<ReferenceInterval><TypeOfInterval>uspecificeret</TypeOfInterval><LowerLimit>0</LowerLimit>"
        "<UpperLimit>64</UpperLimit><IntervalText>Brydepunkt 64 mg/L</IntervalText>"
        "</ReferenceInterval><Operator>lig_med</Operator><Value>16</Value><Unit>mg/L</Unit>"
        "<Reference><RefDescription>EUCAST</RefDescription><SUP>true</SUP></Reference>"
        f"{_coded('Comments', 'MIC ved gradienttest')}"
    )
    microscopy = _microscopy(
        _grouping(_mtype("celler", _DETAILS) + _mtype("mikroorganisme")),
        "<Comments><Paragraph>Mange leukocytter</Paragraph><Paragraph/></Comments>",
    )
    steps: list[Edit] = [
        _insert_after(f"{SENDER}/DepartmentName", _el("UnitName", "Urinlaboratoriet")),
        _insert_after(f"{RECEIVER}/OrganisationName", _el("DepartmentName", "Almen praksis")),
        _insert_after(f"{RECEIVER}/DepartmentName", _el("UnitName", "Konsultation 2")),
        _insert_ordered(MWR, LETTER_ORDER, _xml(cc)),
        _insert_ordered(REQ, REQ_ORDER, _xml(_coded("Comments", "Midtstråleurin", "MSU"))),
        _insert_ordered(GENERAL, GENERAL_ORDER, _el("ToLabIdentifier", "KMA")),
        _insert_ordered(EXAM, EXAM_ORDER, _el("SupplementaryLocation", "Midtstråle")),
        _insert_ordered(EXAM, EXAM_ORDER, _el("Summary", "E. coli over 10^5/ml")),
        _insert_ordered(INV, INV_ORDER, _xml(quantitative)),
        _insert_ordered(MO, ORGANISM_ORDER, _xml(_coded("SpeciesComment", "Ikke ESBL", "NESBL"))),
        _replace(CELL, _xml(cell)),
        _insert_ordered(CF, CF_ORDER, _xml(_coded("Comments", "Renkultur"))),
        _insert_ordered(INV, INV_ORDER, _xml(microscopy)),
    ]
    doc = _Doc(base)
    for step in steps:
        if not step(doc):
            raise ValueError("all-elements base: a step did not apply")
    return doc.tobytes()


def xrpt05_bases(reference_dir: Path) -> list[tuple[str, bytes]]:
    """Valid XR0532M base messages.

    * ``6092035412-XR0532M``: MedCom's official XR0530M example ``6092035412.xml`` (namespace
      2007/02/01, ISO-8859-1) converted with :func:`to_xr0532m`;
    * ``urine-culture-ecoli``: general-practice urine culture, E. coli > 10^5/ml, susceptibility
      to three antibiotics (one with an MIC value);
    * ``strep-a-antigen``: strep A antigen test (QuantitativeFindings, positive) plus a culture
      still running;
    * ``urine-culture-all-elements``: the urine culture with every optional element added once
      (CCReceiver, quantitative findings with every Findings child, microscopy with Grouping,
      ...), so that every element of the content model is reached by some mutant.

    ``reference_dir`` is the shared reference folder (the one holding ``medcom-xml/``).
    """
    example = Path(reference_dir) / "medcom-xml" / "examples" / "xrpt05" / "6092035412.xml"
    return [
        ("6092035412-XR0532M", to_xr0532m(example.read_bytes())),
        ("urine-culture-ecoli", URINE_CULTURE.encode("utf-8")),
        ("strep-a-antigen", STREP_A_ANTIGEN.encode("utf-8")),
        ("urine-culture-all-elements", _all_elements(URINE_CULTURE.encode("utf-8"))),
    ]
