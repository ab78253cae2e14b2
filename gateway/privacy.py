"""Keeping CPR numbers out of everything labgw writes for people: logs, API answers, audit output.

The outbox must hold records as they came (DESIGN §7), CPR numbers included; nothing read from
it may carry one back out. Two tools:

- `redact(text)` replaces every CPR-shaped number by `[CPR]`: ten digits (six date digits and
  four more, with or without a dash between them) whose first six are date-shaped
  (`cpr_is_date_shaped`), not part of a longer run of digits. A hexadecimal token (a SHA-256
  digest or fingerprint, 16 or more hex digits; a UUID) is taken as a whole and left alone:
  one in a few hundred digests holds ten date-shaped decimal digits in a row, and mangling
  (or flagging) those would be noise.
  `install_log_redaction()` passes every log record of the process through it.
- `Pseudonyms.patient(identifier)`: where a patient must be named (the audit trail), a keyed
  hash, `pt:` and 16 hex digits. The CPR space is small (about 3.7e8 date-shaped numbers), so an
  unkeyed hash would be reversed by trying them all; the HMAC key is what protects it.

The privacy key comes from a file or the environment (`[privacy]` in the service's TOML), never
from the command line, and is required: it keys the pseudonyms and encrypts the record bodies
in the outbox (`gateway.outbox.cipher`). Each use gets its own key derived from it
(`derive_key`, HKDF-SHA256 with the use as `info`), so no two uses ever share key material.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from gateway.errors import ConfigError

PLACEHOLDER = "[CPR]"
MIN_KEY_BYTES = 16

_HEX = "[0-9A-Fa-f]"
# Tried first at every position, so a CPR-shaped stretch inside a hexadecimal token is consumed
# with the token: a UUID, or any run of 16 or more hex digits.
_TOKENS = re.compile(
    rf"(?P<hex>{_HEX}{{8}}(?:-{_HEX}{{4}}){{3}}-{_HEX}{{12}}|{_HEX}{{16,}})"
    r"|(?<!\d)(?P<cpr>\d{6}-?\d{4})(?!\d)"
)
_DASHED = re.compile(r"\d{6}-\d{4}")


def cpr_is_date_shaped(cpr: str) -> bool:
    """Day 01–31 and month 01–12 in the first four digits: the shape redaction looks for.

    Deliberately looser than validation (`gateway.cpr.is_cpr`, which wants a real calendar
    date): redaction may over-match, it must never miss. A 31 April or 30 February is no
    CPR number and is refused at intake, but it is still taken out of logs and answers, where
    a mistyped CPR number is as personal as a correct one. Every number `is_cpr` accepts is
    date-shaped here. Modulus 11 is not required by either (DESIGN §2).
    """
    day, month = int(cpr[0:2]), int(cpr[2:4])
    return 1 <= day <= 31 and 1 <= month <= 12


def find_cpr(text: str) -> list[str]:
    """Every CPR-shaped number in `text`, as written (the detector the tests scan logs with)."""
    return [m["cpr"] for m in _TOKENS.finditer(text) if m["cpr"] and cpr_is_date_shaped(m["cpr"])]


def redact(text: str) -> str:
    """`text` with every CPR-shaped number replaced by `[CPR]`; idempotent."""
    return _TOKENS.sub(_placeholder, text)


def _placeholder(match: re.Match[str]) -> str:
    cpr = match["cpr"]
    return PLACEHOLDER if cpr and cpr_is_date_shaped(cpr) else match[0]


def redact_json(value: Any) -> Any:
    """A JSON value with every string (keys too) redacted. Numbers are left as they are: labgw
    answers with counts, sizes and version numbers, none of them patient data, and `[CPR]` in
    their place would break the document."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact(str(k)): redact_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_json(item) for item in value]
    return value


