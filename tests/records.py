"""Building blocks for tests: a valid LPS record, a translator with a fixed clock, the outbox's
test key."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from lxml import etree

from gateway.clock import FixedClock, SequentialIds
from gateway.config import default_config
from gateway.fhir.validate import FhirValidator
from gateway.intake import IntakeBatch, read_records
from gateway.mapping.tables import default_mappings
from gateway.outbox.cipher import BodyCipher
from gateway.pipeline import Translation, Translator
from gateway.xml.validate import XmlValidator
from tests.conftest import REFERENCE

NOW = datetime(2025, 12, 1, 8, 0, tzinfo=UTC)
PRIVACY_KEY = b"labgw test privacy key: not a secret"
CIPHER = BodyCipher(PRIVACY_KEY)  # what the tests' outboxes seal record bodies with


def privacy_key_file(folder: Path) -> Path:
    """`PRIVACY_KEY` in `folder/privacy.key`, mode 0600 as a service demands of a key file."""
    path = folder / "privacy.key"
    path.touch(mode=0o600)
    path.write_bytes(PRIVACY_KEY)
    return path


BASE: dict[str, Any] = {
    "recordId": "XMO-7f3a9c21",
    "version": 1,
    "status": "final",
    "practice": {
        "sor": "464181000016008",
        "ydernummer": "012345",
        "gln": "5790001382445",
        "name": "Lægerne Søndergade",
    },
    "patient": {"cpr": "2509479989", "family": "Berggren", "given": "Elmer"},
    "consent": "given",
    "sample": {"id": "S-2025-0042", "collectedAt": "2025-06-02T09:14:00+02:00"},
    "analysis": {"system": "NPU", "code": "NPU19748", "text": "CRP"},
    "result": {
        "value": "45",
        "unit": "mg/L",
        "referenceLow": "0",
        "referenceHigh": "8",
        "abnormal": "high",
    },
    "performedAt": "2025-06-02T09:20:00+02:00",
    "lps": {"vendor": "XMO", "version": "2025.2"},
}


def record(**changes: Any) -> dict[str, Any]:
    """A valid record; `changes` replace top-level fields, `group__field` nested ones."""
    data = copy.deepcopy(BASE)
    for key, value in changes.items():
        group, _, leaf = key.partition("__")
        if leaf:
            data[group][leaf] = value
        else:
            data[key] = value
    return data


def batch_of(*records: dict[str, Any], name: str = "test.json") -> IntakeBatch:
    return read_records(json.dumps(list(records)).encode(), name, now=NOW)


@cache
def fhir_validator() -> FhirValidator:
    """One FHIR validator for the test session: profiles are compiled once."""
    return FhirValidator()


def translator(validator: XmlValidator | None = None, syntax: str | None = None) -> Translator:
    """A translator with a fixed clock; `syntax` "fhir" or "xml" overrides the configuration."""
    config = default_config().with_format(syntax) if syntax else default_config()
    return Translator(
        config,
        default_mappings(),
        validator or XmlValidator(),
        FixedClock(NOW),
        SequentialIds(),
        fhir_validator(),
    )


@cache
def official_schema() -> etree.XMLSchema | None:
    """MedCom's official 2014-10-08 EMessage.xsd, where the reference folder is present."""
    path = REFERENCE / "medcom-xml" / "schemas" / "2014-10-08" / "EMessage.xsd"
    return etree.XMLSchema(etree.parse(str(path))) if path.is_file() else None


def assert_officially_valid(result: Translation) -> None:
    """Every XRPT01 message validates against the official schema too (ours ran in the pipeline)."""
    schema = official_schema()
    if schema is None:
        return
    for message in result.messages:
        if message.kind == "FHIR":
            continue
        assert schema.validate(etree.fromstring(message.content)), (
            f"{message.filename}: {schema.error_log}"
        )


def translate(*records: dict[str, Any], syntax: str | None = None) -> Translation:
    """Translate records; every XML message is also checked against the official schema."""
    result = translator(syntax=syntax).translate(batch_of(*records))
    assert_officially_valid(result)
    return result
