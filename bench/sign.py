"""Benchmark: sign and verify DGWS envelopes around a 10-result XRPT01 letter.

Prints the median sign and verify time per envelope for RSA-3072 and P-256 keys and the ratio to a
floor measured in the same run on the same data: `cryptography` signing (or verifying) a SHA-256
digest with the same key, plus lxml exclusive C14N of the same document. Not a test.

    python bench/sign.py [--repeat 200]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from translate import records  # bench/translate.py: the same records as the translate benchmark

from gateway.clock import FixedClock, SequentialIds
from gateway.config import default_config
from gateway.intake import read_records
from gateway.mapping.tables import default_mappings
from gateway.pipeline import Translator
from gateway.security.dgws import Signer, build_envelope, make_id_card
from gateway.security.dgws_verify import verify_envelope
from gateway.security.keys import SigningIdentity
from gateway.xml.validate import XmlValidator

NOW = datetime(2025, 12, 1, 8, 0, tzinfo=UTC)


def signer(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> Signer:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return Signer(SigningIdentity(key, (certificate,), "bench"), "12345678", "bench")


def median_ms(action: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def xrpt01_letter(results: int) -> bytes:
    """One XRPT01 letter of `results` results, rendered by the real pipeline."""
    batch = read_records(json.dumps(records(results)).encode(), "bench.json", now=NOW)
    translator = Translator(
        default_config(), default_mappings(), XmlValidator(), FixedClock(NOW), SequentialIds()
    )
    (message,) = translator.translate(batch).messages
    return message.content


def measure(
    name: str, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, payload: bytes, repeat: int
) -> None:
    identity = signer(key)
    card = make_id_card(identity, NOW)
    envelope = build_envelope(payload, card, identity, "m", NOW)
    tree = etree.fromstring(envelope)
    digest = hashes.Hash(hashes.SHA256())
    digest.update(envelope)
    data = digest.finalize()

    def raw_sign() -> bytes:
        etree.tostring(tree, method="c14n", exclusive=True)
        if isinstance(key, rsa.RSAPrivateKey):
            return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return key.sign(data, ec.ECDSA(hashes.SHA256()))

    signature = raw_sign()

    def raw_verify() -> None:
        etree.tostring(tree, method="c14n", exclusive=True)
        public = key.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            public.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        else:
            public.verify(signature, data, ec.ECDSA(hashes.SHA256()))

    sign_ms = median_ms(lambda: build_envelope(payload, card, identity, "m", NOW), repeat)
    verify_ms = median_ms(lambda: verify_envelope(envelope, now=NOW, trust=None), repeat)
    floor_sign = median_ms(raw_sign, repeat)
    floor_verify = median_ms(raw_verify, repeat)
    print(
        f"  {name:9} sign   {sign_ms:7.2f} ms  floor {floor_sign:6.2f} ms  "
        f"{sign_ms / floor_sign:5.1f}× floor"
    )
    print(
        f"  {name:9} verify {verify_ms:7.2f} ms  floor {floor_verify:6.2f} ms  "
        f"{verify_ms / floor_verify:5.1f}× floor   (two signatures: ID card and envelope)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    payload = xrpt01_letter(10)
    print(
        f"DGWS envelope around a 10-result XRPT01 letter ({len(payload)} bytes), "
        f"median of {args.repeat}, one core"
    )
    measure(
        "RSA-3072",
        rsa.generate_private_key(public_exponent=65537, key_size=3072),
        payload,
        args.repeat,
    )
    measure("P-256", ec.generate_private_key(ec.SECP256R1()), payload, args.repeat)


if __name__ == "__main__":
    main()
