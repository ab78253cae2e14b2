"""Coverage of the contract fields every MedCom 2014 lab letter carries the same way.

Identity, practice, patient, consent, sample and times go to the same elements in XRPT01 and
XRPT05; only the letter's root element differs. The per-format modules add the result fields.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.coverage import Action, Use
from gateway.mapping.resolve import Mapped
from gateway.model import Consent

T, C, L = Action.TRANSFORMED, Action.CARRIED, Action.LEFT_OUT


@dataclass(frozen=True, slots=True)
class LetterShape:
    """The facts about a record that decide where its letter-level fields go."""

    ydernummer: bool
    sor: bool
    cpr: bool
    given: bool
    consent_unknown: bool
    lps_version: bool
    mapped_from: str | None
    analysis_text: bool

    @classmethod
    def of(cls, mapped: Mapped) -> LetterShape:
        r = mapped.record
        return cls(
            bool(r.practice.ydernummer),
            bool(r.practice.sor),
            bool(r.patient.cpr),
            bool(r.patient.given),
            r.consent is Consent.UNKNOWN,
            bool(r.lps.version),
            mapped.mapped_from,
            bool(r.analysis.text),
        )


def letter_uses(root: str, kind: str, shape: LetterShape, code_target: str) -> list[Use]:
    """Uses of the fields placed at letter level in a letter whose root element is `root`."""
    sample = f"{root}/RequisitionInformation/Sample"
    out: list[Use] = [
        (
            "recordId",
            T,
            f"{root}/Letter/Identifier",
            "letter id derived from practice, patient, sample and version",
        ),
        ("version", T, f"{root}/Letter/Identifier", "part of the letter id"),
        ("practice.gln", C, f"{root}/Sender/EANIdentifier", None),
        ("practice.name", C, f"{root}/Sender/OrganisationName", None),
        ("patient.family", C, f"{root}/Patient/PersonSurnameName", None),
        ("sample.id", C, f"{sample}/LaboratoryInternalSampleIdentifier", None),
        ("sample.collectedAt", T, f"{sample}/SamplingDateTime", "Danish local time, minutes"),
        (
            "analysis.code",
            T if shape.mapped_from else C,
            code_target,
            f"mapped from {shape.mapped_from}" if shape.mapped_from else None,
        ),
        (
            "analysis.system",
            T,
            code_target,
            "written as AnalysisCodeType and AnalysisCodeResponsible from mappings/analyses.csv",
        ),
        (
            "performedAt",
            T,
            f"{root}/LaboratoryResults/GeneralResultInformation/ResultsDateTime",
            "latest of the letter's results, Danish local time, minutes",
        ),
        ("lps.vendor", L, None, f"not part of {kind}"),
    ]
    if shape.ydernummer:
        out.append(("practice.ydernummer", C, f"{root}/Sender/Identifier", None))
        if shape.sor:
            out.append(
                ("practice.sor", L, None, "Sender has one Identifier; the ydernummer is used")
            )
    else:
        out.append(("practice.sor", C, f"{root}/Sender/Identifier", None))
    if shape.cpr:
        out.append(("patient.cpr", C, f"{root}/Patient/CivilRegistrationNumber", None))
    else:
        out.append(("patient.replacementId", C, f"{root}/Patient/AlternativeIdentifier", None))
    if shape.given:
        out.append(("patient.given", C, f"{root}/Patient/PersonGivenName", None))
    out.append(
        ("consent", L, None, "unknown consent is not stated (no Consent element)")
        if shape.consent_unknown
        else ("consent", T, f"{root}/Patient/Consent/Given", None)
    )
    if shape.analysis_text:
        out.append(("analysis.text", L, None, "the name from mappings/analyses.csv is sent"))
    if shape.lps_version:
        out.append(("lps.version", L, None, f"not part of {kind}"))
    return out
