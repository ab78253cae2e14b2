"""Posts async receipts to the sender and keeps trying until one is taken (HTTP 2xx).

Each receipt is already committed in `receipt_posts` before its task starts, so a receiver that
stops mid-delivery resumes the same receipts when it starts again. Backoff doubles from
`first` up to `cap`, with jitter so many receipts do not retry in step. Delivery runs in
background tasks: a slow or absent receipt endpoint never delays the answers to other requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
from collections.abc import Awaitable, Callable, Iterable

import aiohttp

from gateway.receiver.model import Post

log = logging.getLogger("labgw.receiver")

Recorder = Callable[[int, bool], Awaitable[None]]  # (post id, delivered) → attempt stored


class ReceiptPoster:
    """Background delivery of receipts to one URL."""

    def __init__(
        self,
        url: str,
        context: ssl.SSLContext,
        record: Recorder,
        *,
        first: float,
        cap: float,
        timeout: float = 30.0,
        grace: float = 5.0,
    ) -> None:
        self.url = url
        self.record = record
        self.first = first
        self.cap = cap
        self.grace = grace
        self._closing = asyncio.Event()
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=context),
            timeout=aiohttp.ClientTimeout(total=timeout),
        )
        self._tasks: set[asyncio.Task[None]] = set()

    def send(self, posts: Iterable[Post]) -> None:
        """Start delivering each receipt; returns at once."""
        for post in posts:
            task = asyncio.create_task(self._deliver(post), name=f"receipt-{post.id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Stop delivering and close; undelivered receipts stay queued in the store.

        Receipts waiting for their next attempt stop at once; an attempt on the wire gets up to
        `grace` seconds to finish and be recorded, so a receipt the sender took is not posted
        again after a restart.
        """
        self._closing.set()
        tasks = list(self._tasks)
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=self.grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        await self._session.close()

    async def _deliver(self, post: Post) -> None:
        wait = self.first
        while not self._closing.is_set():
            delivered = await self._attempt(post)
            await self.record(post.id, delivered)
            if delivered:
                return
            pause = wait * random.uniform(0.5, 1.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), pause)
            wait = min(wait * 2, self.cap)

    async def _attempt(self, post: Post) -> bool:
        try:
            async with self._session.post(
                self.url, data=post.body, headers={"Content-Type": post.content_type}
            ) as response:
                await response.read()
                delivered = 200 <= response.status < 300
                reason = f"HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            delivered, reason = False, type(exc).__name__
        log.info(
            "receipt for message=%s post=%d to %s: %s",
            post.message_id,
            post.id,
            self.url,
            "delivered" if delivered else f"not taken ({reason}), will retry",
        )
        return delivered
