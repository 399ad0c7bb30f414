"""protocols/budget.py on an event loop: room is taken and given back, waiters go first
come first served, a message bigger than the whole runs alone, and a waiter that gives up
(cancelled, timed out) takes nothing and holds nobody up."""

from __future__ import annotations

import asyncio

from groupware.protocols.budget import ByteBudget


def test_waiting_in_turn() -> None:
    async def run() -> list[str]:
        budget = ByteBudget(100)
        order: list[str] = []

        async def message(name: str, size: int, work: asyncio.Event) -> None:
            taken = await budget.acquire(size)
            order.append(f"{name} starts ({budget.used})")
            await work.wait()
            budget.release(taken)

        events = {name: asyncio.Event() for name in "abcd"}
        tasks = [
            asyncio.create_task(message("a", 60, events["a"])),
            asyncio.create_task(message("b", 60, events["b"])),  # waits for a
            asyncio.create_task(message("c", 10, events["c"])),  # fits, but b is first
            asyncio.create_task(message("d", 500, events["d"])),  # bigger than all: alone
        ]
        await asyncio.sleep(0.01)
        assert order == ["a starts (60)"]
        events["a"].set()
        await asyncio.sleep(0.01)
        assert order[1:] == ["b starts (70)", "c starts (70)"]  # both let in at once
        events["b"].set()
        events["c"].set()
        await asyncio.sleep(0.01)
        events["d"].set()
        await asyncio.gather(*tasks)
        assert budget.used == 0
        return order

    assert asyncio.run(run())[-1] == "d starts (100)"


def test_a_waiter_that_gives_up_takes_nothing() -> None:
    async def run() -> None:
        budget = ByteBudget(100)
        first = await budget.acquire(80)
        try:
            async with asyncio.timeout(0.01):
                await budget.acquire(50)
        except TimeoutError:
            pass
        cancelled = asyncio.create_task(budget.acquire(90))
        behind = asyncio.create_task(budget.acquire(20))  # fits once the 90 is gone
        await asyncio.sleep(0.01)
        assert not behind.done()
        cancelled.cancel()
        await asyncio.sleep(0.01)
        assert behind.done() and budget.used == 100
        budget.release(first)
        budget.release(behind.result())
        assert budget.used == 0

    asyncio.run(run())
