"""The one bounded cache with an expiry (groupware/cache.py)."""

from __future__ import annotations

import threading

import pytest

from groupware import cache
from groupware.cache import TimedCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    ticking = Clock()
    monkeypatch.setattr(cache.time, "monotonic", ticking)
    return ticking


def test_a_value_lives_its_seconds(clock: Clock) -> None:
    remembered: TimedCache[str, int] = TimedCache(10, seconds=2)
    remembered.put("a", 1)
    assert remembered.get("a") == 1 and remembered.get("b") is None
    clock.now += 1.9
    assert remembered.get("a") == 1
    clock.now += 0.2
    assert remembered.get("a") is None
    remembered.put("a", 2)  # put again: a new life
    assert remembered.get("a") == 2


def test_when_full_the_expired_go_first_then_the_oldest(clock: Clock) -> None:
    remembered: TimedCache[int, int] = TimedCache(10, seconds=5)
    for key in range(5):
        remembered.put(key, key)
    clock.now += 3
    for key in range(5, 10):
        remembered.put(key, key)
    clock.now += 3  # 0..4 expired, 5..9 alive
    remembered.put(10, 10)
    assert len(remembered) == 6 and remembered.get(5) == 5
    for key in range(11, 16):
        remembered.put(key, key)  # full again, nothing expired: the oldest make room
    assert len(remembered) <= 10
    assert remembered.get(5) is None and remembered.get(6) == 6 and remembered.get(15) == 15


def test_without_seconds_values_stay_until_pushed_out() -> None:
    remembered: TimedCache[int, bool] = TimedCache(100)
    for key in range(1000):
        remembered.put(key, True)
        remembered.put(0, False)  # refreshed: never the oldest
    assert len(remembered) <= 100 and remembered.get(0) is False
    assert remembered.get(999) is True


def test_threads_share_it() -> None:
    remembered: TimedCache[int, int] = TimedCache(500, seconds=60)

    def work(base: int) -> None:
        for key in range(base, base + 2000):
            remembered.put(key % 700, key)
            remembered.get((key * 7) % 700)

    threads = [threading.Thread(target=work, args=(n * 2000,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert 0 < len(remembered) <= 500
