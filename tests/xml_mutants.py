"""Mutants of MedCom XML messages, for checking labgw's schemas against the official MedCom set.

Plain helper module (no tests here). Every mutant is a well-formed XML document derived from a
base message by one small edit. Ids are readable; ids starting with ``valid-`` are edits that the
standard allows (the test suite checks that label against the official schema too), every other
id names an edit that the standard forbids.

* :func:`mutants` - XRPT01 ``LaboratoryReport`` XR0131K (namespace 2014/10/08).
* :func:`xr0131k_variants` - the valid XR0131K bases: the derived example plus XR0131K versions of
  MedCom's official test messages RPT01_2 / RPT01_3 (XR0130K, namespace 2007/02/01).
* :func:`receipt_mutants` - XCTL02 ``NegativeReceipt`` / XCTL03 ``PositiveReceipt`` (2005/08/07).

An edit that does not apply to a given base (the element it needs is absent) is skipped, so the
same catalogue works for every base.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

from lxml import etree

NS_2014 = "http://rep.oio.dk/medcom.dk/xml/schemas/2014/10/08/"
NS_2007 = "http://rep.oio.dk/sundcom.dk/medcom.dk/xml/schemas/2007/02/01/"
NS_2005 = "http://rep.oio.dk/sundcom.dk/medcom.dk/xml/schemas/2005/08/07/"
FOREIGN_NS = "urn:labgw:test:foreign"

Element = etree._Element


class _Doc:
    """A fresh parse of the base message with small path helpers.

    Paths are relative to the root ``Emessage`` and use local names: ``"A/B/C"`` is the first
    ``C`` under the first ``B`` ...; ``"//C"`` is the first ``C`` anywhere. All names are in the
    base message's own namespace.
    """

    def __init__(self, base: bytes) -> None:
        self.root: Element = etree.fromstring(base)
        self.ns: str = etree.QName(self.root).namespace or ""
        self.encoding: str = self.root.getroottree().docinfo.encoding or "UTF-8"
        # byte-level edits applied after serialisation (for what lxml cannot express, such as an
        # un-namespaced element inside a default-namespace scope)
        self.post: list[Callable[[bytes], bytes]] = []

    def q(self, name: str) -> str:
        return f"{{{self.ns}}}{name}"

    def _xpath(self, path: str) -> str:
        if path.startswith("//"):
            return ".//" + self.q(path[2:])
        return "/".join(self.q(part) for part in path.split("/"))

    def get(self, path: str) -> Element | None:
        return self.root.find(self._xpath(path))

    def all(self, path: str) -> list[Element]:
        return self.root.findall(self._xpath(path))

    def new(self, name: str, text: str | None = None, *children: Element) -> Element:
        el = etree.Element(self.q(name))
        el.text = text
        el.extend(children)
        return el

    def tobytes(self) -> bytes:
        data = etree.tostring(self.root.getroottree(), xml_declaration=True, encoding=self.encoding)
        for step in self.post:
            data = step(data)
        etree.fromstring(data)  # every mutant must stay well-formed
        return data


Edit = Callable[[_Doc], bool]
Maker = Callable[[_Doc], Element]


def _run(base: bytes, catalogue: Sequence[tuple[str, Edit]]) -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    seen: set[str] = set()
    for mutant_id, edit in catalogue:
        if mutant_id in seen:
            raise ValueError(f"duplicate mutant id {mutant_id}")
        seen.add(mutant_id)
        doc = _Doc(base)
        if edit(doc):
            out.append((mutant_id, doc.tobytes()))
    return out


def _local(el: Element) -> str:
    return etree.QName(el).localname


def _label(path: str) -> str:
    """Readable id fragment: drop the wrapper levels, join with '-'."""
    parts = path.lstrip("/").split("/")
    wrappers = {
        "LaboratoryReport",
        "LaboratoryResults",
        "RequisitionInformation",
        "OriginalEmessage",
    }
    kept = [p for i, p in enumerate(parts) if p not in wrappers or i == len(parts) - 1]
    return "-".join(kept)


# --------------------------------------------------------------------------------------------
# generic edits
# --------------------------------------------------------------------------------------------


def _remove(path: str, *, only_if_any: Sequence[str] = ()) -> Edit:
    """Remove the element at ``path`` (if ``only_if_any`` is given, only when one of those
    siblings exists)."""

    def edit(d: _Doc) -> bool:
        el = d.get(path)
        if el is None:
            return False
        parent = el.getparent()
        if parent is None:
            return False
        if only_if_any and not any(parent.find(d.q(n)) is not None for n in only_if_any):
            return False
        parent.remove(el)
        return True

    return edit


def _remove_all(path: str) -> Edit:
    def edit(d: _Doc) -> bool:
        els = d.all(path)
        if not els:
            return False
        for el in els:
            parent = el.getparent()
            assert parent is not None
            parent.remove(el)
        return True

    return edit


def _set_text(path: str, value: str) -> Edit:
    def edit(d: _Doc) -> bool:
        el = d.get(path)
        if el is None or (el.text == value and len(el) == 0):
            return False  # absent, or already has this value (the edit would be a no-op)
        for child in list(el):
            el.remove(child)
        el.text = value
        return True

    return edit


def _duplicate(path: str) -> Edit:
    def edit(d: _Doc) -> bool:
        el = d.get(path)
        if el is None:
            return False
        el.addnext(etree.fromstring(etree.tostring(el)))
        return True

    return edit


def _move(path: str, anchor: str, *, before: bool) -> Edit:
    """Move the element at ``path`` next to the element at ``anchor``."""

    def edit(d: _Doc) -> bool:
        el, ref = d.get(path), d.get(anchor)
        if el is None or ref is None or el is ref:
            return False
        if before:
            ref.addprevious(el)
        else:
            ref.addnext(el)
        return True

    return edit


def _rename(path: str, new_tag: Callable[[_Doc, Element], str], *, subtree: bool = False) -> Edit:
    def edit(d: _Doc) -> bool:
        el = d.root if path == "." else d.get(path)
        if el is None:
            return False
        targets = list(el.iter()) if subtree else [el]
        for t in targets:
            if isinstance(t.tag, str):
                t.tag = new_tag(d, t)
        return True

    return edit


def _unqualify(which: str) -> Edit:
    """Take elements out of the default namespace at byte level.

    ``which`` is ``"all"`` (drop the default namespace declaration), ``"root"`` (only the root
    element loses its namespace; the rest is bound to a prefix) or a local name (the first such
    element gets ``xmlns=""``).
    """

    def edit(d: _Doc) -> bool:
        decl = f' xmlns="{d.ns}"'.encode()
        if d.root.nsmap.get(None) != d.ns:
            return False
        if which == "all":
            d.post.append(lambda data: data.replace(decl, b"", 1))
        elif which == "root":
            root = _local(d.root).encode()

            def prefix_rest(data: bytes) -> bytes:
                data = data.replace(decl, f' xmlns:m="{d.ns}"'.encode(), 1)
                return re.sub(rb"<(/?)(?!" + root + rb"\b)([A-Za-z_][\w.-]*)", rb"<\1m:\2", data)

            d.post.append(prefix_rest)
        else:
            if d.get(f"//{which}") is None:
                return False
            tag = f"<{which}>".encode()
            d.post.append(lambda data: data.replace(tag, f'<{which} xmlns="">'.encode(), 1))
        return True

    return edit


def _to_ns(ns: str | None) -> Callable[[_Doc, Element], str]:
    def tag(_d: _Doc, el: Element) -> str:
        return f"{{{ns}}}{_local(el)}" if ns else _local(el)

    return tag


def _insert_ordered(parent_path: str, order: Sequence[Sequence[str]], make: Maker) -> Edit:
    """Insert a new child at its place in ``order`` (a sequence of ranks; names in one rank are
    alternatives / interleaved), i.e. after the last existing child of the same or lower rank."""
    rank = {name: i for i, names in enumerate(order) for name in names}

    def edit(d: _Doc) -> bool:
        parent = d.get(parent_path)
        if parent is None:
            return False
        new = make(d)
        new_rank = rank[_local(new)]
        pos = 0
        for i, child in enumerate(parent):
            if isinstance(child.tag, str) and rank.get(_local(child), len(order)) <= new_rank:
                pos = i + 1
        parent.insert(pos, new)
        return True

    return edit


def _replace(path: str, make: Maker) -> Edit:
    def edit(d: _Doc) -> bool:
        el = d.get(path)
        if el is None:
            return False
        new = make(d)
        new.tail = el.tail
        parent = el.getparent()
        assert parent is not None
        parent.replace(el, new)
        return True

    return edit


def _append(path: str, make: Maker) -> Edit:
    def edit(d: _Doc) -> bool:
        el = d.root if path == "." else d.get(path)
        if el is None:
            return False
        el.append(make(d))
        return True

    return edit


def _chain(*edits: Edit) -> Edit:
    """All edits must apply (stops at the first that does not)."""

    def edit(d: _Doc) -> bool:
        return all(e(d) for e in edits)

    return edit


def _set_attr(path: str, name: str, value: str) -> Edit:
    def edit(d: _Doc) -> bool:
        el = d.root if path == "." else d.get(path)
        if el is None:
            return False
        el.set(name, value)
        return True

    return edit


def _set_leading_text(path: str, text: str) -> Edit:
    def edit(d: _Doc) -> bool:
        el = d.get(path)
        if el is None:
            return False
        el.text = text
        return True

    return edit


def _repeat(path: str, total: int) -> Edit:
    """Make exactly ``total`` copies of the first element at ``path`` (replacing its siblings of
    the same name)."""

    def edit(d: _Doc) -> bool:
        els = d.all(path)
        if not els:
            return False
        first = els[0]
        for extra in els[1:]:
            parent = extra.getparent()
            assert parent is not None
            parent.remove(extra)
        raw = etree.tostring(first)
        for _ in range(total - 1):
            first.addnext(etree.fromstring(raw))
        return True

    return edit


def _insert(path: str, make: Maker, *, after: bool) -> Edit:
    def edit(d: _Doc) -> bool:
        el = d.get(path)
        if el is None:
            return False
        (el.addnext if after else el.addprevious)(make(d))
        return True

    return edit


def _insert_after(path: str, make: Maker) -> Edit:
    return _insert(path, make, after=True)


def _insert_before(path: str, make: Maker) -> Edit:
    return _insert(path, make, after=False)


def _add_to_patient_after_names(make: Maker) -> Edit:
    """Insert right after the names (where the general MedCom PatientType has its address)."""

    def edit(d: _Doc) -> bool:
        for name in ("PersonGivenName", "PersonSurnameName"):
            el = d.get(f"{PATIENT}/{name}")
            if el is not None:
                el.addnext(make(d))
                return True
        return False

    return edit


def _el(name: str, text: str | None = None, *children: Maker) -> Maker:
    def make(d: _Doc) -> Element:
        return d.new(name, text, *(c(d) for c in children))

    return make


def _foreign(name: str) -> Maker:
    def make(_d: _Doc) -> Element:
        return etree.Element(f"{{{FOREIGN_NS}}}{name}")

    return make


def _xml(fragment: str) -> Maker:
    """Parse a fragment written without namespace, then move it into the document namespace."""

    def make(d: _Doc) -> Element:
        el = etree.fromstring(fragment)
        for node in el.iter():
            if isinstance(node.tag, str):
                node.tag = d.q(node.tag)
        return el

    return make


# --------------------------------------------------------------------------------------------
# XRPT01 XR0131K
# --------------------------------------------------------------------------------------------

LR = "LaboratoryReport"
LETTER = f"{LR}/Letter"
SENDER = f"{LR}/Sender"
RECEIVER = f"{LR}/Receiver"
PATIENT = f"{LR}/Patient"
REQ = f"{LR}/RequisitionInformation"
SAMPLE = f"{REQ}/Sample"
RESULTS = f"{LR}/LaboratoryResults"
GENERAL = f"{RESULTS}/GeneralResultInformation"
RESULT = f"{RESULTS}/Result"
ANALYSIS = f"{RESULT}/Analysis"
PRODUCER = f"{RESULT}/ProducerOfLabResult"
REFINT = f"{RESULT}/ReferenceInterval"

LETTER_ORDER = [
    ["Letter"],
    ["Sender"],
    ["Receiver"],
    ["CCReceiver"],
    ["Patient"],
    ["RequisitionInformation"],
    ["LaboratoryResults"],
]
SENDER_ORDER = [
    ["EANIdentifier"],
    ["Identifier"],
    ["IdentifierCode", "IdentifierLocal"],
    ["OrganisationName"],
    ["DepartmentName"],
    ["UnitName"],
    ["MedicalSpecialityCode"],
    ["FromLabIdentifier"],
]
PATIENT_ORDER = [
    ["CivilRegistrationNumber", "AlternativeIdentifier"],
    ["PersonSurnameName"],
    ["PersonGivenName"],
    ["Consent"],
]
REQ_ORDER = [["Comments"], ["Sample"]]
SAMPLE_ORDER = [
    ["LaboratoryInternalSampleIdentifier"],
    ["RequesterSampleIdentifier"],
    ["SamplingDateTime"],
    ["Volume"],
    ["UnitOfVolume"],
    ["SamplingInterval"],
]
ANALYSIS_ORDER = [
    ["AnalysisCode"],
    ["AnalysisCodeType"],
    ["AnalysisCodeResponsible"],
    ["AnalysisShortName"],
    ["AnalysisCompleteName"],
    ["RequisitionGroup"],
    ["Order"],
]
RESULT_ORDER = [
    ["ResultStatusCode"],
    ["Analysis"],
    ["ProducerOfLabResult"],
    ["ReferenceInterval"],
    ["ResultType"],
    ["Operator"],
    ["Value"],
    ["Unit"],
    ["ResultValidation"],
    ["ResultTextValue", "ResultComments"],
    ["Reference"],
    ["ToLabIdentifier"],
]

_MISSING_REQUIRED = [
    "Envelope",
    "Envelope/Sent",
    "Envelope/Sent/Date",
    "Envelope/Sent/Time",
    "Envelope/Identifier",
    "Envelope/AcknowledgementCode",
    LR,
    LETTER,
    f"{LETTER}/Identifier",
    f"{LETTER}/VersionCode",
    f"{LETTER}/StatisticalCode",
    f"{LETTER}/Authorisation",
    f"{LETTER}/TypeCode",
    SENDER,
    f"{SENDER}/EANIdentifier",
    f"{SENDER}/Identifier",
    f"{SENDER}/IdentifierCode",
    f"{SENDER}/OrganisationName",
    f"{SENDER}/FromLabIdentifier",
    RECEIVER,
    f"{RECEIVER}/EANIdentifier",
    f"{RECEIVER}/Identifier",
    f"{RECEIVER}/IdentifierCode",
    f"{RECEIVER}/Physician/PersonInitials",
    PATIENT,
    f"{PATIENT}/CivilRegistrationNumber",
    f"{PATIENT}/PersonSurnameName",
    REQ,
    SAMPLE,
    f"{SAMPLE}/LaboratoryInternalSampleIdentifier",
    f"{SAMPLE}/SamplingDateTime",
    f"{SAMPLE}/SamplingDateTime/Time",
    RESULTS,
    GENERAL,
    f"{GENERAL}/ReportStatusCode",
    f"{GENERAL}/LaboratoryInternalProductionIdentifier",
    f"{GENERAL}/ResultsDateTime",
    f"{RESULT}/ResultStatusCode",
    ANALYSIS,
    f"{ANALYSIS}/AnalysisCode",
    f"{ANALYSIS}/AnalysisCodeType",
    f"{ANALYSIS}/AnalysisCodeResponsible",
    f"{ANALYSIS}/AnalysisCompleteName",
    PRODUCER,
    f"{PRODUCER}/Identifier",
    f"{PRODUCER}/IdentifierCode",
    f"{RESULT}/ResultType",
    f"{RESULT}/Value",
]

_OPTIONAL = [
    f"{SENDER}/DepartmentName",
    f"{SENDER}/MedicalSpecialityCode",
    f"{RECEIVER}/OrganisationName",
    f"{RECEIVER}/DepartmentName",
    f"{RECEIVER}/StreetName",
    f"{RECEIVER}/DistrictName",
    f"{RECEIVER}/PostCodeIdentifier",
    f"{RECEIVER}/Physician",
    f"{PATIENT}/PersonGivenName",
    f"{SAMPLE}/RequesterSampleIdentifier",
    f"{ANALYSIS}/AnalysisShortName",
    REFINT,
    f"{REFINT}/LowerLimit",
    f"{REFINT}/UpperLimit",
    f"{RESULT}/Unit",
    "//Operator",
    "//ResultValidation",
    "//ResultComments",
]

# (path, id, wrong value) - one per enumerated / fixed-value element of XR0131K
_BAD_ENUM = [
    ("Envelope/AcknowledgementCode", "AcknowledgementCode", "positivkvitt"),
    (f"{LETTER}/VersionCode", "VersionCode", "XR0130K"),
    (f"{LETTER}/TypeCode", "TypeCode", "XRPT02"),
    (f"{SENDER}/IdentifierCode", "Sender-IdentifierCode", "amt"),
    (f"{SENDER}/MedicalSpecialityCode", "MedicalSpecialityCode", "klin_kemi"),
    (f"{RECEIVER}/IdentifierCode", "Receiver-IdentifierCode", "lokal_kode"),
    (f"{GENERAL}/ReportStatusCode", "ReportStatusCode", "annulleret"),
    (f"{RESULT}/ResultStatusCode", "ResultStatusCode", "svar_annulleret"),
    (f"{ANALYSIS}/AnalysisCodeType", "AnalysisCodeType", "miba"),
    ("//TypeOfInterval", "TypeOfInterval", "normal"),
    (f"{RESULT}/ResultType", "ResultType", "tekst"),
    ("//Operator", "Operator", "lig_med"),
    ("//ResultValidation", "ResultValidation", "for_hoj"),
]

_GOOD_ENUM = [
    (f"{SENDER}/MedicalSpecialityCode", "MedicalSpecialityCode", "almen_medicin"),
    (f"{SENDER}/MedicalSpecialityCode", "MedicalSpecialityCode", "fodbehandlking"),
    (f"{SENDER}/MedicalSpecialityCode", "MedicalSpecialityCode", "vagtlaegehjaelp_kbh"),
    (f"{SENDER}/IdentifierCode", "Sender-IdentifierCode", "sorkode"),
    (f"{RECEIVER}/IdentifierCode", "Receiver-IdentifierCode", "lokationsnummer"),
    ("Envelope/AcknowledgementCode", "AcknowledgementCode", "minuspositivkvitt"),
    ("Envelope/AcknowledgementCode", "AcknowledgementCode", "pluspositivkvitt"),
    (f"{GENERAL}/ReportStatusCode", "ReportStatusCode", "del_svar"),
    (f"{GENERAL}/ReportStatusCode", "ReportStatusCode", "modtaget"),
    (f"{RESULT}/ResultStatusCode", "ResultStatusCode", "proeve_modtaget"),
    (f"{RESULT}/ResultStatusCode", "ResultStatusCode", "svar_midlertidigt"),
    (f"{ANALYSIS}/AnalysisCodeType", "AnalysisCodeType", "lokal"),
    (f"{ANALYSIS}/AnalysisCodeType", "AnalysisCodeType", "mds"),
    ("//TypeOfInterval", "TypeOfInterval", "terapeutisk"),
    (f"{RESULT}/ResultType", "ResultType", "alfanumerisk"),
    ("//ResultValidation", "ResultValidation", "unormal"),
]

# (path, id, maximum length): one character more is invalid, the maximum itself is valid
_MAX_LENGTH = [
    (f"{RESULT}/Value", "Value", 12),
    (f"{RESULT}/Unit", "Unit", 16),
    (f"{ANALYSIS}/AnalysisCode", "AnalysisCode", 8),
    ("Envelope/Identifier", "Envelope-Identifier", 14),
    (f"{LETTER}/Identifier", "Letter-Identifier", 14),
    (f"{LETTER}/StatisticalCode", "StatisticalCode", 8),
    (f"{SENDER}/EANIdentifier", "Sender-EANIdentifier", 35),
    (f"{SENDER}/Identifier", "Sender-Identifier", 17),
    (f"{SENDER}/OrganisationName", "Sender-OrganisationName", 35),
    (f"{SENDER}/FromLabIdentifier", "FromLabIdentifier", 3),
    (f"{RECEIVER}/PostCodeIdentifier", "PostCodeIdentifier", 9),
    (f"{RECEIVER}/Physician/PersonInitials", "PersonInitials", 17),
    (f"{PATIENT}/PersonSurnameName", "PersonSurnameName", 70),
    (f"{PATIENT}/PersonGivenName", "PersonGivenName", 70),
    (f"{SAMPLE}/LaboratoryInternalSampleIdentifier", "LaboratoryInternalSampleIdentifier", 20),
    (f"{SAMPLE}/RequesterSampleIdentifier", "RequesterSampleIdentifier", 15),
    (f"{GENERAL}/LaboratoryInternalProductionIdentifier", "ProductionIdentifier", 35),
    (f"{ANALYSIS}/AnalysisCodeResponsible", "AnalysisCodeResponsible", 3),
    (f"{ANALYSIS}/AnalysisShortName", "AnalysisShortName", 35),
    (f"{PRODUCER}/Identifier", "ProducerOfLabResult-Identifier", 35),
    (f"{PRODUCER}/IdentifierCode", "ProducerOfLabResult-IdentifierCode", 3),
    ("//LowerLimit", "LowerLimit", 12),
    ("//UpperLimit", "UpperLimit", 12),
]

# required strings with no length list entry above: an empty value is invalid
_EMPTY_REQUIRED = ["Envelope/Sent/Date", "Envelope/Sent/Time", f"{LETTER}/VersionCode"]

_BAD_DATES = [
    ("Envelope/Sent/Date", "Sent", "2025-13-01"),
    ("Envelope/Sent/Date", "Sent", "2025-02-30"),
    ("Envelope/Sent/Date", "Sent", "2023-02-29"),
    (f"{SAMPLE}/SamplingDateTime/Date", "SamplingDateTime", "27-08-1998"),
    (f"{LETTER}/Authorisation/Date", "Authorisation", "20000116"),
]
_BAD_TIMES = [
    ("Envelope/Sent/Time", "Sent", "25:00"),
    ("Envelope/Sent/Time", "Sent", "12:5"),
    ("Envelope/Sent/Time", "Sent", "12:00:00"),
    ("Envelope/Sent/Time", "Sent", "24:00"),
    ("Envelope/Sent/Time", "Sent", "12:60"),
    (f"{GENERAL}/ResultsDateTime/Time", "ResultsDateTime", "12.00"),
    (f"{LETTER}/Authorisation/Time", "Authorisation", "1252"),
    (f"{SAMPLE}/SamplingDateTime/Time", "SamplingDateTime", "06:30+01:00"),
]
_GOOD_DATETIMES = [
    ("Envelope/Sent/Date", "date-Sent-leap-day", "2024-02-29"),
    ("Envelope/Sent/Date", "date-Sent-with-timezone", "2025-01-16+01:00"),
    ("Envelope/Sent/Time", "time-Sent-23-59", "23:59"),
    ("Envelope/Sent/Time", "time-Sent-00-00", "00:00"),
]

_DUPLICATES = [
    "Envelope",
    LETTER,
    SENDER,
    RECEIVER,
    PATIENT,
    f"{PATIENT}/CivilRegistrationNumber",
    f"{SENDER}/FromLabIdentifier",
    GENERAL,
    f"{GENERAL}/ReportStatusCode",
    f"{RESULT}/Value",
    f"{RESULT}/Unit",
    "Envelope/Sent/Time",
    SAMPLE,
    f"{ANALYSIS}/AnalysisCode",
]

_TEXT_RICH = (
    "<ResultTextValue>Plain <Bold>bold<Break/></Bold><Italic>it</Italic><Underline>u</Underline>"
    "<Right>r</Right><Center>c<Space/></Center><FixedFont>mono <Bold>b</Bold><Space/></FixedFont>"
    "<Break/>end</ResultTextValue>"
)

_BIN_REF = (
    "<Reference><RefDescription>Kurve</RefDescription><BIN>"
    "<ObjectIdentifier>{uuid}</ObjectIdentifier><ObjectCode>{code}</ObjectCode>"
    "<ObjectExtensionCode>{ext}</ObjectExtensionCode><OriginalObjectSize>{size}</OriginalObjectSize>"
    "</BIN></Reference>"
)
_UUID = "0f8fad5b-d9cb-469f-a165-70867728950e"


def _bin_ref(
    uuid: str = _UUID, code: str = "billede", ext: str = "png", size: str = "2048"
) -> Maker:
    return _xml(_BIN_REF.format(uuid=uuid, code=code, ext=ext, size=size))


def _url_ref(url: str = "https://lab.example/r/1") -> Maker:
    return _xml(f"<Reference><RefDescription>Rapport</RefDescription><URL>{url}</URL></Reference>")


def _add_to_result(make: Maker) -> Edit:
    return _insert_ordered(RESULT, RESULT_ORDER, make)


def _add_to_patient(make: Maker) -> Edit:
    return _insert_ordered(PATIENT, PATIENT_ORDER, make)


def _add_to_analysis(make: Maker) -> Edit:
    return _insert_ordered(ANALYSIS, ANALYSIS_ORDER, make)


def _add_to_sample(make: Maker) -> Edit:
    return _insert_ordered(SAMPLE, SAMPLE_ORDER, make)


def _consent(value: str) -> Maker:
    return _el("Consent", None, _el("Given", value))


def _cc_receiver(*, with_ean: bool = False, code: str = "ydernummer") -> Maker:
    ean = "<EANIdentifier>5790000125029</EANIdentifier>" if with_ean else ""
    return _xml(
        f"<CCReceiver>{ean}<Identifier>123456</Identifier><IdentifierCode>{code}</IdentifierCode>"
        "<OrganisationName>Kopi Laegehus</OrganisationName></CCReceiver>"
    )


def _requisition_group(identifier: str = "GRP1") -> Maker:
    return _xml(
        f"<RequisitionGroup><Identifier>{identifier}</Identifier>"
        "<IdentifierResponsible>SVB</IdentifierResponsible><Name>Nyrepakke</Name></RequisitionGroup>"
    )


def _texts(total: int) -> Edit:
    """Replace the first Result's texts by ``total`` ResultTextValue/ResultComments."""

    def edit(d: _Doc) -> bool:
        res = d.get(RESULT)
        if res is None:
            return False
        for child in list(res):
            if isinstance(child.tag, str) and _local(child) in (
                "ResultTextValue",
                "ResultComments",
            ):
                res.remove(child)
        for i in range(total):
            name = "ResultTextValue" if i % 2 else "ResultComments"
            add = _add_to_result(_xml(f"<{name}>Tekst {i}<Break/></{name}>"))
            add(d)
        return True

    return edit


