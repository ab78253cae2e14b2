"""What the outbox keeps of a CPR number outside the message bytes (issue 9, data at rest).

A record body (the LPS record as canonical JSON, the patient's CPR number in it) must be read
back in clear: corrections are decided from the stored versions' status, `GET /records` and
the audit trail show a version's status and the patient's pseudonym. So it is encrypted:
AES-256-GCM under a key derived from the `[privacy]` key, with a fresh random 96-bit nonce per
body and the record's key as associated data, so a body copied into another row does not open.
Stored form: `LGW1`, the nonce, the ciphertext with its tag.

The message bytes (payloads, signed envelopes, receipts) stay exactly as sent and received:
they are the evidence of what went where. Free text that only people read (Issues, transition
details, receipt ids, which may quote what an input or a receiver said) is redacted on the way
in (`rows.py`): its clear value is never needed.

Without the key the bodies cannot be read again: a store refuses to open under another key
(`check_key`), rather than failing on the first old record.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.errors import ConfigError
from gateway.privacy import derive_key

MAGIC = b"LGW1"
NONCE_BYTES = 12


class BodyCipher:
    """Seals and opens record bodies with one privacy key."""

    def __init__(self, key: bytes) -> None:
        """`key`: the privacy key; the cipher's own key is derived from it."""
        self._aead = AESGCM(derive_key(key, "outbox record bodies v1"))

    def seal(self, body: bytes, record_key: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return MAGIC + nonce + self._aead.encrypt(nonce, body, record_key.encode("utf-8"))

    def open(self, stored: bytes, record_key: str) -> bytes:
        """The body `seal` was given for this record key.

        Raises:
            ConfigError: the bytes were not sealed (an outbox from before encryption at rest),
                or not with this key for this record.
        """
        if not stored.startswith(MAGIC):
            raise ConfigError(
                "the outbox holds a record body in clear (written before labgw encrypted record"
                " bodies); start a new outbox and keep the old one as an archive"
            )
        nonce = stored[len(MAGIC) : len(MAGIC) + NONCE_BYTES]
        try:
            return self._aead.decrypt(
                nonce, stored[len(MAGIC) + NONCE_BYTES :], record_key.encode("utf-8")
            )
        except InvalidTag:
            raise ConfigError(
                "a record body in the outbox does not open with this [privacy] key: the store"
                " was written under another key (or the row was altered)"
            ) from None
