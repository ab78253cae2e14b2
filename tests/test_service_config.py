"""The service's configuration file: the example in docs/service.md loads, secrets never come
inline, and every malformed setting is refused with the setting's name."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from gateway.errors import ConfigError
from gateway.routing import Destination
from gateway.service.config import load_service_config
from gateway.service.limits import Limits


def _example(repo_dir: Path) -> str:
    text = (repo_dir / "docs" / "service.md").read_text(encoding="utf-8")
    match = re.search(r"```toml\n(.*?)```", text, re.DOTALL)
    assert match, "docs/service.md has no TOML example"
    return match.group(1)


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "destinations.toml").write_text(
        (Path(__file__).parent.parent / "mappings" / "destinations.toml").read_text("utf-8"),
        encoding="utf-8",
    )
    path = tmp_path / "labgw.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_documented_example_loads(
    repo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LABGW_KEY_PASSWORD", "from-the-environment")
    config = load_service_config(_write(tmp_path, _example(repo_dir)))
    assert config.password == "from-the-environment"
    assert config.identity == tmp_path / "pki" / "practice-platform.p12"
    assert config.store == f"sqlite:///{tmp_path / 'outbox.db'}"
    assert config.retry.receipt_timeout == timedelta(minutes=30) and config.retry.max_resends == 2
    assert config.endpoints == {
        "lsp": "https://lsp.example:8444/",
        "miba": "https://miba.example:8445/",
    }
    assert config.gateway.receiver(Destination.MIBA).format == "fhir"
    assert config.tls is not None and config.tls.client_ca == tmp_path / "pki" / "trust.pem"


def test_the_documented_limits_are_the_defaults(repo_dir: Path, tmp_path: Path) -> None:
    text = (repo_dir / "docs" / "service.md").read_text(encoding="utf-8")
    match = re.search(r"```toml\n(\[limits\].*?)```", text, re.DOTALL)
    assert match, "docs/service.md has no [limits] example"
    config = load_service_config(_write(tmp_path, MINIMAL + match.group(1)))
    assert config.limits == Limits()


MINIMAL = '[signing]\nidentity = "key.p12"\n'


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('[signing]\nidentity = "k.p12"\npassword = "secret"\n', "password_file or password_env"),
        (MINIMAL + 'password_env = "LABGW_UNSET_FOR_TEST"\n', "LABGW_UNSET_FOR_TEST"),
        ("[service]\nport = 1\n", "[signing] identity is required"),
        (MINIMAL + "[retry]\nbase_delay_seconds = -1\n", "base_delay_seconds"),
        (MINIMAL + "[retry]\nlease_seconds = 10\n[transport]\ntimeout_seconds = 30\n", "lease"),
        (MINIMAL + "[endpoints]\nnowhere = 'https://x/'\n", "no destination 'nowhere'"),
        (MINIMAL + "[transport]\nconcurrency = 0\n", "concurrency"),
        ("not toml = = =", "cannot read configuration"),
        (MINIMAL + "[limits]\nmax_records = 0\n", "limits.max_records"),
        (MINIMAL + "[limits]\nmax_headers = 2.5\n", "limits.max_headers must be a whole"),
        (MINIMAL + "[limits]\nrate_per_second = true\n", "limits.rate_per_second"),
        (MINIMAL + "[limits]\nmax_conections = 5\n", "unknown setting(s) max_conections"),
    ],
    ids=["inline-password", "unset-env", "no-identity", "negative-delay", "lease-too-short",
         "unknown-destination", "no-concurrency", "not-toml", "zero-records", "fractional-count",
         "boolean-rate", "misspelt-limit"],
)  # fmt: skip
def test_bad_settings_are_refused_by_name(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(named)):
        load_service_config(_write(tmp_path, text))


def test_the_password_file_is_read_and_stripped(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("s3cret\n", encoding="utf-8")
    (tmp_path / "pw").chmod(0o600)
    path = _write(tmp_path, '[signing]\nidentity = "k.p12"\npassword_file = "pw"\n')
    assert load_service_config(path).password == "s3cret"
