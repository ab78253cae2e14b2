"""Where each contract field of a record goes in an XRPT01 letter (the mapping-coverage record).

A record's coverage depends only on its *shape* (which optional fields it has, what kind of value,
whether a code was translated …), so the list of field uses is computed once per shape and
shared by every record of that shape.
"""

from __future__ import annotations

from functools import cache

from gateway.coverage import Action, Use
from gateway.mapping.resolve import Mapped
from gateway.model import Abnormal, Status
from gateway.values import format_decimal, parse_number
from gateway.xml import ns
from gateway.xml.letter_coverage import LetterShape, letter_uses

_LR = "LaboratoryReport"
_RES = f"{_LR}/LaboratoryResults/Result"
T, C, L = Action.TRANSFORMED, Action.CARRIED, Action.LEFT_OUT
_COMMA = "decimal comma written as point"
_WITHDRAWN = "cancelled: nothing of the withdrawn value is sent"

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
    value = mapped.value
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
        LetterShape.of(mapped),
        r.status is Status.CANCELLED,
        bool(r.sample.material),
        _value_kind(mapped),
        None if not r.result.unit else bool(mapped.analysis.medcom_unit and mapped.ucum),
        _limit_kind(r.result.reference_low),
        _limit_kind(r.result.reference_high),
        r.result.abnormal,
        bool(r.result.comment),
    )


@cache
def _uses(shape: Shape) -> tuple[Use, ...]:
    letter, cancelled, material, value_kind, unit_kept, low, high, abnormal, comment = shape
    assert isinstance(letter, LetterShape)
    out = letter_uses(_LR, "XRPT01", letter, f"{_RES}/Analysis/AnalysisCode")
    out.append(
        (
            "status",
            T,
            f"{_RES}/ResultStatusCode",
            "cancelled is sent as svar_rettet with the value 'annulleret'" if cancelled else None,
        )
    )
    if material:
        out.append(("sample.material", L, None, "XRPT01 has no material; the NPU system says it"))
    out.append(_VALUE_USES[str(value_kind)])
    if unit_kept is not None and cancelled:
        out.append(("result.unit", L, None, _WITHDRAWN))
    elif unit_kept is not None:
        out.append(
            ("result.unit", T, f"{_RES}/Unit", "MedCom spelling of the NPU unit")
            if unit_kept
            else ("result.unit", L, None, "the analysis has no unit")
        )
    for name, leaf, kind in (
        ("referenceLow", "LowerLimit", low),
        ("referenceHigh", "UpperLimit", high),
    ):
        if kind and cancelled:
            out.append((f"result.{name}", L, None, _WITHDRAWN))
        elif kind:
            out.append(
                (
                    f"result.{name}",
                    C if kind == "same" else T,
                    f"{_RES}/ReferenceInterval/{leaf}",
                    None if kind == "same" else _COMMA,
                )
            )
    if abnormal and cancelled:
        out.append(("result.abnormal", L, None, _WITHDRAWN))
    elif abnormal is Abnormal.NORMAL:
        out.append(("result.abnormal", L, None, "normal results carry no ResultValidation"))
    elif abnormal:
        out.append(("result.abnormal", T, f"{_RES}/ResultValidation", None))
    if comment:
        out.append(("result.comment", C, f"{_RES}/ResultComments", None))
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
