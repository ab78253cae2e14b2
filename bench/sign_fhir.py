"""Benchmark: sign and verify a 20-Observation FHIR lab message (Bundle.signature, JWS over JCS).

The message is rendered by labgw itself (20 results of one sample, one FHIR message). Keys and
certificates come from the test PKI (RSA-3072 and P-256 organisation certificates). Prints the
median time of `sign_bundle` and `verify_bundle` (without and with the trust store and its CRL),
and the ratio to a floor measured in the same run with the same key: RFC 8785 canonicalisation of
the same document plus `cryptography` signing (or verifying) its SHA-256 digest. Not a test: it
asserts nothing beyond the message being valid and the signature verifying.

    python bench/sign_fhir.py [--repeat 200]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from translate import records  # bench/translate.py: the same records

from gateway.clock import FixedClock, SequentialIds
from gateway.config import default_config
from gateway.fhir.validate import FhirValidator
from gateway.intake import read_records
from gateway.mapping.tables import default_mappings
from gateway.pipeline import Translator
from gateway.pki import build_test_pki
from gateway.security import canonical_json
from gateway.security.jws import VerifiedBundle, sign_bundle, verify_bundle
from gateway.security.keys import SigningIdentity, load_identity
from gateway.security.trust import TrustStore
from gateway.xml.validate import XmlValidator

NOW = datetime(2025, 12, 1, 8, 0, tzinfo=UTC)
WHO = "Organization/bench"


def message(observations: int = 20) -> bytes:
    """One FHIR message with `observations` results of one sample, rendered by labgw."""
    translator = Translator(
        default_config().with_format("fhir"),
        default_mappings(),
        XmlValidator(),
        FixedClock(NOW),
        SequentialIds(),
        FhirValidator(),
    )
    batch = read_records(
        json.dumps(records(observations, per_sample=observations)).encode(), "bench.json", now=NOW
    )
    result = translator.translate(batch)
    (only,) = result.messages
    return only.content


def median_ms(action: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        action()
        times.append(time.perf_counter() - began)
    return statistics.median(times) * 1000


def floors(identity: SigningIdentity, content: bytes, repeat: int) -> tuple[float, float]:
    """JCS of the document plus signing / verifying its SHA-256 digest with the same key."""
    document = canonical_json.loads(content)
    key = identity.key
    prehashed = utils.Prehashed(hashes.SHA256())
    digest = hashlib.sha256(canonical_json.canonicalize(document)).digest()

    def raw_sign(data: bytes) -> bytes:
        if isinstance(key, rsa.RSAPrivateKey):
            return key.sign(data, padding.PKCS1v15(), prehashed)
        return key.sign(data, ec.ECDSA(prehashed))

    signature = raw_sign(digest)
    public = key.public_key()

    def raw_verify() -> None:
        if isinstance(public, rsa.RSAPublicKey):
            public.verify(signature, digest, padding.PKCS1v15(), prehashed)
        else:
            public.verify(signature, digest, ec.ECDSA(prehashed))

    jcs = median_ms(lambda: hashlib.sha256(canonical_json.canonicalize(document)), repeat)
    return jcs + median_ms(lambda: raw_sign(digest), repeat), jcs + median_ms(raw_verify, repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    content = message()
    print(f"20-Observation FHIR message: {len(content) / 1024:.1f} KiB; median of {args.repeat}")
    print(f"{'key':<10} {'step':<28} {'median ms':>10} {'floor ms':>9} {'x floor':>8}")
    with tempfile.TemporaryDirectory() as directory:
        pki = build_test_pki(Path(directory), NOW)
        trust = TrustStore.from_files(pki.trust_path, [pki.crl_path])
        for label, name in (("RSA-3072", "practice-platform"), ("P-256", "practice-platform-ec")):
            entry = pki[name]
            assert entry.cert_path and entry.key_path
            identity = load_identity(entry.cert_path, entry.key_path)
            signed = sign_bundle(content, identity, WHO, NOW)
            assert isinstance(verify_bundle(signed, trust), VerifiedBundle)
            sign_floor, verify_floor = floors(identity, content, args.repeat)
            rows = [
                ("sign_bundle", partial(sign_bundle, content, identity, WHO, NOW), sign_floor),
                (
                    "verify_bundle, no trust store",
                    partial(verify_bundle, signed, None),
                    verify_floor,
                ),
                (
                    "verify_bundle + trust store",
                    partial(verify_bundle, signed, trust),
                    verify_floor,
                ),
            ]
            for step, action, floor in rows:
                took = median_ms(action, args.repeat)
                print(f"{label:<10} {step:<28} {took:10.3f} {floor:9.3f} {took / floor:8.2f}")


if __name__ == "__main__":
    main()
