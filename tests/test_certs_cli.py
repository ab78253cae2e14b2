"""`labgw certs init` writes a test PKI; `labgw certs show` reports a certificate and its expiry."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.serialization import pkcs12

from gateway.cli import main
from gateway.pki import LEAVES, TestPki
from tests.pki_fixture import PASSWORD, pki_session  # noqa: F401


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_init_builds_the_pki_and_prints_what_it_wrote(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "pki"
    password = tmp_path / "password"
    password.touch(mode=0o600)
    password.write_text("cli-pw\n", encoding="utf-8")
    result = runner.invoke(main, ["certs", "init", str(out), "--password-file", str(password)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "pki.json").read_text("utf-8"))
    for item in manifest["certificates"]:
        assert item["name"] in result.output
        assert item["cert"] in result.output
    assert "trust.pem" in result.output and "crl.pem" in result.output
    assert {spec.name for spec in LEAVES} <= {item["name"] for item in manifest["certificates"]}
    key, cert, _ = pkcs12.load_key_and_certificates((out / "lsp.p12").read_bytes(), b"cli-pw")
    assert key is not None and cert is not None
    secrets = [path for path in out.iterdir() if path.name.endswith((".key.pem", ".p12"))]
    assert secrets and all(path.stat().st_mode & 0o077 == 0 for path in secrets)  # owner only


def test_init_refuses_a_folder_that_is_not_empty(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    result = runner.invoke(main, ["certs", "init", str(tmp_path)])
    assert result.exit_code == 2
    assert "not empty" in result.output


def test_show_prints_subject_issuer_key_validity_and_days_left(
    runner: CliRunner, pki: TestPki
) -> None:
    entry = pki["lsp"]
    result = runner.invoke(
        main, ["certs", "show", str(entry.cert_path), "--now", pki.created.isoformat()]
    )
    assert result.exit_code == 0, result.output
    assert "subject:    CN=lsp, serialNumber=UI:DK-O:G:" in result.output
    assert "issuer:     CN=labgw Test OCES udstedende-CA 1" in result.output
    assert "key:        RSA 3072" in result.output
    assert "signature:  RSASSA-PSS SHA-256" in result.output
    assert "not after:  " + entry.certificate.not_valid_after_utc.isoformat() in result.output
    days = (entry.certificate.not_valid_after_utc - pki.created).days
    assert f"days left:  {days}" in result.output
    assert "[2/2]" in result.output  # the issuing CA that travels with it


def test_show_reads_pkcs12_with_the_password(
    runner: CliRunner, pki: TestPki, tmp_path: Path
) -> None:
    entry = pki["practice-platform-ec"]
    password = tmp_path / "password"
    password.touch(mode=0o600)
    password.write_text(PASSWORD, encoding="utf-8")
    args = ["certs", "show", str(entry.p12_path), "--password-file", str(password)]
    result = runner.invoke(main, [*args, "--now", pki.created.isoformat()])
    assert result.exit_code == 0, result.output
    assert "key:        EC secp256r1" in result.output


def test_show_takes_the_password_from_the_environment(runner: CliRunner, pki: TestPki) -> None:
    result = runner.invoke(
        main,
        ["certs", "show", str(pki["lsp"].p12_path), "--now", pki.created.isoformat()],
        env={"LABGW_PKCS12_PASSWORD": PASSWORD},
    )
    assert result.exit_code == 0, result.output


def test_expired_certificate_warns_and_exits_1(runner: CliRunner, pki: TestPki) -> None:
    result = runner.invoke(
        main, ["certs", "show", str(pki["expired"].cert_path), "--now", pki.created.isoformat()]
    )
    assert result.exit_code == 1
    assert "error [PKI-EXPIRED]" in result.output


@pytest.mark.parametrize(
    ("warn_days", "exit_code"),
    [pytest.param(30, 0, id="default-window"), pytest.param(5000, 1, id="wide-window")],
)
def test_expiry_within_warn_days_warns_and_exits_1(
    runner: CliRunner, pki: TestPki, warn_days: int, exit_code: int
) -> None:
    """The leaf runs three years and the issuing CA ten: a 5000-day window catches both."""
    args = ["certs", "show", str(pki["lsp"].cert_path), "--warn-days", str(warn_days)]
    result = runner.invoke(main, [*args, "--now", pki.created.isoformat()])
    assert result.exit_code == exit_code, result.output
    assert result.output.count("warning [PKI-EXPIRES-SOON]") == (2 if exit_code else 0)


def test_the_default_window_is_30_days(runner: CliRunner, pki: TestPki) -> None:
    end = pki["lsp"].certificate.not_valid_after_utc
    for days_before, exit_code in ((31, 0), (29, 1)):
        at = (end - timedelta(days=days_before)).isoformat()
        result = runner.invoke(main, ["certs", "show", str(pki["lsp"].cert_path), "--now", at])
        assert result.exit_code == exit_code, (days_before, result.output)


def test_not_yet_valid_certificate_exits_1(runner: CliRunner, pki: TestPki) -> None:
    path = str(pki["not-yet-valid"].cert_path)
    result = runner.invoke(main, ["certs", "show", path, "--now", pki.created.isoformat()])
    assert result.exit_code == 1
    assert "warning [PKI-NOT-YET-VALID]" in result.output


@pytest.mark.parametrize(
    "case",
    ["missing", "garbage", "wrong-password"],
)
def test_unreadable_input_exits_2(
    runner: CliRunner, pki: TestPki, tmp_path: Path, case: str
) -> None:
    if case == "missing":
        args = [str(tmp_path / "nope.pem")]
    elif case == "garbage":
        junk = tmp_path / "junk.pem"
        junk.write_bytes(b"\x00not a certificate")
        args = [str(junk)]
    else:
        wrong = tmp_path / "wrong"
        wrong.touch(mode=0o600)
        wrong.write_text("wrong", encoding="utf-8")
        args = [str(pki["lsp"].p12_path), "--password-file", str(wrong)]
    result = runner.invoke(main, ["certs", "show", *args])
    assert result.exit_code == 2
    assert result.output.startswith("labgw: ")


def test_show_lists_both_certificates_of_the_trust_bundle(runner: CliRunner, pki: TestPki) -> None:
    result = runner.invoke(
        main, ["certs", "show", str(pki.trust_path), "--now", pki.created.isoformat()]
    )
    assert result.exit_code == 0
    assert "CN=labgw Test OCES rod-CA" in result.output and "key:        RSA 4096" in result.output
