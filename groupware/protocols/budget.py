"""A byte budget shared by a listener's connections: how many octets of messages are being
processed at once (checked, parsed, stored), whatever their number.

Reading a message costs a spool file; processing it costs memory, a few times its size
(DKIM and MIME parsing need its bytes), so a listener takes its turn here before handing
one to the services. All on one event loop, so no lock is needed.
"""

from __future__ import annotations

import asyncio
from collections import deque


class ByteBudget:
    """`total` octets at most in processing at once; a message waits for room, first come
    first served (a big one is not passed over for ever by small ones). A message bigger
    than the whole budget waits for all of it and then runs alone."""

    def __init__(self, total: int) -> None:
        self.total = max(1, total)
        self.used = 0
        self._waiting: deque[tuple[int, asyncio.Future[None]]] = deque()

    async def acquire(self, size: int) -> int:
        """Wait until `size` octets fit; the amount taken, to give back to `release` (also
        when the caller is cancelled or times out while waiting: then nothing is taken)."""
        amount = max(0, min(size, self.total))
        if not self._waiting and self.used + amount <= self.total:
            self.used += amount
            return amount
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (amount, turn)
        self._waiting.append(entry)
        try:
            await turn
        except BaseException:
            if turn.done() and not turn.cancelled():
                self.release(amount)  # granted just as the waiter gave up
            elif entry in self._waiting:
                self._waiting.remove(entry)
                self._grant()  # the head of the line may have changed
            raise
        return amount

    def release(self, amount: int) -> None:
        self.used -= amount
        self._grant()

    def _grant(self) -> None:
        while self._waiting:
            amount, turn = self._waiting[0]
            if turn.done():  # cancelled: its waiter removes nothing more
                self._waiting.popleft()
                continue
            if self.used + amount > self.total:
                return
            self._waiting.popleft()
            self.used += amount
            turn.set_result(None)
