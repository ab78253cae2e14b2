"""XML-DSig for the one profile DGWS uses, written out so it is fast and says what it checks.

Exclusive C14N 1.0 for SignedInfo and every reference, SHA-256 (SHA-1 only where a policy admits
it) digests, RSA PKCS#1 v1.5 or ECDSA signatures, references to elements of the same document by
id, the enveloped-signature transform only where the signature sits inside what it signs (the ID
card). Anything else in a signature is refused rather than interpreted. signxml and xmlsec1 check
these signatures in the tests, and these functions check theirs.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from lxml import etree

DS = "http://www.w3.org/2000/09/xmldsig#"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
DIGESTS = {
    "http://www.w3.org/2001/04/xmlenc#sha256": "sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384": "sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512": "sha512",
    "http://www.w3.org/2000/09/xmldsig#sha1": "sha1",
}
METHODS = {  # URI → (key kind, hash)
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256": ("rsa", "sha256"),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384": ("rsa", "sha384"),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": ("rsa", "sha512"),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256": ("ec", "sha256"),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384": ("ec", "sha384"),
    "http://www.w3.org/2000/09/xmldsig#rsa-sha1": ("rsa", "sha1"),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1": ("ec", "sha1"),
}
_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class SignatureError(Exception):
    """A signature that does not verify; `rule` says which check failed."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


@dataclass(frozen=True, slots=True)
class Reference:
    uri: str  # "#id"
    element: etree._Element
    enveloped: bool = False  # the signature lies inside the element (enveloped transform)


def ds(name: str) -> str:
    return f"{{{DS}}}{name}"


def canonical(element: etree._Element, enveloped: etree._Element | None = None) -> bytes:
    """Exclusive C14N 1.0 of an element in its document; `enveloped`: leave that child out."""
    if enveloped is None:
        return etree.tostring(element, method="c14n", exclusive=True, with_comments=False)
    parent = enveloped.getparent()
    assert parent is not None
    position = parent.index(enveloped)
    tail = enveloped.tail
    parent.remove(enveloped)
    try:
        return etree.tostring(element, method="c14n", exclusive=True, with_comments=False)
    finally:
        enveloped.tail = tail
        parent.insert(position, enveloped)


def _digest(data: bytes, name: str) -> str:
    return base64.b64encode(hashlib.new(name, data).digest()).decode("ascii")


def _method_uri(key: PrivateKey, digest: str) -> str:
    kind = "ec" if isinstance(key, ec.EllipticCurvePrivateKey) else "rsa"
    return next(uri for uri, spec in METHODS.items() if spec == (kind, digest))


def sign(
    references: list[Reference],
    key: PrivateKey,
    chain: tuple[x509.Certificate, ...],
    digest: str = "sha256",
    signature: etree._Element | None = None,
) -> etree._Element:
    """Build a `ds:Signature` over `references`.

    Args:
        references: what to sign; an enveloped reference must contain `signature`.
        signature: an empty `ds:Signature` element already in place (for enveloped
            signatures); a new one is made when None, to be inserted by the caller.
    """
    signature = (
        signature if signature is not None else etree.Element(ds("Signature"), nsmap={"ds": DS})
    )
    signed_info = etree.SubElement(signature, ds("SignedInfo"))
    etree.SubElement(signed_info, ds("CanonicalizationMethod"), Algorithm=EXC_C14N)
    etree.SubElement(signed_info, ds("SignatureMethod"), Algorithm=_method_uri(key, digest))
    digest_uri = next(uri for uri, name in DIGESTS.items() if name == digest)
    value = etree.SubElement(signature, ds("SignatureValue"))
    key_info = etree.SubElement(signature, ds("KeyInfo"))
    x509_data = etree.SubElement(key_info, ds("X509Data"))
    for certificate in chain:
        etree.SubElement(x509_data, ds("X509Certificate")).text = base64.b64encode(
            certificate.public_bytes(serialization.Encoding.DER)
        ).decode("ascii")
    for reference in references:
        node = etree.SubElement(signed_info, ds("Reference"), URI=reference.uri)
        transforms = etree.SubElement(node, ds("Transforms"))
        if reference.enveloped:
            etree.SubElement(transforms, ds("Transform"), Algorithm=ENVELOPED)
        etree.SubElement(transforms, ds("Transform"), Algorithm=EXC_C14N)
        etree.SubElement(node, ds("DigestMethod"), Algorithm=digest_uri)
        data = canonical(reference.element, signature if reference.enveloped else None)
        etree.SubElement(node, ds("DigestValue")).text = _digest(data, digest)
    value.text = base64.b64encode(_sign_bytes(key, canonical(signed_info), digest)).decode()
    return signature


def _sign_bytes(key: PrivateKey, data: bytes, digest: str) -> bytes:
    algorithm = _HASHES[digest]()
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), algorithm)
    der = key.sign(data, ec.ECDSA(algorithm))
    r, s = decode_dss_signature(der)
    size = (key.curve.key_size + 7) // 8
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")  # XML-DSig: raw r ‖ s


