"""Signing identities load from PEM or PKCS#12, once per process, and refuse mismatches."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from gateway.errors import ConfigError, InputError
from gateway.pki import TestPki
from gateway.security import keys
from gateway.security.keys import clear_cache, load_certificates, load_identity
from tests.pki_fixture import PASSWORD, pki_session  # noqa: F401


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every file keys.py reads, in order."""
    seen: list[Path] = []
    original = keys._read_bytes

    def counting(path: Path) -> bytes:
        seen.append(path)
        return original(path)

    monkeypatch.setattr(keys, "_read_bytes", counting)
    return seen


def test_pem_identity_has_the_key_and_the_chain_leaf_first(pki: TestPki) -> None:
    entry = pki["lsp"]
    assert entry.cert_path and entry.key_path
    identity = load_identity(entry.cert_path, entry.key_path)
    assert identity.certificate == entry.certificate
    assert identity.chain == (entry.certificate, pki["issuing-ca"].certificate)
    assert identity.key.public_key() == entry.certificate.public_key()


def test_pkcs12_identity_matches_the_pem_one(pki: TestPki) -> None:
    entry = pki["practice-platform-ec"]
    assert entry.p12_path
    identity = load_identity(entry.p12_path, password=PASSWORD)
    assert identity.chain == (entry.certificate, *entry.chain)
    assert identity.key.public_key() == entry.certificate.public_key()


def test_second_load_returns_the_same_object_without_reading_files(
    pki: TestPki, reads: list[Path]
) -> None:
    entry = pki["miba"]
    assert entry.cert_path and entry.key_path and entry.p12_path
    first = load_identity(entry.cert_path, entry.key_path)
    p12 = load_identity(entry.p12_path, password=PASSWORD)
    assert len(reads) == 3
    assert load_identity(entry.cert_path, entry.key_path) is first
    assert load_identity(entry.p12_path, password=PASSWORD.encode()) is p12
    assert len(reads) == 3


def test_a_changed_file_is_read_again(pki: TestPki, reads: list[Path], tmp_path: Path) -> None:
    entry = pki["lsp"]
    assert entry.p12_path
    copy = tmp_path / "lsp.p12"
    copy.write_bytes(entry.p12_path.read_bytes())
    first = load_identity(copy, password=PASSWORD)
    stat = copy.stat()
    os.utime(copy, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    second = load_identity(copy, password=PASSWORD)
    assert second is not first and second.certificate == first.certificate
    assert len(reads) == 2


def test_a_wrong_password_is_not_excused_by_the_cache(pki: TestPki) -> None:
    entry = pki["lsp"]
    assert entry.p12_path
    load_identity(entry.p12_path, password=PASSWORD)
    with pytest.raises(InputError, match="wrong password"):
        load_identity(entry.p12_path, password="wrong")


def test_a_key_that_belongs_to_another_certificate_is_a_config_error(pki: TestPki) -> None:
    assert pki["lsp"].cert_path and pki["miba"].key_path
    with pytest.raises(ConfigError, match="belongs to none"):
        load_identity(pki["lsp"].cert_path, pki["miba"].key_path)


def test_pem_without_a_key_and_missing_files_are_input_errors(pki: TestPki, tmp_path: Path) -> None:
    assert pki["lsp"].cert_path
    with pytest.raises(InputError, match="no PEM private key"):
        load_identity(pki["lsp"].cert_path)
    with pytest.raises(InputError, match="cannot read"):
        load_identity(tmp_path / "missing.pem")


def test_key_and_certificates_in_one_pem_file(pki: TestPki, tmp_path: Path) -> None:
    entry = pki["lsp"]
    assert entry.cert_path and entry.key_path
    both = tmp_path / "both.pem"
    both.write_bytes(entry.key_path.read_bytes() + entry.cert_path.read_bytes())
    assert load_identity(both).certificate == entry.certificate


def test_encrypted_pem_key_needs_its_password(pki: TestPki, tmp_path: Path) -> None:
    entry = pki["lsp"]
    assert entry.cert_path
    key_file = tmp_path / "lsp.key.pem"
    key_file.write_bytes(
        entry.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pem-pw"),
        )
    )
    with pytest.raises(InputError):
        load_identity(entry.cert_path, key_file)
    assert load_identity(entry.cert_path, key_file, "pem-pw").certificate == entry.certificate


def test_load_certificates_reads_pem_der_and_pkcs12(pki: TestPki, tmp_path: Path) -> None:
    entry = pki["lsp"]
    assert entry.cert_path and entry.p12_path
    der = tmp_path / "lsp.cer"
    der.write_bytes(entry.certificate.public_bytes(serialization.Encoding.DER))
    assert load_certificates(der) == (entry.certificate,)
    assert load_certificates(entry.cert_path) == (entry.certificate, *entry.chain)
    assert load_certificates(entry.p12_path, PASSWORD) == (entry.certificate, *entry.chain)
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"hello")
    with pytest.raises(InputError):
        load_certificates(junk)
