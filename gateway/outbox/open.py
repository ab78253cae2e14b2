"""The outbox store named by configuration: one URL, one store.

- `sqlite:///var/lib/labgw/outbox.db` (the URL's path: absolute), `sqlite:outbox.db`
  (relative), or a plain file path → `SqliteStore`;
- `postgresql://user@host:5432/db?schema=labgw` (or `postgres://`) → `PostgresStore`; `schema`
  names the tables' schema (default `labgw`), the other parameters go to the driver as given.

Either store seals record bodies with `cipher` (the `[privacy]` key's, `cipher.py`).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from gateway.errors import ConfigError
from gateway.outbox.cipher import BodyCipher
from gateway.outbox.postgres import PostgresStore
from gateway.outbox.sqlite import SqliteStore
from gateway.outbox.store import OutboxStore

POSTGRES_SCHEMES = ("postgresql", "postgres")


def open_store(url: str, cipher: BodyCipher) -> OutboxStore:
    """The store for `url`, not yet set up (call `setup()`); nothing is opened here.

    Raises:
        ConfigError: an empty URL, another scheme, or a SQLite URL with a host or no path.
    """
    parts = urlsplit(url)
    if parts.scheme in POSTGRES_SCHEMES:
        query = parse_qsl(parts.query, keep_blank_values=True)
        schemas = [value for key, value in query if key == "schema"]
        rest = urlencode([(key, value) for key, value in query if key != "schema"])
        dsn = urlunsplit(parts._replace(query=rest))
        return PostgresStore(dsn, cipher, schemas[-1] if schemas else "labgw")
    if parts.scheme == "sqlite":
        if parts.netloc or not parts.path:
            raise ConfigError(
                "outbox URL: expected sqlite:///ABSOLUTE/PATH or sqlite:RELATIVE/PATH"
                f" with no host, got {url!r}"
            )
        return SqliteStore(Path(unquote(parts.path)), cipher)
    if not url.strip():
        raise ConfigError(
            "outbox URL is empty: expected sqlite:///PATH, a file path, or postgresql://…"
        )
    if not parts.scheme:
        return SqliteStore(Path(url), cipher)
    # The scheme only: a URL of another database may carry a password.
    raise ConfigError(
        f"outbox URL with scheme {parts.scheme!r}: expected sqlite:///PATH, a file path,"
        " or postgresql://…"
    )
