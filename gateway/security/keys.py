"""Signing identities (private key + certificate chain) from PEM or PKCS#12, loaded once.

DESIGN §6: "Keys and certificates: PEM or PKCS#12, loaded once." A process loads each identity
one time: `load_identity` caches by resolved path, modification time, size and a digest of the
password, so a changed file is read again and a wrong password never rides on a cached success.
All file reading goes through `_read_bytes`, the one place this module touches the disk.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from gateway.errors import ConfigError, InputError

PKCS12_SUFFIXES = (".p12", ".pfx")

SigningKey: TypeAlias = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
_CacheKey: TypeAlias = tuple[tuple[str, int, int], ...]


@dataclass(frozen=True, slots=True)
class SigningIdentity:
    """A private key and its certificate chain, leaf first."""

    key: SigningKey
    chain: tuple[x509.Certificate, ...]
    source: str

    @property
    def certificate(self) -> x509.Certificate:
        return self.chain[0]


_cache: dict[tuple[_CacheKey, str], SigningIdentity] = {}
_lock = threading.Lock()


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc


def _stamp(path: Path) -> tuple[str, int, int]:
    try:
        resolved = path.resolve(strict=True)
        info = resolved.stat()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc
    return str(resolved), info.st_mtime_ns, info.st_size


def _password_bytes(password: str | bytes | None) -> bytes | None:
    return password.encode("utf-8") if isinstance(password, str) else password


def load_identity(
    path: Path, key_path: Path | None = None, password: str | bytes | None = None
) -> SigningIdentity:
    """The signing identity in `path` (PKCS#12 by suffix, else PEM), once per process.

    Args:
        path: a `.p12`/`.pfx` file, or a PEM file with the certificate chain (and maybe the key).
        key_path: the PEM private key when it is not in `path`.
        password: for the PKCS#12 file or an encrypted PEM key.

    Raises:
        InputError: a file is missing, unreadable, not PEM/PKCS#12, or the password is wrong.
        ConfigError: the key is not RSA or EC, or it does not belong to the first certificate.
    """
    files = (path,) if key_path is None else (path, key_path)
    secret = hashlib.sha256(_password_bytes(password) or b"").hexdigest()
    cache_key = (tuple(_stamp(file) for file in files), secret)
    with _lock:
        cached = _cache.get(cache_key)
        if cached is not None:
            return cached
        identity = _load(path, key_path, _password_bytes(password))
        _cache[cache_key] = identity
        return identity


def clear_cache() -> None:
    """Forget every loaded identity (tests; key rotation without a restart)."""
    with _lock:
        _cache.clear()


def _load(path: Path, key_path: Path | None, password: bytes | None) -> SigningIdentity:
    if path.suffix.lower() in PKCS12_SUFFIXES:
        key, chain = _from_pkcs12(path, password)
    else:
        data = _read_bytes(path)
        key_data = data if key_path is None else _read_bytes(key_path)
        key = _pem_key(key_data, key_path or path, password)
        chain = _pem_certificates(data, path)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ConfigError(f"{path}: a {type(key).__name__} cannot sign; RSA or EC expected")
    leaf = [cert for cert in chain if cert.public_key() == key.public_key()]
    if not leaf:
        raise ConfigError(f"{path}: the private key belongs to none of the certificates")
    ordered = (leaf[0], *(cert for cert in chain if cert != leaf[0]))
    return SigningIdentity(key, ordered, str(path))


def _from_pkcs12(path: Path, password: bytes | None) -> tuple[object, tuple[x509.Certificate, ...]]:
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(_read_bytes(path), password)
    except ValueError as exc:
        raise InputError(f"cannot open {path}: wrong password or not PKCS#12 ({exc})") from exc
    if key is None or cert is None:
        raise InputError(f"{path}: the PKCS#12 file holds no private key and certificate")
    return key, (cert, *extra)


def _pem_key(data: bytes, path: Path, password: bytes | None) -> object:
    if b"PRIVATE KEY-----" not in data:
        raise InputError(f"{path}: no PEM private key (give the key file too)")
    try:
        return serialization.load_pem_private_key(data, password)
    except TypeError as exc:  # encrypted without a password, or a password for a plain key
        raise InputError(f"{path}: {exc}") from exc
    except ValueError as exc:
        raise InputError(f"cannot read the private key in {path} ({exc})") from exc


def _pem_certificates(data: bytes, path: Path) -> tuple[x509.Certificate, ...]:
    try:
        return tuple(x509.load_pem_x509_certificates(data))
    except ValueError as exc:
        raise InputError(f"{path}: no PEM certificate ({exc})") from exc


def load_certificates(
    path: Path, password: str | bytes | None = None
) -> tuple[x509.Certificate, ...]:
    """Every certificate in a PEM, DER or PKCS#12 file (no key needed), in file order.

    Raises:
        InputError: unreadable, no certificate, or a PKCS#12 file with the wrong password.
    """
    data = _read_bytes(path)
    if path.suffix.lower() in PKCS12_SUFFIXES:
        try:
            bundle = pkcs12.load_pkcs12(data, _password_bytes(password))
        except ValueError as exc:
            raise InputError(f"cannot open {path}: wrong password or not PKCS#12 ({exc})") from exc
        certs = [bundle.cert.certificate] if bundle.cert else []
        return (*certs, *(extra.certificate for extra in bundle.additional_certs))
    if b"-----BEGIN CERTIFICATE-----" in data:
        return _pem_certificates(data, path)
    try:
        return (x509.load_der_x509_certificate(data),)
    except ValueError as exc:
        raise InputError(f"{path}: not a PEM, DER or PKCS#12 certificate file") from exc
