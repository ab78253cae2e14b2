"""The delivery workers: claim due messages, seal, send, and move each message by its answer.

One pump per destination, each with its own bound on requests in flight, so a slow or dead
receiver never holds back another (no head-of-line blocking across destinations). Every state
change is committed by the store before the bytes go out (claim → sending, then the envelope,
then the POST). A worker that dies mid-send leaves its claim to expire; whoever claims it next
resends the same envelope (the DGWS technical retry), and the receiver's dedupe on message id
makes that safe. A watcher applies the MedCom resend rule to messages whose receipt is late.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from gateway.clock import Clock
from gateway.delivery.receipts_in import take_receipt
from gateway.delivery.seal import Sealer, envelope_id_for
from gateway.delivery.sender import Sender, SendResult, Verdict
from gateway.errors import LabgwError
from gateway.issues import Issue, IssueType, Severity
from gateway.outbox.model import Envelope, OutboxMessage
from gateway.outbox.states import (
    Event,
    InvalidTransition,
    RetryPolicy,
    State,
    after_receipt_wait,
    after_transient_failure,
)
from gateway.outbox.store import OutboxStore

log = logging.getLogger("labgw.delivery")


@dataclass(slots=True)
class DeliveryWorker:
    store: OutboxStore
    sealer: Sealer
    sender: Sender
    endpoints: Mapping[str, str]  # destination → URL
    policy: RetryPolicy
    clock: Clock
    name: str  # names this worker in the transition log
    concurrency: int = 8
    poll: float = 0.25  # seconds between claims when nothing woke the pump
    rng: random.Random = field(default_factory=random.Random)
    sent: Counter[tuple[str, str]] = field(default_factory=Counter)  # (destination, verdict)
    _wake: dict[str, asyncio.Event] = field(default_factory=dict)

    def wake(self) -> None:
        """New messages were committed: claim now instead of at the next poll."""
        for event in self._wake.values():
            event.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set; sends in flight are finished, not abandoned."""
        self._wake = {destination: asyncio.Event() for destination in self.endpoints}
        tasks = [
            asyncio.create_task(self._pump(destination, url, stop), name=f"pump-{destination}")
            for destination, url in self.endpoints.items()
        ]
        tasks.append(asyncio.create_task(self._watch_receipts(stop), name="receipt-watch"))
        await asyncio.gather(*tasks)

    async def _pump(self, destination: str, url: str, stop: asyncio.Event) -> None:
        wake = self._wake[destination]
        inflight: set[asyncio.Task[None]] = set()
        while not stop.is_set():
            claimed: list[OutboxMessage] = []
            free = self.concurrency - len(inflight)
            if free > 0:
                wake.clear()
                now = self.clock.now()
                try:
                    claimed = await self.store.claim(
                        destination, free, now, now + self.policy.lease, self.name
                    )
                except Exception as exc:  # the store is away or failing: never stop the pump
                    log.warning("claim for %s failed: %s: %s", destination, type(exc).__name__, exc)
                for message in claimed:
                    task = asyncio.create_task(self._deliver(message, url))
                    inflight.add(task)
                    task.add_done_callback(inflight.discard)
            if claimed and len(inflight) < self.concurrency:
                continue  # there may be more due
            if len(inflight) >= self.concurrency:
                # Full: a wake-up cannot be acted on until a send finishes, and a set event
                # would return at once, every turn (a busy loop that took CPU from the sends).
                wake.clear()
            await _first_of(wake, stop, inflight, self.poll)
        if inflight:
            await asyncio.gather(*inflight, return_exceptions=True)

    async def _deliver(self, message: OutboxMessage, url: str) -> None:
        try:
            await self._send(message, url)
        except Exception:  # the claim expires and the message is sent again; the pump goes on
            log.exception("message %s: delivery failed", message.message_id)

    async def _send(self, message: OutboxMessage, url: str) -> None:
        try:
            envelope = await self._envelope(message)
        except LabgwError as exc:
            issue = Issue(Severity.ERROR, IssueType.EXCEPTION, "DELIVERY-SEAL", str(exc))
            await self._apply(message, Event.REFUSED, f"cannot seal: {exc}", (issue,))
            return
        result = await self.sender.post(url, envelope)
        self.sent[(message.destination, result.verdict.value)] += 1
        await self._settle(message, result)

    async def _envelope(self, message: OutboxMessage) -> Envelope:
        """The current signed form; a new one for a MedCom resend (new envelope id), or when
        the current one is too old for a receiver to accept its Timestamp (same ids)."""
        now = self.clock.now()
        current = message.envelope
        if (
            current is not None
            and current.envelope_id == envelope_id_for(message)
            and now - current.created_at < self.policy.reseal_after
        ):
            return current
        number = current.number + 1 if current is not None else 1
        envelope = await asyncio.to_thread(self.sealer.seal, message, number, now)
        await self.store.add_envelope(envelope)  # committed before it is sent
        return envelope

    async def _settle(self, message: OutboxMessage, result: SendResult) -> None:
        now = self.clock.now()
        if result.verdict is Verdict.RECEIPT and result.receipt is not None:
            await take_receipt(self.store, result.receipt, "sync", now, self.policy, self.rng)
            if result.receipt.message_id == message.message_id:
                return
            result = SendResult(Verdict.DELIVERED, f"{result.detail} for another message")
        if result.verdict is Verdict.DELIVERED:
            await self._apply(message, Event.DELIVERED, result.detail, result.issues or None)
        elif result.verdict is Verdict.TRANSIENT:
            decision = after_transient_failure(
                self.policy, message.attempts + 1, message.created_at, now, self.rng
            )
            await self._apply(
                message,
                decision.event,
                result.detail,
                result.issues or None,
                decision.next_attempt_at,
            )
        else:
            await self._apply(message, Event.REFUSED, result.detail, result.issues)

    async def _apply(
        self,
        message: OutboxMessage,
        event: Event,
        detail: str,
        issues: tuple[Issue, ...] | None,
        due: datetime | None = None,
    ) -> None:
        try:
            await self.store.apply(
                message.message_id,
                event,
                self.clock.now(),
                expect=State.SENDING,
                next_attempt_at=due,
                detail=detail,
                issues=issues,
            )
        except InvalidTransition:  # a receipt came in through POST /receipts first
            log.info("message %s moved on before %s", message.message_id, event)

    async def _watch_receipts(self, stop: asyncio.Event) -> None:
        """MedCom: no receipt within the timeout → resend (new envelope), at most max_resends."""
        every = min(max(self.policy.receipt_timeout.total_seconds() / 4, 0.05), 5.0)
        while not stop.is_set():
            now = self.clock.now()
            try:
                late = await self.store.awaiting_receipt(now - self.policy.receipt_timeout, 200)
            except Exception as exc:  # the store is away or failing: look again later
                log.warning("receipt watch failed: %s: %s", type(exc).__name__, exc)
                late = []
            for message in late:
                if message.sent_at is None:
                    continue
                decision = after_receipt_wait(self.policy, message.resends, message.sent_at, now)
                if decision is None:
                    continue
                try:
                    await self.store.apply(
                        message.message_id,
                        decision.event,
                        now,
                        expect=State.SENT,
                        detail=f"no receipt since {message.sent_at.isoformat()}",
                    )
                except InvalidTransition:
                    continue  # its receipt came meanwhile, or another worker did it
                if decision.event is Event.RESENDS_EXHAUSTED:
                    log.error(
                        "message %s: no receipt after %d resends; dead",
                        message.message_id,
                        message.resends,
                    )
            if late:
                self.wake()
            await _first_of(asyncio.Event(), stop, set(), every)


async def _first_of(
    wake: asyncio.Event, stop: asyncio.Event, inflight: set[asyncio.Task[None]], timeout: float
) -> None:
    """Sleep until woken, stopped, a send finishes, or `timeout` passes."""
    waiters = {asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait()), *inflight}
    _, pending = await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    for waiter in pending - inflight:
        waiter.cancel()