def check_algorithms(
    signature: etree._Element, allowed_methods: frozenset[str], allowed_digests: frozenset[str]
) -> None:
    """Refuse a canonicalisation, signature or digest method outside the profile.

    Raises:
        SignatureError: rule DGWS-ALGORITHM (DGWS-SIGNATURE when there is no SignedInfo).
    """
    signed_info = signature.find(ds("SignedInfo"))
    if signed_info is None:
        raise SignatureError("DGWS-SIGNATURE", "the signature has no SignedInfo")
    c14n = signed_info.find(ds("CanonicalizationMethod"))
    if c14n is None or c14n.get("Algorithm") != EXC_C14N:
        raise SignatureError("DGWS-ALGORITHM", "SignedInfo is not canonicalised with exc-c14n")
    method = signed_info.find(ds("SignatureMethod"))
    method_uri = method.get("Algorithm") if method is not None else None
    if method_uri not in allowed_methods or method_uri not in METHODS:
        raise SignatureError("DGWS-ALGORITHM", f"signature method {method_uri} not allowed")
    for digest in signed_info.iter(ds("DigestMethod")):
        uri = digest.get("Algorithm")
        if uri not in allowed_digests or uri not in DIGESTS:
            raise SignatureError("DGWS-ALGORITHM", f"digest method {uri} not allowed")


def verify(
    signature: etree._Element,
    resolve: Callable[[str], etree._Element],
    certificate: x509.Certificate,
    allowed_methods: frozenset[str],
    allowed_digests: frozenset[str],
) -> list[etree._Element]:
    """Check one signature with the given certificate; return the elements it covers.

    Raises:
        SignatureError: with rule DGWS-ALGORITHM, DGWS-REFERENCES, DGWS-DIGEST or
            DGWS-SIGNATURE.
    """
    check_algorithms(signature, allowed_methods, allowed_digests)
    signed_info = signature.find(ds("SignedInfo"))
    value = signature.findtext(ds("SignatureValue"))
    method = signed_info.find(ds("SignatureMethod")) if signed_info is not None else None
    if signed_info is None or method is None or not value:
        raise SignatureError("DGWS-SIGNATURE", "the signature has no SignedInfo or value")
    covered = [
        _check_reference(reference, signature, resolve)
        for reference in signed_info.findall(ds("Reference"))
    ]
    kind, digest = METHODS[method.get("Algorithm") or ""]
    _check_value(certificate, kind, digest, _received(signed_info), value)
    return covered


def _check_reference(
    reference: etree._Element,
    signature: etree._Element,
    resolve: Callable[[str], etree._Element],
) -> etree._Element:
    uri = reference.get("URI") or ""
    element = resolve(uri)
    transforms = [
        t.get("Algorithm") for t in reference.iterfind(f"{ds('Transforms')}/{ds('Transform')}")
    ]
    enveloped = signature in element.iter(ds("Signature"))
    expected = [ENVELOPED, EXC_C14N] if enveloped else [EXC_C14N]
    if transforms != expected:
        raise SignatureError(
            "DGWS-ALGORITHM",
            f"reference {uri}: transforms {transforms} are not the profile's {expected}",
        )
    digest_method = reference.find(ds("DigestMethod"))
    name = DIGESTS.get(digest_method.get("Algorithm") or "") if digest_method is not None else None
    if name is None:
        raise SignatureError("DGWS-ALGORITHM", f"reference {uri}: digest method not allowed")
    data = _received(element, signature if enveloped else None)
    if _digest(data, name) != (reference.findtext(ds("DigestValue")) or "").strip():
        raise SignatureError("DGWS-DIGEST", f"reference {uri} was changed after signing")
    return element


def _received(element: etree._Element, enveloped: etree._Element | None = None) -> bytes:
    """`canonical` of received XML, which exc-c14n may refuse (a relative namespace URI)."""
    try:
        return canonical(element, enveloped)
    except etree.C14NError as exc:
        raise SignatureError("DGWS-SIGNATURE", f"exc-c14n refuses the signed XML: {exc}") from exc


def _check_value(
    certificate: x509.Certificate, kind: str, digest: str, data: bytes, value: str
) -> None:
    public = certificate.public_key()
    try:
        raw = base64.b64decode("".join(value.split()))
    except ValueError as exc:  # binascii.Error, or a character outside ASCII
        raise SignatureError("DGWS-SIGNATURE", "the signature value is not base64") from exc
    algorithm = _HASHES[digest]()
    try:
        if kind == "rsa" and isinstance(public, rsa.RSAPublicKey):
            public.verify(raw, data, padding.PKCS1v15(), algorithm)
        elif kind == "ec" and isinstance(public, ec.EllipticCurvePublicKey):
            half = len(raw) // 2
            der = encode_dss_signature(
                int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
            )
            public.verify(der, data, ec.ECDSA(algorithm))
        else:
            raise SignatureError("DGWS-ALGORITHM", "the signature method does not fit the key")
    except InvalidSignature as exc:
        raise SignatureError("DGWS-SIGNATURE", "the signature value does not verify") from exc