class RedactingFilter(logging.Filter):
    """Formats a record's message with its arguments, redacted, and drops the arguments; the
    traceback and stack are formatted and redacted too (an exception's text can quote input).

    Always returns True: it changes records, it does not drop them.
    """

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep what there is, redacted
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = redact(message), ()
        if record.exc_info:
            record.exc_text = record.exc_text or self._formatter.formatException(record.exc_info)
            record.exc_info = None  # formatters append exc_text; the exception object is gone
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class _RedactingFactory:
    """The process's log record factory, wrapped: a filter on a logger does not reach its
    children, and one on a handler misses handlers added later (by a library, by pytest), so
    records are redacted where every one of them is made."""

    def __init__(self, inner: Callable[..., logging.LogRecord]) -> None:
        self.inner = inner
        self.redact = RedactingFilter()

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.inner(*args, **kwargs)
        self.redact.filter(record)
        return record


def install_log_redaction() -> None:
    """Redact every log record this process makes from now on (idempotent).

    Called by `start_service`, `start_receiver`, `labgw serve` and `labgw receiver`.
    """
    current = logging.getLogRecordFactory()
    if not isinstance(current, _RedactingFactory):
        logging.setLogRecordFactory(_RedactingFactory(current))


@dataclass(frozen=True, slots=True)
class KeySource:
    """Where the privacy key is read: a file (its bytes, surrounding whitespace stripped) or
    an environment variable."""

    file: Path | None = None
    env: str | None = None

    def read(self) -> bytes | None:
        """The key, or None when none is configured.

        Raises:
            ConfigError: the file cannot be read, the variable is not set, or the key is
                shorter than 16 bytes.
        """
        if self.file is not None:
            try:
                key = self.file.read_bytes().strip()
            except OSError as exc:
                raise ConfigError(
                    f"privacy.key_file: cannot read {self.file}: {exc.strerror}"
                ) from exc
            where = f"privacy.key_file {self.file}"
        elif self.env is not None:
            value = os.environ.get(self.env)
            if value is None:
                raise ConfigError(f"privacy.key_env: ${self.env} is not set")
            key, where = value.strip().encode("utf-8"), f"privacy.key_env ${self.env}"
        else:
            return None
        if len(key) < MIN_KEY_BYTES:
            raise ConfigError(f"{where}: the key must be at least {MIN_KEY_BYTES} bytes")
        return key

    def require(self) -> bytes:
        """The key; there is no running without one (a random key would leave the outbox's
        record bodies unreadable after a restart, and clear ones are not kept).

        Raises:
            ConfigError: as `read`, or no key is configured.
        """
        key = self.read()
        if key is None:
            raise ConfigError(
                "[privacy] key_file or key_env is required: the key encrypts the outbox's record"
                " bodies and keys patient pseudonyms (make one: openssl rand -hex 32 >"
                " privacy.key; chmod 600 privacy.key)"
            )
        return key


def derive_key(key: bytes, use: str) -> bytes:
    """A 256-bit key for one use of the privacy key (HKDF-SHA256, `use` as info): knowing one
    derived key tells nothing of the privacy key or of another use's key."""
    return HKDF(hashes.SHA256(), 32, None, f"labgw {use}".encode()).derive(key)


class Pseudonyms:
    """Stable, keyed pseudonyms for patient identifiers: the same identifier and key give the
    same pseudonym, another key another one, and without the key none can be traced back."""

    def __init__(self, key: bytes) -> None:
        """`key`: the privacy key; the pseudonyms' own key is derived from it."""
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"a pseudonym key has at least {MIN_KEY_BYTES} bytes")
        self._key = derive_key(key, "patient pseudonyms v1")

    def patient(self, identifier: str) -> str:
        """`pt:` and 16 hex digits for a CPR number (with or without its dash) or a replacement
        id. Sixteen hex digits are a hexadecimal token to `redact`, so no pseudonym is ever
        taken for a CPR number."""
        text = identifier.strip()
        if _DASHED.fullmatch(text):
            text = text.replace("-", "")
        mac = hmac.new(self._key, text.encode("utf-8"), hashlib.sha256).hexdigest()
        return f"pt:{mac[:16]}"