def _references(total: int) -> Edit:
    def edit(d: _Doc) -> bool:
        if d.get(RESULT) is None:
            return False
        for i in range(total):
            _add_to_result(_url_ref(f"https://lab.example/r/{i}"))(d)
        return True

    return edit


def _lab_catalogue() -> list[tuple[str, Edit]]:
    cat: list[tuple[str, Edit]] = []

    def add(mutant_id: str, edit: Edit) -> None:
        cat.append((mutant_id, edit))

    # -- required elements removed (invalid) / optional elements removed (valid)
    for path in _MISSING_REQUIRED:
        add(f"missing-{_label(path)}", _remove(path))
    add("missing-Result", _remove_all(RESULT))
    add(
        "missing-ReferenceInterval-TypeOfInterval",
        _remove(f"{REFINT}/TypeOfInterval", only_if_any=("LowerLimit", "UpperLimit")),
    )
    for path in _OPTIONAL:
        add(f"valid-optional-removed-{_label(path)}", _remove(path))

    # -- code lists
    for path, label, value in _BAD_ENUM:
        add(f"enum-{label}", _set_text(path, value))
    add("enum-case-ReportStatusCode", _set_text(f"{GENERAL}/ReportStatusCode", "Komplet_svar"))
    add("enum-whitespace-VersionCode", _set_text(f"{LETTER}/VersionCode", " XR0131K "))
    for path, label, value in _GOOD_ENUM:
        add(f"valid-enum-{label}-{value}", _set_text(path, value))

    # -- lengths
    for path, label, limit in _MAX_LENGTH:
        add(f"too-long-{label}-{limit + 1}", _set_text(path, "7" * (limit + 1)))
        add(f"valid-length-{label}-{limit}", _set_text(path, "7" * limit))
        add(f"valid-length-{label}-1", _set_text(path, "7"))
        if label != "PostCodeIdentifier":  # the only 0..n string; see valid-empty-... below
            add(f"empty-{label}", _set_text(path, ""))
    add("valid-length-Unit-16-non-ascii", _set_text(f"{RESULT}/Unit", "µ" * 16))
    add("too-long-Unit-17-non-ascii", _set_text(f"{RESULT}/Unit", "µ" * 17))
    for path in _EMPTY_REQUIRED:
        add(f"empty-{_label(path)}", _set_text(path, ""))
    add("valid-empty-PostCodeIdentifier", _set_text(f"{RECEIVER}/PostCodeIdentifier", ""))
    add("valid-empty-AnalysisCompleteName", _set_text(f"{ANALYSIS}/AnalysisCompleteName", ""))

    # -- element order
    add("order-Sender-after-Receiver", _move(SENDER, RECEIVER, before=False))
    add("order-Letter-after-Sender", _move(LETTER, SENDER, before=False))
    add("order-Patient-before-Receiver", _move(PATIENT, RECEIVER, before=True))
    add("order-Envelope-after-LaboratoryReport", _move("Envelope", LR, before=False))
    add(
        "order-Sent-Time-before-Date",
        _move("Envelope/Sent/Time", "Envelope/Sent/Date", before=True),
    )
    add(
        "order-FromLabIdentifier-before-OrganisationName",
        _move(f"{SENDER}/FromLabIdentifier", f"{SENDER}/OrganisationName", before=True),
    )
    add(
        "order-ReportStatusCode-after-ResultsDateTime",
        _move(f"{GENERAL}/ReportStatusCode", f"{GENERAL}/ResultsDateTime", before=False),
    )
    add("order-Result-before-GeneralResultInformation", _move(RESULT, GENERAL, before=True))
    add(
        "order-Value-before-ResultType",
        _move(f"{RESULT}/Value", f"{RESULT}/ResultType", before=True),
    )
    add("order-Unit-before-Value", _move(f"{RESULT}/Unit", f"{RESULT}/Value", before=True))
    add(
        "order-AnalysisCodeType-before-AnalysisCode",
        _move(f"{ANALYSIS}/AnalysisCodeType", f"{ANALYSIS}/AnalysisCode", before=True),
    )
    add(
        "order-Physician-before-PostCodeIdentifier",
        _move(f"{RECEIVER}/Physician", f"{RECEIVER}/PostCodeIdentifier", before=True),
    )
    add("order-ProducerOfLabResult-after-ReferenceInterval", _move(PRODUCER, REFINT, before=False))

    # -- namespaces
    add("ns-root-2007", _rename(".", _to_ns(NS_2007)))
    add("ns-root-none", _unqualify("root"))
    add("ns-all-2007", _rename(".", _to_ns(NS_2007), subtree=True))
    add("ns-all-none", _unqualify("all"))
    add("ns-child-Patient-2007", _rename(PATIENT, _to_ns(NS_2007)))
    add("ns-subtree-Sender-foreign", _rename(SENDER, _to_ns(FOREIGN_NS), subtree=True))
    add("ns-child-Value-none", _unqualify("Value"))
    add(
        "wrong-letter-element-MicrobiologyWebReport",
        _rename(LR, lambda d, _e: d.q("MicrobiologyWebReport")),
    )

    # -- dates and times
    for path, label, value in _BAD_DATES:
        add(f"date-{label}-{value}", _set_text(path, value))
    for path, label, value in _BAD_TIMES:
        add(f"time-{label}-{value.replace(':', '-')}", _set_text(path, value))
    for path, label, value in _GOOD_DATETIMES:
        add(f"valid-{label}", _set_text(path, value))

    # -- duplicated single elements
    for path in _DUPLICATES:
        add(f"dup-{_label(path)}", _duplicate(path))
    add("valid-dup-LaboratoryReport", _duplicate(LR))
    add("valid-dup-Result", _duplicate(RESULT))

    # -- unknown / not-in-XR0131K elements, attributes and text
    add("extra-element-Patient-Foo", _append(PATIENT, _el("Foo", "x")))
    add("extra-element-Result-end-Foo", _append(RESULT, _el("Foo", "x")))
    add("extra-foreign-element-Sender", _append(SENDER, _foreign("Note")))
    add("extra-Patient-StreetName", _add_to_patient_after_names(_el("StreetName", "Vej 1")))
    add(
        "extra-Patient-EpisodeOfCareStatusCode",
        _append(PATIENT, _el("EpisodeOfCareStatusCode", "ambulant")),
    )
    add(
        "extra-Sender-StreetName",
        _insert_after(f"{SENDER}/OrganisationName", _el("StreetName", "Vej 1")),
    )
    add(
        "extra-Receiver-TelephoneSubscriberIdentifier",
        _append(RECEIVER, _el("TelephoneSubscriberIdentifier", "12345678")),
    )
    add("extra-Letter-StatusCode", _append(LETTER, _el("StatusCode", "nytbrev")))
    add("extra-attribute-Value", _set_attr(f"{RESULT}/Value", "unit", "mg"))
    add("extra-attribute-Emessage", _set_attr(".", "version", "1"))
    add("extra-text-Sender", _set_leading_text(SENDER, "stray text"))

    # -- occurrence limits
    add("valid-count-Result-99", _repeat(RESULT, 99))
    add("count-Result-100", _repeat(RESULT, 100))
    add("valid-count-ResultText-20", _texts(20))
    add("count-ResultText-21", _texts(21))
    add("valid-count-Reference-10", _references(10))
    add("count-Reference-11", _references(11))

    # -- patient identification and consent
    add("cpr-9-digits", _set_text(f"{PATIENT}/CivilRegistrationNumber", "121277822"))
    add("cpr-11-digits", _set_text(f"{PATIENT}/CivilRegistrationNumber", "12127782211"))
    add("cpr-letters", _set_text(f"{PATIENT}/CivilRegistrationNumber", "12127782AB"))
    add("cpr-hyphen", _set_text(f"{PATIENT}/CivilRegistrationNumber", "121277-8221"))
    add("cpr-trailing-space", _set_text(f"{PATIENT}/CivilRegistrationNumber", "1212778221 "))
    add("valid-cpr-not-a-date", _set_text(f"{PATIENT}/CivilRegistrationNumber", "9999999999"))
    alt = f"{PATIENT}/CivilRegistrationNumber"
    add("valid-AlternativeIdentifier", _replace(alt, _el("AlternativeIdentifier", "X123456789")))
    add("AlternativeIdentifier-9-chars", _replace(alt, _el("AlternativeIdentifier", "X12345678")))
    add(
        "AlternativeIdentifier-11-chars",
        _replace(alt, _el("AlternativeIdentifier", "X1234567890")),
    )
    add(
        "both-CivilRegistrationNumber-and-AlternativeIdentifier",
        _add_to_patient(_el("AlternativeIdentifier", "X123456789")),
    )
    add("valid-Consent-false", _add_to_patient(_consent("false")))
    add("valid-Consent-true", _add_to_patient(_consent("true")))
    add("valid-Consent-1", _add_to_patient(_consent("1")))
    add(
        "valid-Consent-without-PersonGivenName",
        _chain(_remove(f"{PATIENT}/PersonGivenName"), _add_to_patient(_consent("false"))),
    )
    add("enum-Consent-Given-maybe", _add_to_patient(_consent("maybe")))
    add("enum-Consent-Given-FALSE", _add_to_patient(_consent("FALSE")))
    add("missing-Consent-Given", _add_to_patient(_el("Consent")))
    add(
        "order-Consent-before-PersonSurnameName",
        _insert_after(f"{PATIENT}/CivilRegistrationNumber", _consent("false")),
    )
    add(
        "dup-Consent",
        _chain(_add_to_patient(_consent("false")), _add_to_patient(_consent("true"))),
    )

    # -- party identification
    code = f"{SENDER}/IdentifierCode"
    add("valid-Sender-IdentifierLocal", _replace(code, _el("IdentifierLocal", "SVB")))
    add("too-long-Sender-IdentifierLocal-4", _replace(code, _el("IdentifierLocal", "SVBX")))
    add(
        "both-Sender-IdentifierCode-and-IdentifierLocal",
        _insert_after(code, _el("IdentifierLocal", "SVB")),
    )
    add(
        "valid-Receiver-IdentifierLocal",
        _replace(f"{RECEIVER}/IdentifierCode", _el("IdentifierLocal", "FK")),
    )
    cc = _insert_ordered(LR, LETTER_ORDER, _cc_receiver())
    add("valid-CCReceiver", cc)
    add(
        "valid-CCReceiver-IdentifierLocal",
        _chain(cc, _replace(f"{LR}/CCReceiver/IdentifierCode", _el("IdentifierLocal", "KOP"))),
    )
    add(
        "valid-CCReceiver-without-OrganisationName",
        _chain(cc, _remove(f"{LR}/CCReceiver/OrganisationName")),
    )
    add(
        "CCReceiver-with-EANIdentifier",
        _insert_ordered(LR, LETTER_ORDER, _cc_receiver(with_ean=True)),
    )
    add(
        "enum-CCReceiver-IdentifierCode",
        _insert_ordered(LR, LETTER_ORDER, _cc_receiver(code="amt")),
    )
    add(
        "missing-CCReceiver-IdentifierCode",
        _chain(cc, _remove(f"{LR}/CCReceiver/IdentifierCode")),
    )
    add(
        "extra-CCReceiver-StreetName",
        _chain(cc, _append(f"{LR}/CCReceiver", _el("StreetName", "Vej 1"))),
    )
    add("order-CCReceiver-after-Patient", _insert_after(PATIENT, _cc_receiver()))

    # -- analysis grouping
    group = _add_to_analysis(_requisition_group())
    add("valid-RequisitionGroup-Order", _chain(group, _add_to_analysis(_el("Order", "1"))))
    add("valid-Order-999", _chain(group, _add_to_analysis(_el("Order", "999"))))
    add("RequisitionGroup-without-Order", group)
    add("Order-without-RequisitionGroup", _add_to_analysis(_el("Order", "1")))
    add("bad-Order-0", _chain(group, _add_to_analysis(_el("Order", "0"))))
    add("bad-Order-1000", _chain(group, _add_to_analysis(_el("Order", "1000"))))
    add("bad-Order-text", _chain(group, _add_to_analysis(_el("Order", "first"))))
    add(
        "too-long-RequisitionGroup-Identifier-9",
        _chain(
            _add_to_analysis(_requisition_group("GRP123456")),
            _add_to_analysis(_el("Order", "1")),
        ),
    )

    # -- reference interval
    add(
        "valid-ReferenceInterval-IntervalText-only",
        _replace(
            REFINT,
            _xml("<ReferenceInterval><IntervalText>se svar</IntervalText></ReferenceInterval>"),
        ),
    )
    add("valid-ReferenceInterval-empty", _replace(REFINT, _el("ReferenceInterval")))
    add(
        "order-IntervalText-before-TypeOfInterval",
        _replace(
            REFINT,
            _xml(
                "<ReferenceInterval><IntervalText>x</IntervalText>"
                "<TypeOfInterval>fysiologisk</TypeOfInterval></ReferenceInterval>"
            ),
        ),
    )
    add(
        "too-long-IntervalText-71",
        _replace(
            REFINT,
            _xml(f"<ReferenceInterval><IntervalText>{'i' * 71}</IntervalText></ReferenceInterval>"),
        ),
    )

    # -- references / attachments and ToLabIdentifier
    add("valid-Reference-URL", _add_to_result(_url_ref()))
    add("valid-Reference-URL-350", _add_to_result(_url_ref("u" * 350)))
    add("valid-Reference-URL-1", _add_to_result(_url_ref("u")))
    add("empty-Reference-URL", _add_to_result(_url_ref("")))
    add("too-long-Reference-URL-351", _add_to_result(_url_ref("u" * 351)))
    add(
        "valid-Reference-SUP",
        _add_to_result(
            _xml(
                "<Reference><RefDescription>Supplerende</RefDescription><SUP>true</SUP></Reference>"
            )
        ),
    )
    add(
        "bad-Reference-SUP-1",
        _add_to_result(
            _xml("<Reference><RefDescription>Supplerende</RefDescription><SUP>1</SUP></Reference>")
        ),
    )
    add(
        "bad-Reference-SUP-false",
        _add_to_result(
            _xml(
                "<Reference><RefDescription>Supplerende</RefDescription><SUP>false</SUP></Reference>"
            )
        ),
    )
    add("valid-Reference-BIN", _add_to_result(_bin_ref()))
    add("bad-Reference-BIN-ObjectIdentifier", _add_to_result(_bin_ref(uuid="not-a-uuid")))
    add("enum-Reference-BIN-ObjectCode", _add_to_result(_bin_ref(code="foto")))
    add("enum-Reference-BIN-ObjectExtensionCode", _add_to_result(_bin_ref(ext="docx")))
    add("bad-Reference-BIN-OriginalObjectSize-0", _add_to_result(_bin_ref(size="0")))
    add(
        "both-Reference-URL-and-SUP",
        _add_to_result(
            _xml(
                "<Reference><RefDescription>x</RefDescription><URL>https://a</URL><SUP>true</SUP>"
                "</Reference>"
            )
        ),
    )
    add(
        "missing-Reference-RefDescription",
        _add_to_result(_xml("<Reference><URL>https://a</URL></Reference>")),
    )
    add("valid-ToLabIdentifier", _add_to_result(_el("ToLabIdentifier", "OUH")))
    add("too-long-ToLabIdentifier-4", _add_to_result(_el("ToLabIdentifier", "OUHX")))
    add(
        "order-ToLabIdentifier-before-Reference",
        _chain(
            _add_to_result(_url_ref()),
            _insert_before(f"{RESULT}/Reference", _el("ToLabIdentifier", "OUH")),
        ),
    )

    # -- formatted / breakable text
    add("valid-ResultTextValue-formatted", _add_to_result(_xml(_TEXT_RICH)))
    add("valid-ResultComments-plain-text", _add_to_result(_el("ResultComments", "Bemærk")))
    add(
        "valid-ResultComments-plain-FixedFont",
        _add_to_result(_xml("<ResultComments><FixedFont>12  34</FixedFont></ResultComments>")),
    )
    add(
        "valid-ResultComments-empty-markup",
        _add_to_result(_xml("<ResultComments><Bold/><Break/></ResultComments>")),
    )
    add(
        "text-Bold-in-Bold",
        _add_to_result(_xml("<ResultComments><Bold>a<Bold>b</Bold></Bold></ResultComments>")),
    )
    add(
        "text-FixedFont-in-FixedFont",
        _add_to_result(
            _xml(
                "<ResultComments><FixedFont>a<FixedFont>b</FixedFont></FixedFont></ResultComments>"
            )
        ),
    )
    add(
        "text-Break-with-text",
        _add_to_result(_xml("<ResultComments>a<Break>b</Break></ResultComments>")),
    )
    add(
        "text-Break-with-child",
        _add_to_result(_xml("<ResultComments>a<Break><Space/></Break></ResultComments>")),
    )
    add(
        "text-unknown-markup",
        _add_to_result(_xml("<ResultComments>a<Strong>b</Strong></ResultComments>")),
    )
    add(
        "text-Bold-in-AnalysisCompleteName",
        _append(f"{ANALYSIS}/AnalysisCompleteName", _el("Bold", "fed")),
    )
    add(
        "valid-Requisition-Comments",
        _insert_ordered(
            REQ, REQ_ORDER, _xml("<Comments>Fastende<Break/>Tages kl 8<Space/></Comments>")
        ),
    )
    add(
        "text-Bold-in-Requisition-Comments",
        _insert_ordered(REQ, REQ_ORDER, _xml("<Comments><Bold>Fastende</Bold></Comments>")),
    )
    add("order-Comments-after-Sample", _append(REQ, _xml("<Comments>x</Comments>")))

    # -- sample details
    add(
        "valid-Sample-Volume-UnitOfVolume-SamplingInterval",
        _chain(
            _add_to_sample(_el("Volume", "250")),
            _add_to_sample(_el("UnitOfVolume", "ml")),
            _add_to_sample(
                _xml(
                    "<SamplingInterval><StartDateTime><Date>1998-08-26</Date><Time>06:30</Time>"
                    "</StartDateTime><EndDateTime><Date>1998-08-27</Date><Time>06:30</Time>"
                    "</EndDateTime></SamplingInterval>"
                )
            ),
        ),
    )
    add("bad-Volume-decimal", _add_to_sample(_el("Volume", "2.5")))
    add("too-long-Volume-16-digits", _add_to_sample(_el("Volume", "1" * 16)))
    add("valid-Volume-15-digits", _add_to_sample(_el("Volume", "1" * 15)))
    add("too-long-UnitOfVolume-18", _add_to_sample(_el("UnitOfVolume", "m" * 18)))
    add(
        "missing-SamplingInterval-EndDateTime",
        _add_to_sample(
            _xml(
                "<SamplingInterval><StartDateTime><Date>1998-08-26</Date><Time>06:30</Time>"
                "</StartDateTime></SamplingInterval>"
            )
        ),
    )
    return cat


