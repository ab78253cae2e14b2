"""Long-running commands (`serve`, `receiver`) stop on SIGINT or SIGTERM, cleanly."""

from __future__ import annotations

import asyncio
import signal


async def until_signalled() -> None:
    """Return when the process is asked to stop (Ctrl-C, `kill`, a service manager)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
