"""One thread for one kind of blocking work, so the event loop never blocks and nothing races.

The receiver keeps two: the store (sqlite3 objects belong to the thread that made them, and one
writer serialises transactions) and the processor (signature checks, validation, rendering:
lxml's schema objects keep per-call state such as `error_log`, so validators are not shared
between threads). Work on one worker runs in arrival order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class Worker:
    """A single named thread that runs calls for the event loop."""

    def __init__(self, name: str) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    async def run(self, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`call(*args, **kwargs)` on the worker's thread; awaits its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: call(*args, **kwargs))

    def shutdown(self) -> None:
        """Finish the calls already queued, then stop the thread."""
        self._pool.shutdown(wait=True)