def mutants(base: bytes) -> list[tuple[str, bytes]]:
    """Mutants of an XRPT01 XR0131K message (``Emessage`` in namespace 2014/10/08)."""
    return _run(base, _lab_catalogue())


# --------------------------------------------------------------------------------------------
# XR0131K bases from the official XR0130K test messages
# --------------------------------------------------------------------------------------------


def _renamespace(el: Element, ns: str) -> Element:
    """Deep copy of ``el`` with every element moved to ``ns`` (default namespace on the root)."""
    new = etree.Element(f"{{{ns}}}{_local(el)}", nsmap={None: ns})
    _copy_children(el, new, ns)
    return new


def _copy_children(src: Element, dst: Element, ns: str) -> None:
    dst.text = src.text
    for key, value in src.attrib.items():
        dst.set(key, value)
    for child in src:
        if isinstance(child.tag, str):
            sub = etree.SubElement(dst, f"{{{ns}}}{_local(child)}")
            _copy_children(child, sub, ns)
        else:  # comments / processing instructions
            dst.append(child.__copy__())
        dst[-1].tail = child.tail


def to_xr0131k(
    xr0130k: bytes, *, from_lab: str = "SVB", report_status: str = "komplet_svar"
) -> bytes:
    """Convert an XRPT01 XR0130K message (namespace 2007/02/01) to XR0131K (2014/10/08).

    Moves every element to the 2014/10/08 namespace, sets VersionCode XR0131K and adds what
    XR0131K makes mandatory: ``Sender/FromLabIdentifier`` (last child of Sender) and
    ``GeneralResultInformation/ReportStatusCode`` (first child). The result keeps the source's
    encoding declaration (the official examples are windows-1252).
    """
    src_root = etree.fromstring(xr0130k)
    encoding = src_root.getroottree().docinfo.encoding or "UTF-8"
    root = _renamespace(src_root, NS_2014)
    ns = {"m": NS_2014}
    for version in root.xpath("m:LaboratoryReport/m:Letter/m:VersionCode", namespaces=ns):
        version.text = "XR0131K"
    for sender in root.xpath("m:LaboratoryReport/m:Sender", namespaces=ns):
        if sender.find(f"{{{NS_2014}}}FromLabIdentifier") is None:
            etree.SubElement(sender, f"{{{NS_2014}}}FromLabIdentifier").text = from_lab
    for general in root.xpath(
        "m:LaboratoryReport/m:LaboratoryResults/m:GeneralResultInformation", namespaces=ns
    ):
        if general.find(f"{{{NS_2014}}}ReportStatusCode") is None:
            status = etree.Element(f"{{{NS_2014}}}ReportStatusCode")
            status.text = report_status
            general.insert(0, status)
    return etree.tostring(root, xml_declaration=True, encoding=encoding)


