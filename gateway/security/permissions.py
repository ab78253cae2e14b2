"""File permissions checked before a service or receiver starts (issue 9, data at rest).

A private key, password or token file that group or others can read is a key they have; a
store file others can read holds CPR numbers in its message payloads, and a store directory
others can write lets them swap the file. So a start is refused, with the file, its mode and
the fix, instead of running with them (as ssh refuses a private key others can read):

- secret files (signing identity or key, TLS keys, the privacy key, password and token
  files): no permission bits for group or others (`chmod 600`);
- SQLite stores (the outbox, a receiver's store): the file, its `-wal`, `-shm` and `-journal`
  files and the directory holding them give others nothing (`chmod 600` / `chmod 700`; a
  group, such as the operators', may read). A missing store is created with those modes.

Only the modes are checked, after symbolic links (the file that will be read): the owner is
whoever runs the process, and a file it cannot read fails where it is read.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from gateway.errors import ConfigError

SECRET_BITS = 0o077  # group and others: nothing
STORE_BITS = 0o007  # others: nothing
STORE_COMPANIONS = ("-wal", "-shm", "-journal")

SecretFile = tuple[str, Path]  # the setting that names it, the file


def holding_key(cert: SecretFile, key: tuple[str, Path | None]) -> SecretFile:
    """The file a private key is read from: the key file, or else the certificate file (a
    PKCS#12 file or a PEM file with the key in it)."""
    setting, path = key
    return cert if path is None else (setting, path)


def check_secret_files(files: Iterable[SecretFile]) -> None:
    """Refuse the first of `files` (setting name, path) that group or others may use.

    Raises:
        ConfigError: a file cannot be looked at, or its mode lets group or others in.
    """
    for what, path in files:
        _check(path, what, SECRET_BITS, "group and others", "600")


def prepare_store(path: Path, what: str) -> None:
    """Make a SQLite store's directory (0700) and file (0600) when missing, then refuse a
    store whose file, companions or directory others may use.

    Raises:
        ConfigError: the store or its directory cannot be made or looked at, or others may use
            one of them.
    """
    directory = path.parent
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(os.open(path, os.O_RDONLY | os.O_CREAT, 0o600))
    except OSError as exc:
        raise ConfigError(f"{what} {path}: cannot create it: {exc.strerror}") from exc
    _check(directory, f"{what}'s directory", STORE_BITS, "others", "700")
    for file in (path, *(path.with_name(path.name + end) for end in STORE_COMPANIONS)):
        if file == path or file.exists():
            _check(file, what, STORE_BITS, "others", "600")


def _check(path: Path, what: str, forbidden: int, whom: str, mode: str) -> None:
    try:
        found = stat.S_IMODE(path.stat().st_mode)
    except OSError as exc:
        raise ConfigError(f"{what} {path}: cannot check its permissions: {exc.strerror}") from exc
    if found & forbidden:
        raise ConfigError(
            f"{what} {path} has mode {found:04o}, which lets {whom} in;"
            f" refusing to start (fix: chmod {mode} {path})"
        )
