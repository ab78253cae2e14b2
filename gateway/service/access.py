"""Who may call the gateway, and for what (DESIGN §10; notes/security-transport.md §0 item 9).

A client is recognised by the TLS client certificate it presented (verified by the TLS layer
against `[service.tls] client_ca`), matched on its subject's commonName or organizationIdentifier
(OCES3: `NTRDK-<CVR>`), or, for operators, by a bearer token. Roles: a *sender* (a practice
platform) may submit records for the practices it is registered for; a *receiver* (LSP, MiBa)
may post receipts for messages sent to it; an *operator* may read and requeue. Nobody needs an
identity for `GET /health`.

Pure: the certificate's subject and the Authorization header in, a client (or None) out.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


class Role(enum.StrEnum):
    SENDER = "sender"
    RECEIVER = "receiver"
    OPERATOR = "operator"


@dataclass(frozen=True, slots=True)
class Client:
    name: str
    roles: frozenset[Role]
    cn: str | None = None  # matches the certificate's subject commonName
    organization_id: str | None = None  # … or its organizationIdentifier (NTRDK-<CVR>)
    practices: frozenset[str] = frozenset()  # SOR ids and ydernumre a sender may submit for
    destinations: frozenset[str] = frozenset()  # where a receiver's receipts may be for

    def may_send_for(self, sor: str | None, ydernummer: str | None) -> bool:
        return bool({sor, ydernummer} & self.practices)


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    clients: tuple[Client, ...] = ()
    tokens: Mapping[str, Client] = field(default_factory=dict, repr=False)  # SHA-256 hex → who

    def identify(self, subject: Iterable[Any] | None, authorization: str | None) -> Client | None:
        """The client a verified certificate subject or a bearer token names, else None."""
        if subject:
            names = _subject(subject)
            for client in self.clients:
                if (client.cn and names.get("commonName") == client.cn) or (
                    client.organization_id
                    and names.get("organizationIdentifier") == client.organization_id
                ):
                    return client
        if authorization and authorization.startswith("Bearer "):
            digest = token_digest(authorization[7:])
            for known, client in self.tokens.items():
                if hmac.compare_digest(digest, known):
                    return client
        return None


OPERATOR_BY_TOKEN = Client("operator (token)", frozenset({Role.OPERATOR}))


def token_digest(token: str) -> str:
    """How a bearer token is kept in memory: only its SHA-256."""
    return hashlib.sha256(token.strip().encode("utf-8")).hexdigest()


def _subject(subject: Iterable[Any]) -> Mapping[str, str]:
    """`ssl.SSLSocket.getpeercert()['subject']`: a tuple of RDNs of (name, value) pairs."""
    out: dict[str, str] = {}
    for rdn in subject:
        for name, value in rdn:
            out[str(name)] = str(value)
    return out
