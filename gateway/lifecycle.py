"""The record lifecycle: what a new record version means, given what was accepted and sent
before (notes/danish-domain.md §1.5 statuses, §1.6 corrections, §0 rules 6, 7, 16).

A record version is immutable once accepted. Pure: the outbox's history of the record in,
a decision out; the service asks the store and acts on the answer.

- The same version with the same content again is a duplicate: acknowledged, not resent.
- The same version with other content is a conflict: a change needs a new version.
- An older version after a newer one is stale: recorded, never sent (it would overwrite newer
  data at the receiver).
- A newer version of a record some destination has received is a correction, sent to every
  destination that received an earlier version (rule 16: "corrections go to the same
  destination(s) with the original identifiers"), pointing at the message it replaces.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from gateway.issues import Issue, IssueType, Severity
from gateway.model import LabRecord, Status
from gateway.routing import Destination


class Fate(enum.StrEnum):
    NEW = "new"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"
    STALE = "stale"
    CORRECTION = "correction"


@dataclass(frozen=True, slots=True)
class Delivered:
    """The newest message a destination has received for a record."""

    destination: Destination
    message_id: str  # the id its receiver knows it by: XML letter id, FHIR MessageHeader.id
    version: int
    status: Status


@dataclass(frozen=True, slots=True)
class History:
    """What the outbox holds of one recordId."""

    versions: Mapping[int, str] = field(default_factory=dict)  # version → content digest
    delivered: Mapping[Destination, Delivered] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Decision:
    fate: Fate
    replaces: Mapping[Destination, Delivered] = field(default_factory=dict)
    issue: Issue | None = None

    @property
    def sends(self) -> bool:
        return self.fate in (Fate.NEW, Fate.CORRECTION)


def decide(record: LabRecord, digest: str, history: History | None) -> Decision:
    """The fate of one record version, given its recordId's history."""
    if history is None or not history.versions:
        return Decision(Fate.NEW)
    known = history.versions.get(record.version)
    if known == digest:  # §0 rule 6 + MedCom reliable messaging: never shown twice
        return Decision(Fate.DUPLICATE, issue=_duplicate(record))
    if known is not None:  # §1.6: a change is a new version, never an edit of one
        return Decision(Fate.CONFLICT, issue=_conflict(record))
    newest = max(history.versions)
    if record.version < newest:  # §1.6: receivers keep the newest; an older one would win
        return Decision(Fate.STALE, issue=_stale(record, newest))
    if history.delivered:  # §0 rule 16: to the same destinations, pointing at what it replaces
        return Decision(Fate.CORRECTION, replaces=dict(history.delivered))
    return Decision(Fate.NEW)  # earlier versions were never sent (rejected or filtered)


def rendered_status(record: LabRecord, replaces: Delivered | None) -> Status:
    """The status a message states: a final result that replaces a final (or corrected) one is
    a correction, `svar_rettet` (notes §1.5); a final after a preliminary is simply final."""
    if (
        replaces is not None
        and record.status is Status.FINAL
        and replaces.status in (Status.FINAL, Status.CORRECTED)
    ):
        return Status.CORRECTED
    return record.status


def _duplicate(record: LabRecord) -> Issue:
    return Issue(
        Severity.INFORMATION,
        IssueType.DUPLICATE,
        "LPS-VERSION-DUPLICATE",
        "this record version was accepted before with the same content: acknowledged, not resent",
        location="version",
        record=record.key,
    )


def _conflict(record: LabRecord) -> Issue:
    return Issue(
        Severity.ERROR,
        IssueType.DUPLICATE,
        "LPS-VERSION-CONFLICT",
        "this recordId and version was accepted earlier with different content; "
        "a change needs a new version",
        location="version",
        record=record.key,
    )


def _stale(record: LabRecord, newest: int) -> Issue:
    return Issue(
        Severity.WARNING,
        IssueType.PROCESSING,
        "LPS-VERSION-STALE",
        f"version {record.version} arrived after version {newest}: recorded, not sent, "
        "because it would replace newer data at the receivers",
        location="version",
        record=record.key,
    )
