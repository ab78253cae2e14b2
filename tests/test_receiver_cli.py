"""`labgw receiver`: its TOML settings (faults included) and the command itself, run as a process
that serves until SIGTERM, logging one line per request."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from gateway.errors import ConfigError
from gateway.pki import TestPki
from gateway.receiver import Faults, ReceiptMode, load_receiver_config
from gateway.receiver.tls import client_context
from gateway.routing import Destination
from tests.conftest import assert_no_cpr
from tests.pki_fixture import pki_session  # noqa: F401  (fixture)
from tests.test_receiver import CLIENT_CERT, CPR, Sender, lab_record, letter_id, letters, run


def test_settings_and_faults_come_from_toml_with_paths_from_its_folder(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "receiver.toml"
    path.parent.mkdir()
    path.write_text(
        """
role = "miba"
port = 8445
tls_cert = "tls/miba.pem"
tls_key = "/keys/miba.key.pem"
trust = "trust.pem"
crls = ["crl.pem"]
receipts = "async"
receipts_to = "https://localhost:8443/receipts"
client_ca = "trust.pem"
client_cert_required = true

[faults]
fail_5xx = 2
delay = 0.5
vary_duplicate_receipt = true
""",
        encoding="utf-8",
    )
    config = load_receiver_config(path, port=9000, db=None)
    assert config.role is Destination.MIBA and config.port == 9000
    assert config.tls_cert == path.parent / "tls/miba.pem"
    assert config.tls_key == Path("/keys/miba.key.pem")
    assert config.crls == (path.parent / "crl.pem",)
    assert config.receipts is ReceiptMode.ASYNC and config.client_cert_required
    assert config.faults == Faults(fail_5xx=2, delay=0.5, vary_duplicate_receipt=True)
    assert config.db_path == Path("miba-received.sqlite")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('role = "lsp"\ntls_cert = "a"\ntls_key = "b"\ntrust = "c"\nprot = 1', "unknown settings"),
        ('role = "lsp"\ntls_cert = "a"', "missing settings tls_key, trust"),
        ('role = "dk"\ntls_cert = "a"\ntls_key = "b"\ntrust = "c"', "'dk' is not a valid"),
        ('role = "lsp"\ntls_cert = "a"\ntls_key = "b"\ntrust = "c"\nreceipts = "async"', "needs"),
        (
            'role = "lsp"\ntls_cert = "a"\ntls_key = "b"\ntrust = "c"\n[faults]\nnegative = 1',
            "true or false",
        ),
        ('role = "lsp"\ntls_cert = "a"\ntls_key = "b"\ntrust = "c"\n[faults]\nslow = 1', "slow"),
        ("role = ", "cannot read"),
    ],
)
def test_a_broken_setting_is_refused_with_what_is_wrong(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "receiver.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(expected)):
        load_receiver_config(path)


def test_labgw_receiver_serves_until_sigterm_and_logs_no_cpr(pki: TestPki, tmp_path: Path) -> None:
    tls = pki["lsp-tls"]
    assert tls.cert_path and tls.key_path
    command = [
        sys.executable,
        "-m",
        "gateway",
        "receiver",
        "--as",
        "lsp",
        "--port",
        "0",
        "--trust",
        str(pki.trust_path),
        "--crl",
        str(pki.crl_path),
        "--tls-cert",
        str(tls.cert_path),
        "--tls-key",
        str(tls.key_path),
        "--client-ca",
        str(pki.trust_path),
        "--client-cert-required",
        "--db",
        str(tmp_path / "lsp.sqlite"),
    ]
    process = subprocess.Popen(
        command, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    try:
        url = _announced_url(process)
        (payload,) = letters(lab_record(500))
        envelope = Sender(pki).envelope(payload)
        client = pki[CLIENT_CERT]
        context = client_context(client.cert_path, client.key_path, pki.trust_path)

        async def talk() -> None:
            async with aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=context)
            ) as session:
                async with session.get(f"{url}health") as answer:
                    assert (await answer.json())["role"] == "lsp"
                async with session.post(
                    url, data=envelope, headers={"Content-Type": "text/xml"}
                ) as answer:
                    assert answer.status == 200

        run(talk())
        process.send_signal(signal.SIGTERM)
        _, log = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, log
    assert f"message={letter_id(payload)} outcome=positive duplicate=no status=200" in log
    assert CPR not in log
    assert_no_cpr(log, "labgw receiver's log")
    assert (tmp_path / "lsp.sqlite").exists()


def _announced_url(process: subprocess.Popen[str]) -> str:
    """The URL the receiver prints on stderr once it listens."""
    assert process.stderr is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        found = re.search(r"at (https://\S+/)", line)
        if found:
            return found.group(1)
        if not line and process.poll() is not None:
            break
    raise AssertionError("labgw receiver did not start")


def test_labgw_receiver_needs_its_keys_and_trust(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "receiver", "--as", "lsp"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode != 0
    assert "missing settings tls_cert, tls_key, trust" in result.stderr
