"""Write the seed corpus (`tests/fuzz/corpus/<target>/`) from real inputs and renderers.

Run `python -m tests.fuzz.seeds` to remake it; the files are committed, so a fuzz run needs no
PKI and no renderer. Signed seeds are signed at `targets.NOW` and verify at `VERIFY_AT`.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from gateway.issues import Issue, IssueType, Severity
from gateway.pki import build_test_pki
from gateway.receipts import soap
from gateway.receipts.fhir_ack import render_fhir_ack
from gateway.receipts.model import Original, ReceiptOutcome
from gateway.receipts.original import original_of
from gateway.receipts.xctl import render_xctl
from gateway.security.dgws import Signer, build_envelope, make_id_card
from gateway.security.jws import sign_bundle
from gateway.security.keys import load_identity
from tests.fuzz.targets import CORPUS, NOW
from tests.records import record, translate
from tests.test_render_xrpt05 import culture

REPO = CORPUS.parent.parent.parent
GOLDEN = REPO / "tests" / "golden"
RECORDS = REPO / "examples" / "records"
ISSUES = (
    Issue(Severity.ERROR, IssueType.VALUE, "MC-CPR", "CPR-nummerets første seks cifre: ingen dato"),
    Issue(Severity.WARNING, IssueType.CODE_INVALID, "MC-NPU-UNKNOWN", "NPU99999 er ukendt: æøå"),
)


def _original(content: bytes) -> Original:
    found = original_of(content)
    assert isinstance(found, Original), found
    return found


def seeds(pki_dir: Path) -> dict[str, dict[str, bytes]]:
    """File name → content, per target."""
    one = record()
    letters = translate(one, culture(recordId="M1", sample__id="S-MIC")).messages
    fhir = translate(one, culture(recordId="M1", sample__id="S-MIC"), syntax="fhir").messages
    letter, bundle = letters[0].content, fhir[0].content
    xctl = {
        outcome: render_xctl(
            outcome,
            _original(letter),
            receipt_id="R0000000000001",
            envelope_id="E0000000000001",
            sent=NOW,
            issues=ISSUES if outcome is ReceiptOutcome.NEGATIVE else (),
            refuse_code="syntaksfejl" if outcome is ReceiptOutcome.NEGATIVE else None,
        )
        for outcome in (ReceiptOutcome.POSITIVE, ReceiptOutcome.NEGATIVE)
    }
    acks = {
        outcome: render_fhir_ack(
            outcome,
            _original(bundle),
            ack_id="a0000000-0000-4000-8000-000000000001",
            bundle_id="b0000000-0000-4000-8000-000000000001",
            sent=NOW,
            issues=ISSUES if outcome is ReceiptOutcome.NEGATIVE else (),
        )
        for outcome in (ReceiptOutcome.POSITIVE, ReceiptOutcome.NEGATIVE)
    }
    pki = build_test_pki(pki_dir, NOW)
    signed: dict[str, bytes] = {}
    bundles: dict[str, bytes] = {}
    for name in ("practice-platform", "practice-platform-ec"):
        entry = pki[name]
        assert entry.cert_path and entry.key_path
        identity = load_identity(entry.cert_path, entry.key_path)
        signer = Signer(identity, "12345678", "labgw fuzz ApS")
        card = make_id_card(signer, NOW)
        signed[f"{name}.xml"] = build_envelope(letter, card, signer, "msg-1", NOW)
        bundles[f"{name}.json"] = sign_bundle(bundle, identity, "Organization/fuzz", NOW)
    golden = sorted(GOLDEN.glob("*.xml"))
    return {
        "intake_json": {
            "practice-xmo.json": (RECORDS / "practice-xmo.json").read_bytes(),
            "one-record.json": json.dumps([one], ensure_ascii=False).encode(),
        },
        "intake_ndjson": {
            name: (RECORDS / name).read_bytes()
            for name in ("practice-clinea.ndjson", "practice-micro.ndjson")
        },
        "intake_csv": {"healthhub-extract.csv": (RECORDS / "healthhub-extract.csv").read_bytes()},
        "xml_validate": {
            path.name: path.read_bytes()
            for path in [*golden[:2], *(p for p in golden if "xrpt05" in p.name)][:4]
        }
        | {"xctl-negative.xml": xctl[ReceiptOutcome.NEGATIVE]},
        "fhir_validate": {"lsp.json": fhir[0].content, "miba.json": fhir[1].content},
        "receipt": {
            "xctl-positive.xml": xctl[ReceiptOutcome.POSITIVE],
            "xctl-negative.xml": xctl[ReceiptOutcome.NEGATIVE],
            "soap-positive.xml": soap.wrap(xctl[ReceiptOutcome.POSITIVE]),
            "soap-fault.xml": soap.fault("syntax_error", "the letter is not well-formed"),
            "ack-positive.json": acks[ReceiptOutcome.POSITIVE],
            "ack-negative.json": acks[ReceiptOutcome.NEGATIVE],
        },
        "dgws_verify": signed,
        "jws_verify": bundles,
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        found = seeds(Path(scratch) / "pki")
    for target, files in found.items():
        folder = CORPUS / target
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for name, content in files.items():
            (folder / name).write_bytes(content)
        print(f"{target}: {len(files)} seeds")


if __name__ == "__main__":
    main()
