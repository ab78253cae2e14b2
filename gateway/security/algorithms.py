"""The algorithm allow-list for certificates, and plain descriptions of keys and names.

One place decides which keys and signature hashes labgw accepts (DESIGN §6: RSA-SHA256 or
ECDSA-SHA256; SHA-1 only where a receiver demands it, and never for certificates):

- RSA keys of at least 2048 bits (OCES3 uses 3072 and 4096);
- EC keys on P-256 or P-384;
- certificate and CRL signatures with SHA-256, SHA-384 or SHA-512 (PKCS#1 v1.5, RSASSA-PSS or
  ECDSA). SHA-1, MD5 and everything else is refused.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import NameOID, SignatureAlgorithmOID

MIN_RSA_BITS = 2048
ALLOWED_CURVES = frozenset({"secp256r1", "secp384r1"})
ALLOWED_HASHES = frozenset({"sha256", "sha384", "sha512"})

_ECDSA = frozenset(
    {
        SignatureAlgorithmOID.ECDSA_WITH_SHA1,
        SignatureAlgorithmOID.ECDSA_WITH_SHA256,
        SignatureAlgorithmOID.ECDSA_WITH_SHA384,
        SignatureAlgorithmOID.ECDSA_WITH_SHA512,
    }
)
_RSA_PKCS1 = frozenset(
    {
        SignatureAlgorithmOID.RSA_WITH_MD5,
        SignatureAlgorithmOID.RSA_WITH_SHA1,
        SignatureAlgorithmOID.RSA_WITH_SHA256,
        SignatureAlgorithmOID.RSA_WITH_SHA384,
        SignatureAlgorithmOID.RSA_WITH_SHA512,
    }
)
_NAME_LABELS = {
    NameOID.SERIAL_NUMBER: "serialNumber",
    NameOID.ORGANIZATION_IDENTIFIER: "organizationIdentifier",
}


def key_problem(key: CertificatePublicKeyTypes) -> str | None:
    """Why `key` is not allowed, or None when it is."""
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            return f"RSA key of {key.key_size} bits; at least {MIN_RSA_BITS} expected"
        return None
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in ALLOWED_CURVES:
            return f"EC key on {key.curve.name}; P-256 or P-384 expected"
        return None
    return f"{describe_key(key)} key; RSA or EC (P-256, P-384) expected"


def signature_problem(signed: x509.Certificate | x509.CertificateRevocationList) -> str | None:
    """Why the signature algorithm of a certificate or CRL is not allowed, or None."""
    try:
        digest = signed.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return f"signature algorithm {signed.signature_algorithm_oid.dotted_string} not supported"
    if digest is None or digest.name not in ALLOWED_HASHES:
        name = digest.name if digest else signed.signature_algorithm_oid.dotted_string
        return f"signature with {name}; SHA-256, SHA-384 or SHA-512 expected"
    return None


def describe_key(key: CertificatePublicKeyTypes) -> str:
    """`RSA 3072`, `EC secp256r1`, or the key's class name."""
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}"
    return type(key).__name__.removeprefix("_").removesuffix("PublicKey")


def describe_signature(cert: x509.Certificate) -> str:
    """`RSASSA-PSS SHA-256`, `ECDSA SHA-256`, `RSA PKCS#1 v1.5 SHA-256` …"""
    try:
        digest = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return cert.signature_algorithm_oid.dotted_string
    hash_name = digest.name.upper().replace("SHA", "SHA-") if digest else "no hash"
    oid = cert.signature_algorithm_oid
    if oid == SignatureAlgorithmOID.RSASSA_PSS:
        return f"RSASSA-PSS {hash_name}"
    if oid in _ECDSA:
        return f"ECDSA {hash_name}"
    if oid in _RSA_PKCS1:
        return f"RSA PKCS#1 v1.5 {hash_name}"
    return oid.dotted_string


def name_text(name: x509.Name) -> str:
    """A distinguished name in certificate order (`CN=…, serialNumber=…, O=…, C=DK`).

    Each attribute is escaped as RFC 4514 says, labelled as OCES3 documentation labels them.
    """
    return ", ".join(rdn.rfc4514_string(_NAME_LABELS) for rdn in name.rdns)
