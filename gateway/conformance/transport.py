"""Transport cases (transport-dgws, transport-fhir): sign the suite's message, apply the case's
mutation, and judge the bytes as a receiver must.

Against `self` the bytes go through labgw's own verification (`verify_envelope`,
`verify_bundle` with the pinned trust store) and, when they verify, the payload through its
validators: what a conforming receiver checks before it answers. `gateway.conformance.live`
sends the same bytes to a receiver under test instead.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from gateway.conformance import dgws_mutations, jws_mutations
from gateway.conformance.observe import Validators
from gateway.conformance.result import Observation
from gateway.conformance.suite import Case, Suite
from gateway.intake import read_records
from gateway.issues import Issue
from gateway.pki import TestPki, build_test_pki
from gateway.security.dgws import Signer
from gateway.security.dgws_verify import verify_envelope
from gateway.security.jws import VerifiedBundle, verify_bundle
from gateway.security.keys import SigningIdentity
from gateway.security.trust import TrustStore

SIGNER = "practice-platform"  # the organisation certificate messages are signed with
OTHER = "lsp"  # another trusted RSA organisation certificate (foreign ID card, forged key)


@dataclass(frozen=True)
class Kit:
    """What transport cases are signed with and checked against."""

    now: datetime
    identity: Callable[[str], SigningIdentity | None]  # a test-PKI certificate by name
    trust: TrustStore | None  # None: a live receiver judges trust itself

    def signer(self, name: str) -> SigningIdentity:
        found = self.identity(name)
        if found is None:
            raise LookupError(f"no certificate {name!r} to sign with")
        return found


def pki_kit(pki: TestPki) -> Kit:
    def identity(name: str) -> SigningIdentity | None:
        entry = pki.entries.get(name)
        if entry is None:
            return None
        return SigningIdentity(entry.private_key, (entry.certificate, *entry.chain), entry.name)

    return Kit(datetime.now(UTC), identity, TrustStore.from_files(pki.trust_path, [pki.crl_path]))


@cache
def own_pki() -> TestPki:
    """A test PKI for `--target self`, made once per process (RSA keys take seconds)."""
    folder = Path(tempfile.mkdtemp(prefix="labgw-conformance-pki-"))
    return build_test_pki(folder, datetime.now(UTC))


def payload(suite: Suite, validators: Validators, tag: str = "") -> bytes:
    """The suite's message, rendered by the pipeline (once per suite and tag); `tag` makes its
    letter id unique."""
    known = validators.payloads.get((suite.name, tag))
    if known is not None:
        return known
    if suite.payload is None:
        raise ValueError(f"suite {suite.name} names no payload records")
    records = json.loads(suite.payload.read_text("utf-8"))
    if tag:
        records["recordId"] = f"{records['recordId']}-{tag}"
    data = json.dumps(records).encode()
    result = validators.translator(suite).translate(read_records(data, "payload", now=suite.now))
    if not result.messages:
        raise ValueError(f"suite {suite.name}: the payload records gave no message")
    content = validators.payloads[(suite.name, tag)] = result.messages[0].content
    return content


def signed(suite: Suite, case: Case, kit: Kit, message: bytes, message_id: str) -> bytes:
    """The bytes of the case: the message signed (by the case's signer), then mutated."""
    mutation = case.mutation or "none"
    signer = kit.signer(case.signer or SIGNER)
    if suite.kind == "dgws":
        ctx = dgws_mutations.Context(
            message, Signer.of(signer), Signer.of(kit.signer(OTHER)), kit.now, message_id
        )
        return dgws_mutations.MUTATIONS[mutation](ctx, ctx.envelope())
    jws = jws_mutations.Context(message, signer, kit.signer(OTHER), kit.now)
    return jws_mutations.MUTATIONS[mutation](jws, jws.signed())


def observe_transport(suite: Suite, case: Case, kit: Kit, validators: Validators) -> Observation:
    message = payload(suite, validators)
    data = signed(suite, case, kit, message, "msg-0001")
    issues: list[Issue]
    if suite.kind == "dgws":
        checked = verify_envelope(data, now=kit.now + timedelta(seconds=30), trust=kit.trust)
        issues = list(checked.issues)
        content = checked.envelope.payload_bytes() if checked.envelope and checked.valid else None
        name = "envelope.xml"
    else:
        verified = verify_bundle(data, kit.trust)
        issues = [] if isinstance(verified, VerifiedBundle) else list(verified)
        content = verified.content if isinstance(verified, VerifiedBundle) else None
        name = "message.json"
    if content is not None:  # verified: now what a receiver checks of the payload
        issues += validators.check_message(content, "payload").issues
    blocking = any(issue.blocking for issue in issues)
    return Observation(
        issues=tuple(issues),
        outcome="invalid" if blocking else "valid",
        inputs={f"unsigned-{name}": message},
        outputs={name: data},
    )
