"""File permissions at start (issue 9): a key, password or token file that group or others may
use, or a store others may use, stops the service or receiver with the file, its mode and the
fix; private ones start. And no command-line option takes a secret itself."""

from __future__ import annotations

import asyncio
import re
import shutil
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from gateway.cli import main
from gateway.demo import privacy_key, receiver_config, service_config
from gateway.errors import ConfigError
from gateway.outbox.sqlite import SqliteStore
from gateway.pki import TestPki
from gateway.receiver.app import start_receiver
from gateway.receiver.config import ReceiptMode, ReceiverConfig
from gateway.routing import Destination
from gateway.security.permissions import check_secret_files, prepare_store
from gateway.service import keyfiles
from gateway.service.access import OPERATOR_BY_TOKEN, token_digest
from gateway.service.config import ServiceConfig, load_service_config
from gateway.service.run import start_service
from tests.pki_fixture import PASSWORD, pki_session  # noqa: F401  (fixture)
from tests.records import CIPHER

NOWHERE = "https://127.0.0.1:9/"


def _private_copy(source: Path, folder: Path) -> Path:
    """A copy only its owner may read: the session's test PKI is shared, so tests change the
    modes of copies."""
    folder.mkdir(mode=0o700, exist_ok=True)
    copy = folder / source.name
    shutil.copyfile(source, copy)
    copy.chmod(0o600)
    return copy


def _service(pki: TestPki, tmp_path: Path) -> ServiceConfig:
    """The demo's gateway with every secret file a private copy: a PKCS#12 signing identity,
    the TLS key, the transport's client key, the privacy key."""
    keys = tmp_path / "keys"
    config = service_config(pki, tmp_path, dict.fromkeys(Destination, NOWHERE))
    signing, tls = pki["practice-platform"], pki["practice-platform-tls"]
    assert signing.p12_path and tls.key_path and config.tls and config.privacy.file
    tls_key = _private_copy(tls.key_path, keys)
    return replace(
        config,
        identity=_private_copy(signing.p12_path, keys),
        identity_key=None,
        password=PASSWORD,
        tls=replace(config.tls, key=tls_key),
        transport=replace(config.transport, client_key=tls_key),
        privacy=replace(config.privacy, file=_private_copy(config.privacy.file, keys)),
    )


def _refusal(path: Path, mode: str, fix: str) -> str:
    """The refusal: the file, its mode and the command that fixes it."""
    name = re.escape(str(path))
    return rf"{name} has mode {mode}, .* \(fix: chmod {fix} {name}\)"


def test_a_service_whose_secret_files_are_private_starts(pki: TestPki, tmp_path: Path) -> None:
    config = _service(pki, tmp_path)
    named = {setting for setting, _ in keyfiles.configured(config)}
    assert named == {
        "signing.identity",
        "service.tls.key",
        "transport.client_key",
        "privacy.key_file",
    }

    async def scenario() -> None:
        running = await start_service(config)
        await running.stop()

    asyncio.run(scenario())
    assert (tmp_path / "outbox.db").stat().st_mode & 0o777 == 0o600  # made private


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620])
@pytest.mark.parametrize(
    "setting", ["signing.identity", "signing.key", "service.tls.key", "transport.client_key",
                "privacy.key_file"],
)  # fmt: skip
def test_a_secret_file_group_or_others_may_use_stops_the_service(
    pki: TestPki, tmp_path: Path, setting: str, mode: int
) -> None:
    config = _service(pki, tmp_path)
    if setting == "signing.key":  # a PEM chain with its key beside it
        signing = pki["practice-platform"]
        assert signing.cert_path and signing.key_path
        key = _private_copy(signing.key_path, tmp_path / "keys")
        config = replace(config, identity=signing.cert_path, identity_key=key, password=None)
        exposed = key
    else:
        exposed = dict(keyfiles.configured(config))[setting]
    if setting == "transport.client_key":  # its own copy, so the TLS key stays private
        exposed = _private_copy(exposed, tmp_path / "client")
        config = replace(config, transport=replace(config.transport, client_key=exposed))
    exposed.chmod(mode)
    with pytest.raises(ConfigError, match=_refusal(exposed, f"{mode:04o}", "600")) as refused:
        asyncio.run(start_service(config))
    assert str(refused.value).startswith(f"{setting} ")
    assert not (tmp_path / "outbox.db").exists()  # refused before anything was opened


def _serve_toml(tmp_path: Path, **secrets: int) -> Path:
    """A service file naming a password file and an operator tokens file, with these modes."""
    for name, mode in secrets.items():
        path = tmp_path / name
        path.touch(mode=0o600)
        path.write_text("s3cret\n", encoding="utf-8")
        path.chmod(mode)
    toml = tmp_path / "labgw.toml"
    toml.write_text(
        '[signing]\nidentity = "k.p12"\npassword_file = "password"\n'
        '[access]\noperator_tokens_file = "tokens"\n',
        encoding="utf-8",
    )
    return toml


@pytest.mark.parametrize("exposed", ["password", "tokens"])
def test_labgw_serve_checks_password_and_token_files_before_reading_them(
    tmp_path: Path, exposed: str
) -> None:
    toml = _serve_toml(tmp_path, **({"password": 0o600, "tokens": 0o600} | {exposed: 0o644}))
    result = CliRunner().invoke(main, ["serve", "--config", str(toml)])
    assert result.exit_code == 3, result.output
    setting = {"password": "signing.password_file", "tokens": "access.operator_tokens_file"}
    assert f"{setting[exposed]} {tmp_path / exposed} has mode 0644" in result.output
    assert f"chmod 600 {tmp_path / exposed}" in result.output


