"""One request's way through a receiver, from body bytes to the answer, with no HTTP in it.

The order is the wire contract the gateway's sender relies on (DESIGN §7, §8):
1. XML only: the same request bytes seen before → the stored answer, byte for byte, before any
   check of freshness (DGWS: a technical retry resends the same bytes and "the provider returns
   its stored answer", notes/security-transport.md §2, §5.2).
2. Verify the signature and the signer (`arrival.py`); a refusal is answered and nothing stored.
3. Judge the payload (`judge.py`) and render its receipt.
4. Store it, unless its ids were seen (`dedupe.py`, in the same transaction as the insert);
   committed before the answer leaves.
5. A duplicate gets the first copy's verdict in a receipt with new ids (or, when its ids say the
   answer was lost, the stored answer), is logged, and is never stored as a message.
6. Async mode: the receipts queued in step 4 or 5 are posted in the background (`delivery.py`).

Blocking work runs on two worker threads (`worker.py`): the processor (signatures, validation,
rendering) and the store.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from gateway.clock import Clock
from gateway.receiver import judge
from gateway.receiver.answers import Receipts
from gateway.receiver.arrival import Door, Refusal
from gateway.receiver.config import Faults
from gateway.receiver.dedupe import Action
from gateway.receiver.delivery import ReceiptPoster
from gateway.receiver.judge import Judge
from gateway.receiver.model import Answer, Arrival, Post, Received, Repeat, Replay, Verdict
from gateway.receiver.store import ReceivedStore
from gateway.receiver.worker import Worker


class Syntax(enum.StrEnum):
    XML = "xml"  # text/xml: SOAP 1.1, a DGWS envelope around a MedCom letter
    FHIR = "fhir"  # application/fhir+json: a signed FHIR message Bundle


@dataclass(frozen=True, slots=True)
class Handled:
    """The answer to one request, and what the log line says about it (never payload content)."""

    answer: Answer
    message_id: str = "-"
    outcome: str = "-"
    duplicate: str = "no"


@dataclass(frozen=True, slots=True)
class _Rendered:
    verdict: Verdict
    receipt: bytes
    answer: Answer
    posts: tuple[Post, ...]


class Receiver:
    """The receiving side of one databank: verify, judge, dedupe, store, answer.

    Build it with `open()`; `close()` when done. Faults are read from `faults` at each request,
    so a test may change them while the receiver runs.
    """

    def __init__(
        self,
        door: Door,
        judge: Judge,
        receipts: Receipts,
        faults: Faults,
        clock: Clock,
    ) -> None:
        self.door = door
        self.judge = judge
        self.receipts = receipts
        self.faults = faults
        self.clock = clock
        self._cpu = Worker("receiver-cpu")
        self._db = Worker("receiver-db")
        self._store: ReceivedStore | None = None
        self._poster: ReceiptPoster | None = None

    async def open(self, db: Path, poster: ReceiptPoster | None) -> None:
        """Open the store and resume the receipts a previous run did not deliver."""
        self._poster = poster
        self._store = await self._db.run(ReceivedStore, db)
        if poster is not None:
            poster.send(await self._db.run(self.store.pending_posts))

    async def close(self) -> None:
        if self._poster is not None:
            await self._poster.close()
        if self._store is not None:
            await self._db.run(self._store.close)
        self._cpu.shutdown()
        self._db.shutdown()

    @property
    def store(self) -> ReceivedStore:
        if self._store is None:
            raise RuntimeError("the receiver is not open")
        return self._store

    async def listing(self) -> list[dict[str, Any]]:
        """Every stored message with its duplicate count (`GET /received`)."""
        return await self._db.run(self.store.listing)

    async def payload(self, message_id: str) -> tuple[str, bytes] | None:
        """One stored payload and its kind (`GET /received/{message_id}`)."""
        return await self._db.run(self.store.payload, message_id)

    async def record_post(self, post_id: int, delivered: bool) -> None:
        """One attempt to post a receipt, stored (for `ReceiptPoster`)."""
        moment = self.clock.now() if delivered else None
        await self._db.run(self.store.post_attempted, post_id, moment)

    async def handle(self, syntax: Syntax, body: bytes) -> Handled:
        """Everything one POST does, in the order of the module docstring."""
        digest = hashlib.sha256(body).hexdigest()
        now = self.clock.now()
        if syntax is Syntax.XML and not self.faults.vary_duplicate_receipt:
            replay = await self._db.run(self.store.replay_for_digest, digest)
            if replay is not None:
                return await self._replay(replay, digest, now)
        if syntax is Syntax.XML:
            arrival = await self._cpu.run(self.door.xml, body, digest, now)
        else:
            arrival = await self._cpu.run(self.door.fhir, body, digest)
        if isinstance(arrival, Refusal):
            return Handled(arrival.answer, outcome=f"refused ({arrival.reason})")
        return await self._admit(arrival, now)

    async def _admit(self, arrival: Arrival, now: datetime) -> Handled:
        faults = self.faults
        rendered = await self._cpu.run(self._judged, arrival, now)
        original = arrival.original
        new = Received(
            original.message_id,
            original.kind,
            original.envelope_id,
            arrival.payload,
            arrival.digest,
            rendered.verdict,
            rendered.receipt,
            rendered.answer,
            now,
        )
        admission = await self._db.run(self.store.admit, new, rendered.posts)
        if admission.action is Action.PROCESS:
            self._deliver(admission.posts)
            return Handled(rendered.answer, original.message_id, rendered.verdict.outcome)
        if admission.action is Action.REFUSE:
            verdict = judge.refusal(
                judge.BUNDLE_ID_REUSED,
                f"Bundle.id {original.envelope_id} came before with another message; "
                "a Bundle.id is never reused (MedCom reliable messaging)",
            )
            return await self._repeat(arrival, verdict, Action.REFUSE, now)
        first = admission.first
        if first is None:  # dedupe.py gives REPLAY and SAME_CONTENT only for a stored message
            raise RuntimeError(f"{admission.action} without a stored message")
        if admission.replay is not None and not faults.vary_duplicate_receipt:
            return await self._replay(admission.replay, arrival.digest, now)
        verdict = judge.opposite(first.verdict) if faults.vary_duplicate_receipt else first.verdict
        return await self._repeat(arrival, verdict, Action.SAME_CONTENT, now)

    def _judged(self, arrival: Arrival, now: datetime) -> _Rendered:
        """Processor thread: the verdict on a message taken as new, and its receipt."""
        faults = self.faults
        verdict = self.judge.verdict(
            arrival, negative=faults.negative, accept_invalid=faults.accept_invalid
        )
        return self._rendered(verdict, arrival, now)

    def _rendered(self, verdict: Verdict, arrival: Arrival, now: datetime) -> _Rendered:
        original = arrival.original
        receipt = self.receipts.render(verdict, original, now)
        posts = self.receipts.posts(
            original.message_id, original.kind, receipt, twice=self.faults.duplicate_receipt
        )
        if self.faults.unknown_receipt:
            posts += self.receipts.stranger(verdict, original, now)
        answer = self.receipts.answer(original.kind, receipt)
        return _Rendered(verdict, receipt, answer, posts)

    async def _repeat(
        self, arrival: Arrival, verdict: Verdict, action: Action, now: datetime
    ) -> Handled:
        """A duplicate (or a refused reuse): a receipt with `verdict` and new ids, logged."""
        rendered = await self._cpu.run(self._rendered, verdict, arrival, now)
        original = arrival.original
        repeat = Repeat(
            original.message_id,
            original.kind,
            original.envelope_id,
            arrival.digest,
            action,
            verdict.outcome,
            rendered.receipt,
            rendered.answer,
            now,
        )
        self._deliver(await self._db.run(self.store.log_repeat, repeat, rendered.posts))
        return Handled(rendered.answer, original.message_id, verdict.outcome, action)

    async def _replay(self, replay: Replay, digest: str, now: datetime) -> Handled:
        """The stored answer again, byte for byte (and, async, the stored receipt again)."""
        posts = self.receipts.posts(
            replay.message_id, replay.kind, replay.receipt, twice=self.faults.duplicate_receipt
        )
        repeat = Repeat(
            replay.message_id,
            replay.kind,
            replay.envelope_id,
            digest,
            Action.REPLAY,
            replay.outcome,
            replay.receipt,
            replay.answer,
            now,
        )
        self._deliver(await self._db.run(self.store.log_repeat, repeat, posts))
        return Handled(replay.answer, replay.message_id, replay.outcome, Action.REPLAY)

    def _deliver(self, posts: tuple[Post, ...]) -> None:
        if posts and self._poster is not None:
            self._poster.send(posts)
