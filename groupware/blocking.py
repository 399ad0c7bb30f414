"""The one way an asyncio front door calls the synchronous services: a bounded pool.

The runtime makes two (runtime.Runtime): one for delivery and the other front doors,
whose threads mostly wait on fsync, and a smaller one for IMAP and POP3 mailbox sessions,
which are CPU-bound (more threads than cores only fight over the GIL). So database and
hashing work never runs on the event loop and never takes more threads than configured.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class Blocking:
    def __init__(self, threads: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="services")

    async def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
