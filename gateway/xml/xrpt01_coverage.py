"""Where each contract field of a record goes in an XRPT01 letter (the mapping-coverage record).

A record's coverage depends only on its *shape* (which optional fields it has, what kind of value,
whether a code was translated …), so the list of field uses is computed once per shape and
shared by every record of that shape.
"""

from __future__ import annotations

from functools import cache

from gateway.coverage import Action, Use
from gateway.mapping.resolve import Mapped
from gateway.model import Abnormal, Consent, Status
from gateway.values import format_decimal, parse_number
from gateway.xml import ns

_LR = "LaboratoryReport"
_RES = f"{_LR}/LaboratoryResults/Result"
T, C, L = Action.TRANSFORMED, Action.CARRIED, Action.LEFT_OUT
_COMMA = "decimal comma written as point"

Shape = tuple[object, ...]


def limit_text(text: str) -> str:
    """A reference limit as written in XML: a number with `.`, else as given."""
    number = parse_number(text)
    return format_decimal(number) if number is not None else text


def uses(mapped: Mapped) -> tuple[Use, ...]:
    """The field uses of one record."""
    return _uses(_shape(mapped))


def _value_kind(mapped: Mapped) -> str:
    record = mapped.record
    value = record.result.value
    if record.status is Status.CANCELLED:
        return "cancelled"
    if value.number is not None:
        if value.comparator:
            return "comparator"
        return "exact" if value.decimal_text() == value.raw.strip() else "comma"
    return "long" if len(value.text) > ns.VALUE_MAX else "short"


def _limit_kind(text: str | None) -> str | None:
    if not text:
        return None
    return "same" if limit_text(text) == text else "comma"


def _shape(mapped: Mapped) -> Shape:
    r = mapped.record
    return (
        r.status is Status.CANCELLED,
        bool(r.practice.ydernummer),
        bool(r.practice.sor),
        bool(r.patient.cpr),
        bool(r.patient.given),
        r.consent is Consent.UNKNOWN,
        bool(r.sample.material),
        mapped.mapped_from,
        bool(r.analysis.text),
        _value_kind(mapped),
        None if not r.result.unit else bool(mapped.analysis.medcom_unit and mapped.ucum),
        _limit_kind(r.result.reference_low),
        _limit_kind(r.result.reference_high),
        r.result.abnormal,
        bool(r.result.comment),
        bool(r.lps.version),
    )


@cache
def _uses(shape: Shape) -> tuple[Use, ...]:
    (
        cancelled,
        ydernummer,
        sor,
        cpr,
        given,
        consent_unknown,
        material,
        mapped_from,
        text,
        value_kind,
        unit_kept,
        low,
        high,
        abnormal,
        comment,
        lps_version,
    ) = shape
    out: list[Use] = [
        (
            "recordId",
            T,
            f"{_LR}/Letter/Identifier",
            "letter id derived from practice, patient, sample and version",
        ),
        ("version", T, f"{_LR}/Letter/Identifier", "part of the letter id"),
        (
            "status",
            T,
            f"{_RES}/ResultStatusCode",
            "cancelled is sent as svar_rettet with the value 'annulleret'" if cancelled else None,
        ),
        ("practice.gln", C, f"{_LR}/Sender/EANIdentifier", None),
        ("practice.name", C, f"{_LR}/Sender/OrganisationName", None),
        ("patient.family", C, f"{_LR}/Patient/PersonSurnameName", None),
        (
            "sample.id",
            C,
            f"{_LR}/RequisitionInformation/Sample/LaboratoryInternalSampleIdentifier",
            None,
        ),
        (
            "sample.collectedAt",
            T,
            f"{_LR}/RequisitionInformation/Sample/SamplingDateTime",
            "Danish local time, minutes",
        ),
        (
            "analysis.code",
            T if mapped_from else C,
            f"{_RES}/Analysis/AnalysisCode",
            f"mapped from {mapped_from}" if mapped_from else None,
        ),
        (
            "analysis.system",
            T,
            f"{_RES}/Analysis/AnalysisCodeType",
            "NPU codes are written as iupac, responsible SST",
        ),
        (
            "performedAt",
            T,
            f"{_LR}/LaboratoryResults/GeneralResultInformation/ResultsDateTime",
            "latest of the letter's results, Danish local time, minutes",
        ),
        ("lps.vendor", L, None, "not part of XRPT01"),
    ]
    if ydernummer:
        out.append(("practice.ydernummer", C, f"{_LR}/Sender/Identifier", None))
        if sor:
            out.append(
                ("practice.sor", L, None, "Sender has one Identifier; the ydernummer is used")
            )
    else:
        out.append(("practice.sor", C, f"{_LR}/Sender/Identifier", None))
    if cpr:
        out.append(("patient.cpr", C, f"{_LR}/Patient/CivilRegistrationNumber", None))
    else:
        out.append(("patient.replacementId", C, f"{_LR}/Patient/AlternativeIdentifier", None))
    if given:
        out.append(("patient.given", C, f"{_LR}/Patient/PersonGivenName", None))
    out.append(
        ("consent", L, None, "unknown consent is not stated (no Consent element)")
        if consent_unknown
        else ("consent", T, f"{_LR}/Patient/Consent/Given", None)
    )
    if material:
        out.append(("sample.material", L, None, "XRPT01 has no material; the NPU system says it"))
    if text:
        out.append(("analysis.text", L, None, "the NPU name from mappings/analyses.csv is sent"))
    out.append(_VALUE_USES[str(value_kind)])
    if unit_kept is not None:
        out.append(
            ("result.unit", T, f"{_RES}/Unit", "MedCom spelling of the NPU unit")
            if unit_kept
            else ("result.unit", L, None, "the analysis has no unit")
        )
    for name, leaf, kind in (
        ("referenceLow", "LowerLimit", low),
        ("referenceHigh", "UpperLimit", high),
    ):
        if kind:
            out.append(
                (
                    f"result.{name}",
                    C if kind == "same" else T,
                    f"{_RES}/ReferenceInterval/{leaf}",
                    None if kind == "same" else _COMMA,
                )
            )
    if abnormal is Abnormal.NORMAL:
        out.append(("result.abnormal", L, None, "normal results carry no ResultValidation"))
    elif abnormal:
        out.append(("result.abnormal", T, f"{_RES}/ResultValidation", None))
    if comment:
        out.append(("result.comment", C, f"{_RES}/ResultComments", None))
    if lps_version:
        out.append(("lps.version", L, None, "not part of XRPT01"))
    return tuple(out)


_VALUE_USES: dict[str, Use] = {
    "cancelled": ("result.value", L, None, "cancelled: the value is replaced by 'annulleret'"),
    "comparator": ("result.value", T, f"{_RES}/Value", "comparator to Operator"),
    "exact": ("result.value", C, f"{_RES}/Value", None),
    "comma": ("result.value", T, f"{_RES}/Value", _COMMA),
    "long": (
        "result.value",
        T,
        f"{_RES}/ResultTextValue",
        f"longer than {ns.VALUE_MAX} characters",
    ),
    "short": ("result.value", C, f"{_RES}/Value", None),
}
