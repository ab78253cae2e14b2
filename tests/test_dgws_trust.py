"""DGWS envelopes signed with the test PKI: trusted signers pass, every failure class is named."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.pki import TestPki
from gateway.pki.build import LEAVES
from gateway.security.dgws import Signer, build_envelope, make_id_card
from gateway.security.dgws_verify import verify_envelope
from gateway.security.keys import SigningIdentity
from gateway.security.trust import TrustStore
from tests.pki_fixture import pki_session
from tests.records import record, translate

__all__ = ["pki_session"]  # the session fixture `pki`


@pytest.fixture(scope="module")
def payload() -> bytes:
    return translate(record(patient__cpr="1212778221")).messages[0].content


@pytest.fixture(scope="module")
def trust(pki: TestPki) -> TrustStore:
    return TrustStore.from_files(pki.trust_path, [pki.crl_path])


@pytest.mark.parametrize("leaf", LEAVES, ids=[leaf.name for leaf in LEAVES])
def test_signer_certificates(leaf: object, pki: TestPki, trust: TrustStore, payload: bytes) -> None:
    entry = pki[leaf.name]  # type: ignore[attr-defined]
    chain = (entry.certificate, *entry.chain)
    signer = Signer.of(SigningIdentity(entry.private_key, chain, entry.name))
    now = datetime.now(UTC)
    envelope = build_envelope(payload, make_id_card(signer, now), signer, "m", now)
    result = verify_envelope(envelope, now=now, trust=trust)
    rules = [i.rule for i in result.issues if i.blocking]
    if entry.expect is None:
        assert result.valid, [str(i) for i in result.issues]
    else:
        assert entry.expect in rules, [str(i) for i in result.issues]
        assert result.envelope is None