def xr0131k_variants(reference_dir: Path) -> list[tuple[str, bytes]]:
    """Valid XR0131K base messages: the derived example and XR0131K versions of the official
    RPT01_2 (original result) and RPT01_3 (corrected result) test messages.

    ``reference_dir`` is the shared reference folder (the one holding ``medcom-xml/``).
    """
    xml_dir = Path(reference_dir) / "medcom-xml"
    derived = xml_dir / "derived" / "XRPT01_XR0131K_example_derived.xml"
    examples = xml_dir / "examples" / "xml"
    return [
        ("derived-example", derived.read_bytes()),
        ("RPT01_2-XR0131K", to_xr0131k((examples / "RPT01_2.xml").read_bytes())),
        ("RPT01_3-XR0131K", to_xr0131k((examples / "RPT01_3.xml").read_bytes())),
    ]


# --------------------------------------------------------------------------------------------
# receipts XCTL02 / XCTL03
# --------------------------------------------------------------------------------------------

_RECEIPT_ORIGINAL_ORDER = [
    ["OriginalEnvelopeIdentifier"],
    ["OriginalSender"],
    ["OriginalReceiver"],
    ["RefuseCode"],
    ["RefuseText"],
    ["OriginalLetter"],
]
_ORIGINAL_LETTER_ORDER = [
    ["OriginalLetterIdentifier"],
    ["OriginalVersionCode"],
    ["RefuseCode"],
    ["RefuseText"],
]