def test_private_password_and_token_files_pass(tmp_path: Path) -> None:
    config = load_service_config(_serve_toml(tmp_path, password=0o600, tokens=0o400))
    assert config.password == "s3cret"
    assert config.access.tokens == {token_digest("s3cret"): OPERATOR_BY_TOKEN}


# ---------------------------------------------------------------- SQLite stores


def test_a_new_outbox_store_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "data" / "outbox.db"

    async def scenario() -> None:
        store = SqliteStore(path, CIPHER)
        await store.setup()
        await store.accept([], [], datetime.now(UTC))
        assert path.with_name("outbox.db-wal").stat().st_mode & 0o777 == 0o600
        await store.close()

    asyncio.run(scenario())
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert path.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("where", "mode", "fix"),
    [("file", 0o604, "600"), ("directory", 0o755, "700"), ("wal", 0o644, "600"),
     ("directory", 0o701, "700"), ("file", 0o602, "600")],
)  # fmt: skip
def test_a_store_others_may_use_is_refused(tmp_path: Path, where: str, mode: int, fix: str) -> None:
    """The outbox's and a receiver's store alike; the group (operators) may read."""
    folder = tmp_path / "store"
    folder.mkdir(mode=0o750)
    path = folder / "outbox.db"
    path.touch(mode=0o640)
    wal = folder / "outbox.db-wal"
    wal.touch(mode=0o640)
    exposed = {"file": path, "directory": folder, "wal": wal}[where]
    exposed.chmod(mode)
    refusal = _refusal(exposed, f"{mode:04o}", fix)
    with pytest.raises(ConfigError, match=refusal):
        asyncio.run(_open_outbox(path))
    with pytest.raises(ConfigError, match=refusal):
        prepare_store(path, "receiver store")
    exposed.chmod(0o600 if exposed.is_file() else 0o750)
    prepare_store(path, "outbox store")  # group access is fine


async def _open_outbox(path: Path) -> None:
    store = SqliteStore(path, CIPHER)
    try:
        await store.setup()
    finally:
        await store.close()


# ---------------------------------------------------------------- reference receivers


def _receiver(pki: TestPki, tmp_path: Path, **settings: Any) -> ReceiverConfig:
    tls = pki["lsp-tls"]
    assert tls.key_path
    key = _private_copy(tls.key_path, tmp_path / "keys")
    return receiver_config(pki, Destination.LSP, tmp_path / "received", tls_key=key, **settings)


def test_a_receiver_with_private_files_starts_and_makes_its_store_private(
    pki: TestPki, tmp_path: Path
) -> None:
    config = _receiver(pki, tmp_path)

    async def scenario() -> None:
        running = await start_receiver(config)
        await running.stop()

    asyncio.run(scenario())
    assert config.db_path.parent.stat().st_mode & 0o777 == 0o700
    assert config.db_path.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("what", ["tls_key", "receipts_key", "store"])
def test_a_receiver_refuses_a_key_or_store_others_may_read(
    pki: TestPki, tmp_path: Path, what: str
) -> None:
    own = pki["miba-tls"]
    assert own.cert_path and own.key_path
    receipts = {
        "receipts": ReceiptMode.ASYNC,
        "receipts_to": "https://127.0.0.1:9/receipts",
        "receipts_cert": own.cert_path,
        "receipts_key": _private_copy(own.key_path, tmp_path / "receipts"),
    }
    config = _receiver(pki, tmp_path, **receipts)
    if what == "store":
        config.db_path.parent.mkdir(mode=0o700)
        config.db_path.touch(mode=0o644)
        exposed = config.db_path
    else:
        exposed = getattr(config, what)
        exposed.chmod(0o644)
    with pytest.raises(ConfigError, match=_refusal(exposed, "0644", "600")):
        asyncio.run(start_receiver(config))


# ---------------------------------------------------------------- secrets never on the command line


def _options(command: click.Command, path: str = "labgw") -> list[tuple[str, click.Option]]:
    found = [(path, p) for p in command.params if isinstance(p, click.Option)]
    if isinstance(command, click.Group):
        context = click.Context(command)
        for name in command.list_commands(context):
            sub = command.get_command(context, name)  # the lazy ones too
            assert sub is not None
            found += _options(sub, f"{path} {name}")
    return found


def test_no_command_line_option_takes_a_secret() -> None:
    """Passwords, keys and tokens are named by a file (or come from the environment): a value
    on the command line is in every user's process listing and in the shell's history."""
    secret = re.compile(r"password|passphrase|secret|token|key")
    named = [(where, o) for where, o in _options(main) if any(secret.search(n) for n in o.opts)]
    assert {o.opts[0] for _, o in named} >= {"--password-file", "--key", "--tls-key"}
    for where, option in named:
        assert isinstance(option.type, click.Path), f"{where} {option.opts[0]} takes a value"
    refused = CliRunner().invoke(main, ["certs", "init", "x", "--password", "Test1234"])
    assert refused.exit_code == 2 and "No such option '--password'" in refused.output


# ---------------------------------------------------------------- what the demo makes


def test_the_demo_privacy_key_is_private_and_made_once(tmp_path: Path) -> None:
    key = privacy_key(tmp_path)
    assert key.stat().st_mode & 0o777 == 0o600 and len(key.read_bytes()) == 64
    assert privacy_key(tmp_path).read_bytes() == key.read_bytes()
    check_secret_files([("privacy.key_file", key)])
