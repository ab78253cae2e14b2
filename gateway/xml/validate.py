"""Validates MedCom XML messages: hardened parse, XSD by namespace and VersionCode, then rules.

A generator of Issues (`iter_issues`); `validate` raises on the first blocking one and `is_valid`
checks for none (one code path, as in xmlschema). The schema is chosen from the catalogue by the
root namespace and the letter's VersionCode; a message labgw has no schema for is reported as
not supported, naming what is supported, never silently passed.
"""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

from gateway.issues import Issue, IssueType, Severity
from gateway.mapping.tables import Mappings, default_mappings
from gateway.validator import Validator
from gateway.xml.catalog import Catalog, SchemaEntry, default_catalog
from gateway.xml.ns import q
from gateway.xml.paths import explain_xsd_message, resolve_error_path
from gateway.xml.rules import laboratory_report_rules, microbiology_report_rules
from gateway.xml.safe import Limits, parse_untrusted

_XSD_TYPES = {
    "SCHEMAV_ELEMENT_CONTENT": IssueType.STRUCTURE,
    "SCHEMAV_CVC_COMPLEX_TYPE_2_4": IssueType.REQUIRED,
    "SCHEMAV_CVC_MAXLENGTH_VALID": IssueType.TOO_LONG,
    "SCHEMAV_CVC_MINLENGTH_VALID": IssueType.VALUE,
    "SCHEMAV_CVC_LENGTH_VALID": IssueType.VALUE,
    "SCHEMAV_CVC_ENUMERATION_VALID": IssueType.CODE_INVALID,
    "SCHEMAV_CVC_PATTERN_VALID": IssueType.VALUE,
    "SCHEMAV_CVC_DATATYPE_VALID_1_2_1": IssueType.VALUE,
}
# The business rules of each letter (gateway/xml/rules.py); receipts have none beyond the XSD.
_LETTER_RULES = {
    "LaboratoryReport": laboratory_report_rules,
    "MicrobiologyWebReport": microbiology_report_rules,
}


class XmlValidator(Validator):
    """Validates MedCom XML messages; build once, use for many messages."""

    def __init__(
        self,
        catalog: Catalog | None = None,
        mappings: Mappings | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.catalog = catalog or default_catalog()
        self.mappings = mappings or default_mappings()
        self.limits = limits or Limits()

    def iter_issues(self, data: bytes, source: str | None = None) -> Iterator[Issue]:
        """Every Issue of one message given as bytes from outside."""
        root, problems = parse_untrusted(data, source, self.limits)
        yield from problems
        if root is not None:
            yield from self.iter_tree_issues(root, source)

    def iter_tree_issues(self, root: etree._Element, source: str | None = None) -> Iterator[Issue]:
        """Every Issue of one already parsed (or freshly rendered) message."""
        entry, problem = self.identify(root, source)
        if entry is None:
            if problem is not None:
                yield problem
            return
        schema = self.catalog.schema(entry)
        if not schema.validate(root):
            for error in schema.error_log:
                yield Issue(
                    Severity.ERROR,
                    _XSD_TYPES.get(error.type_name, IssueType.STRUCTURE),
                    "XSD",
                    explain_xsd_message(error.message),
                    location=resolve_error_path(root, error.path),
                    source=source,
                    line=error.line or None,
                )
            return
        rules = _LETTER_RULES.get(entry.letter)
        if rules is not None:
            for letter in root.iterfind(q(entry.letter, entry.namespace)):
                yield from rules(letter, entry.namespace, self.mappings, source)

    def identify(
        self, root: etree._Element, source: str | None
    ) -> tuple[SchemaEntry | None, Issue | None]:
        """The catalogue entry for a message, or the Issue that says why there is none."""
        qname = etree.QName(root)
        namespace = qname.namespace or ""
        if qname.localname != "Emessage":
            return None, Issue(
                Severity.FATAL,
                IssueType.NOT_SUPPORTED,
                "XML-UNKNOWN-MESSAGE",
                f"root element is {qname.localname!r}; MedCom messages start with Emessage",
                location=f"/{qname.localname}",
                source=source,
            )
        # A letter is a child with a Letter header; anything else is left to the schema.
        version_path = f"{q('Letter', namespace)}/{q('VersionCode', namespace)}"
        letters = [child for child in root if child.find(q("Letter", namespace)) is not None]
        codes = sorted({child.findtext(version_path) or "" for child in letters})
        version = codes[0] if len(codes) == 1 else ""
        entry = self.catalog.find(namespace, version) if version else None
        if entry is not None:
            return entry, None
        if not letters:
            message = "the Emessage holds no letter"
        elif len(codes) > 1:
            message = f"letters of different versions in one Emessage: {', '.join(codes)}"
        else:
            shown = f"VersionCode {version!r}" if version else "no Letter/VersionCode"
            message = (
                f"no schema for namespace {namespace!r} with {shown}; labgw validates "
                f"{self.catalog.describe()}"
            )
        return None, Issue(
            Severity.ERROR,
            IssueType.NOT_SUPPORTED,
            "XML-NO-SCHEMA",
            message,
            location="/Emessage",
            source=source,
        )