def _receipt_catalogue(kind: str) -> list[tuple[str, Edit]]:
    """Edits for a receipt letter ``kind`` (``PositiveReceipt`` or ``NegativeReceipt``)."""
    negative = kind == "NegativeReceipt"
    other_version = "XC0330Q" if negative else "XC0230Q"
    letter = f"{kind}/Letter"
    orig = f"{kind}/OriginalEmessage"
    orig_letter = f"{orig}/OriginalLetter"
    cat: list[tuple[str, Edit]] = []

    def add(mutant_id: str, edit: Edit) -> None:
        cat.append((mutant_id, edit))

    for path in [
        "Envelope",
        "Envelope/Sent/Time",
        kind,
        letter,
        f"{letter}/Identifier",
        f"{letter}/VersionCode",
        f"{letter}/StatisticalCode",
        f"{kind}/Sender",
        f"{kind}/Sender/EANIdentifier",
        f"{kind}/Receiver",
        orig,
        f"{orig}/OriginalEnvelopeIdentifier",
        f"{orig}/OriginalSender",
        f"{orig}/OriginalReceiver/EANIdentifier",
        f"{orig_letter}/OriginalLetterIdentifier",
        f"{orig_letter}/OriginalVersionCode",
    ]:
        add(f"missing-{_label(path).removeprefix(kind + '-')}", _remove(path))
    add("valid-no-OriginalLetter", _remove_all(orig_letter))
    add("valid-count-OriginalLetter-99", _repeat(orig_letter, 99))
    add("count-OriginalLetter-100", _repeat(orig_letter, 100))
    add("enum-VersionCode", _set_text(f"{letter}/VersionCode", other_version))
    add("enum-AcknowledgementCode", _set_text("Envelope/AcknowledgementCode", "kvittering"))
    add(
        "valid-enum-AcknowledgementCode-pluspositivkvitt",
        _set_text("Envelope/AcknowledgementCode", "pluspositivkvitt"),
    )
    lengths = [
        ("Envelope/Identifier", "Envelope-Identifier", 14),
        (f"{letter}/Identifier", "Letter-Identifier", 14),
        (f"{letter}/StatisticalCode", "StatisticalCode", 8),
        (f"{kind}/Sender/EANIdentifier", "Sender-EANIdentifier", 35),
        (f"{kind}/Receiver/EANIdentifier", "Receiver-EANIdentifier", 35),
        (f"{orig}/OriginalEnvelopeIdentifier", "OriginalEnvelopeIdentifier", 14),
        (f"{orig}/OriginalSender/EANIdentifier", "OriginalSender-EANIdentifier", 35),
        (f"{orig_letter}/OriginalLetterIdentifier", "OriginalLetterIdentifier", 14),
        (f"{orig_letter}/OriginalVersionCode", "OriginalVersionCode", 7),
    ]
    for path, label, limit in lengths:
        add(f"too-long-{label}-{limit + 1}", _set_text(path, "5" * (limit + 1)))
        add(f"valid-length-{label}-{limit}", _set_text(path, "5" * limit))
        add(f"valid-length-{label}-1", _set_text(path, "5"))
        add(f"empty-{label}", _set_text(path, ""))
    add(
        "valid-OriginalVersionCode-XR0131K",
        _set_text(f"{orig_letter}/OriginalVersionCode", "XR0131K"),
    )
    add(
        "extra-Letter-Authorisation",
        _append(
            letter,
            _xml("<Authorisation><Date>1999-11-11</Date><Time>18:50</Time></Authorisation>"),
        ),
    )
    add("extra-Sender-Identifier", _append(f"{kind}/Sender", _el("Identifier", "4201050")))
    add("time-Sent-12-00-00", _set_text("Envelope/Sent/Time", "12:00:00"))
    add("date-Sent-2025-13-01", _set_text("Envelope/Sent/Date", "2025-13-01"))
    add("ns-root-2014", _rename(".", _to_ns(NS_2014)))
    add("ns-all-2014", _rename(".", _to_ns(NS_2014), subtree=True))
    add("order-Sender-after-Receiver", _move(f"{kind}/Sender", f"{kind}/Receiver", before=False))
    add("dup-Letter", _duplicate(letter))
    add(
        "valid-Local_Elements",
        _insert_after(kind, _xml("<Local_Elements><Note>lokal</Note></Local_Elements>")),
    )
    add(
        "Local_Elements-before-receipt",
        _insert_before(kind, _xml("<Local_Elements><Note>lokal</Note></Local_Elements>")),
    )
    add("valid-two-receipts", _duplicate(kind))
    refuse_code = _el("RefuseCode", "syntaksfejl")
    refuse_text = _xml("<RefuseText>Kan ikke laeses<Break/>Hilsen<Space/>IT</RefuseText>")
    if negative:
        add(
            "valid-envelope-RefuseCode-RefuseText",
            _chain(
                _insert_ordered(orig, _RECEIPT_ORIGINAL_ORDER, refuse_code),
                _insert_ordered(orig, _RECEIPT_ORIGINAL_ORDER, refuse_text),
            ),
        )
        add("enum-RefuseCode", _set_text(f"{orig_letter}/RefuseCode", "ukendt"))
        for code in (
            "ikke_specificeret",
            "ukendt_lokationsnummer",
            "problem_med_modtagerID",
            "problem_med_version",
            "syntaksfejl",
        ):
            add(f"valid-enum-RefuseCode-{code}", _set_text(f"{orig_letter}/RefuseCode", code))
        add("valid-RefuseText-plain", _set_text(f"{orig_letter}/RefuseText", "Afvist"))
        add("valid-RefuseText-empty", _set_text(f"{orig_letter}/RefuseText", ""))
        add(
            "order-RefuseText-before-RefuseCode",
            _move(f"{orig_letter}/RefuseText", f"{orig_letter}/RefuseCode", before=True),
        )
        add("text-Bold-in-RefuseText", _append(f"{orig_letter}/RefuseText", _el("Bold", "x")))
        add(
            "valid-OriginalLetter-without-refusal",
            _chain(_remove(f"{orig_letter}/RefuseCode"), _remove(f"{orig_letter}/RefuseText")),
        )
        add(
            "order-envelope-RefuseCode-after-OriginalLetter",
            _append(orig, _el("RefuseCode", "syntaksfejl")),
        )
        add("dup-OriginalLetter-RefuseCode", _duplicate(f"{orig_letter}/RefuseCode"))
    else:
        add(
            "RefuseCode-in-PositiveReceipt",
            _insert_ordered(orig_letter, _ORIGINAL_LETTER_ORDER, refuse_code),
        )
        add(
            "RefuseText-in-PositiveReceipt",
            _insert_ordered(orig, _RECEIPT_ORIGINAL_ORDER, refuse_text),
        )
    return cat


def receipt_mutants(base: bytes) -> list[tuple[str, bytes]]:
    """Mutants of an XCTL02 NegativeReceipt or XCTL03 PositiveReceipt (namespace 2005/08/07)."""
    root = etree.fromstring(base)
    kinds = [_local(c) for c in root if isinstance(c.tag, str) and _local(c) != "Envelope"]
    if not kinds or kinds[0] not in ("PositiveReceipt", "NegativeReceipt"):
        raise ValueError("base is not an Emessage with a PositiveReceipt or NegativeReceipt")
    return _run(base, _receipt_catalogue(kinds[0]))
