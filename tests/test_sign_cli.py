"""`labgw sign` and `labgw verify` in-process: the acceptance commands of the signing issue."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway.cli import main
from gateway.pki import TestPki
from tests.pki_fixture import PASSWORD, pki_session
from tests.records import record, translate

__all__ = ["pki_session"]


@pytest.fixture(scope="module")
def letter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("letter") / "xrpt01.xml"
    path.write_bytes(translate(record(patient__cpr="1212778221")).messages[0].content)
    return path


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bundle") / "message.json"
    path.write_bytes(translate(record(), syntax="fhir").messages[0].content)
    return path


def _password_file(folder: Path) -> Path:
    path = folder / "p12-password"
    path.touch(mode=0o600)
    path.write_text(PASSWORD + "\n", encoding="utf-8")
    return path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_dgws_sign_then_verify(pki: TestPki, letter: Path, tmp_path: Path) -> None:
    out = tmp_path / "s.xml"
    code, output = run(
        "sign",
        str(letter),
        "--profile",
        "dgws",
        "--cert",
        str(pki["practice-platform"].p12_path),
        "--password-file",
        str(_password_file(tmp_path)),
        "-o",
        str(out),
    )
    assert code == 0, output
    code, output = run("verify", str(out), "--trust", str(pki.trust_path))
    assert code == 0, output
    assert "verified" in output
    tampered = tmp_path / "tampered.xml"
    tampered.write_bytes(out.read_bytes().replace(b"1212778221", b"1212778222", 1))
    code, output = run("verify", str(tampered), "--trust", str(pki.trust_path))
    assert code == 1 and "DGWS-DIGEST" in output and "1212778222" not in output


def test_revoked_signer_is_refused_with_the_crl(pki: TestPki, letter: Path, tmp_path: Path) -> None:
    out = tmp_path / "revoked.xml"
    entry = pki["revoked"]
    code, output = run(
        "sign",
        str(letter),
        "--cert",
        str(entry.cert_path),
        "--key",
        str(entry.key_path),
        "-o",
        str(out),
    )
    assert code == 0, output
    code, output = run(
        "verify",
        str(out),
        "--trust",
        str(pki.trust_path),
        "--crl",
        str(pki.crl_path),
        "--format",
        "json",
    )
    assert code == 1
    payload = json.loads(output)
    rules = [i["details"]["coding"][0]["code"] for i in payload["outcome"]["issue"]]
    assert rules == ["TRUST-REVOKED"]


def test_fhir_sign_then_verify(
    pki: TestPki, bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "signed.json"
    monkeypatch.setenv("LABGW_PKCS12_PASSWORD", PASSWORD)
    code, output = run(
        "sign", str(bundle), "--cert", str(pki["practice-platform-ec"].p12_path), "-o", str(out)
    )
    assert code == 0 and "(fhir)" in output, output
    assert json.loads(out.read_bytes())["signature"]["sigFormat"] == "application/jose"
    code, output = run("verify", str(out), "--trust", str(pki.trust_path))
    assert code == 0, output
    broken = tmp_path / "broken.json"
    broken.write_bytes(out.read_bytes().replace(b'"value":45', b'"value":46', 1))
    code, output = run("verify", str(broken), "--trust", str(pki.trust_path))
    assert code == 1 and "JWS-SIGNATURE" in output


def test_usage_errors_exit_2(pki: TestPki, letter: Path, tmp_path: Path) -> None:
    code, _ = run("verify", str(tmp_path / "absent.xml"), "--trust", str(pki.trust_path))
    assert code == 2
    code, _ = run(
        "sign", str(letter), "--cert", str(tmp_path / "absent.pem"), "-o", str(tmp_path / "x.xml")
    )
    assert code == 2
