"""The invariants `gateway/fhir/native.py` answers in Python agree with fhirpathpy.

Each native answers only for input it understands (else None, and the FHIRPath runs); where it
answers, its verdict must be fhirpathpy's, over generated Bundles, Observations and GLN values.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.fhir.fhirpath import Environment, FhirPath, InvariantError
from gateway.fhir.native import _BY_TEXT

NO_HOOKS = Environment(lambda ref: None, lambda value, url: False, lambda value, url: False)
REFERENCE = FhirPath(fast=False)
BY_NAME = {native.__name__: text for text, native in _BY_TEXT.items()}

_text = st.sampled_from(["a", "http://x/Patient/1", "urn:uuid:1", "http://x/_history/2", ""])
_meta = st.one_of(
    st.none(), st.fixed_dictionaries({}, optional={"versionId": st.sampled_from(["1", "2"])})
)
_entry = st.fixed_dictionaries(
    {},
    optional={
        "fullUrl": _text,
        "resource": st.fixed_dictionaries(
            {"resourceType": st.just("Patient")},
            optional={"meta": _meta.filter(lambda m: m is not None)},
        ),
        "request": st.just({"method": "POST", "url": "Patient"}),
        "response": st.just({"status": "201"}),
    },
)
_bundles = st.fixed_dictionaries(
    {
        "resourceType": st.just("Bundle"),
        "type": st.sampled_from(
            [
                "message",
                "batch",
                "transaction",
                "history",
                "batch-response",
                "transaction-response",
                "collection",
            ]
        ),
        "entry": st.lists(_entry, max_size=4),
    }
)
_quantity = st.fixed_dictionaries(
    {}, optional={"value": st.integers(0, 9), "unit": st.just("mg/L"), "code": st.just("mg/L")}
)
_observations = st.fixed_dictionaries(
    {
        "resourceType": st.just("Observation"),
        "status": st.just("final"),
        "code": st.just({"coding": [{"system": "urn:oid:1.2.208.176.2.1", "code": "NPU19748"}]}),
    },
    optional={
        "valueQuantity": _quantity,
        "valueString": st.just("x"),
        "dataAbsentReason": st.just({"text": "annulleret"}),
    },
)


def _agree(
    name: str, value: Any, type_path: str, resource: dict[str, Any], primitive: bool = False
) -> None:
    text = BY_NAME[name]
    native = _BY_TEXT[text](value, resource)
    if native is None:
        return
    try:
        reference = REFERENCE.holds(text, value, type_path, resource, NO_HOOKS, primitive)
    except InvariantError:
        pytest.skip("fhirpathpy cannot evaluate this input")
    assert native == reference, (name, value)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_bundles)
def test_bundle_invariants(bundle: dict[str, Any]) -> None:
    for name in ("check", "_bdl_7"):
        if name in BY_NAME:
            _agree(name, bundle, "Bundle", bundle)
    for entry in bundle["entry"]:
        _agree("_bdl_5", entry, "Bundle.entry", bundle)
        _agree("_bdl_8", entry, "Bundle.entry", bundle)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_observations)
def test_observation_invariants(observation: dict[str, Any]) -> None:
    for name in ("_obs_6", "_obs_7", "_mandatory_units"):
        _agree(name, observation, "Observation", observation)


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.text("0123456789", min_size=13, max_size=13),
        st.text("0123456789x ", min_size=0, max_size=14),
    )
)
def test_gln_check_digit(value: str) -> None:
    identifier = {"system": "https://www.gs1.org/gln", "value": value}
    for text, native in _BY_TEXT.items():
        if native.__name__ != "_gln_modulus":
            continue
        answer = native(value, identifier)
        if answer is None:
            continue
        primitive = not text.startswith("(((10-((value.")
        target = value if primitive else identifier
        try:
            reference = REFERENCE.holds(
                text,
                target,
                "Identifier.value" if primitive else "Identifier",
                identifier,
                NO_HOOKS,
                primitive,
            )
        except InvariantError:
            continue
        assert answer == reference, (text[:30], value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5790001382445", True),
        ("5790001382446", False),
        ("579000138244", False),
        ("57900013824x5", False),
    ],
    ids=["valid", "wrong-check-digit", "too-short", "letter"],
)
def test_gln_known_answers(value: str, expected: bool) -> None:
    identifier = {"system": "https://www.gs1.org/gln", "value": value}
    texts = [text for text, native in _BY_TEXT.items() if native.__name__ == "_gln_modulus"]
    assert len(texts) == 2
    for text in texts:
        assert _BY_TEXT[text](value, identifier) is expected
        assert (
            REFERENCE.holds(text, value, "Identifier.value", identifier, NO_HOOKS, True) is expected
        )


def test_both_entry_kind_invariants_are_compared() -> None:
    """bdl-3 and bdl-4 share one native shape; both are exercised against fhirpathpy."""
    for kind, name in (("batch", "request"), ("batch-response", "response")):
        texts = [
            t for t, n in _BY_TEXT.items() if n.__name__ == "check" and f"{name}.exists()" in t
        ]
        (text,) = texts
        for entries, expected in (([{name: {}}], True), ([{}], False)):
            bundle = {"resourceType": "Bundle", "type": kind, "entry": entries}
            assert _BY_TEXT[text](bundle, bundle) is expected
            assert REFERENCE.holds(text, bundle, "Bundle", bundle, NO_HOOKS) is expected
