"""Radicale's own filter test (a calendar-query REPORT's filters on one item), with its
answers remembered by item version (etag) and filter: clients ask the same window again
and again, and the test parses the whole item."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from radicale import item as radicale_item
from radicale.app import report as radicale_report

from groupware.cache import TimedCache

REMEMBERED = 50_000  # answers of item versions (a bool and its key each)


class FilterAnswers:
    def __init__(self) -> None:
        self._answers: TimedCache[tuple[str, str, bytes], bool] = TimedCache(REMEMBERED)

    def answer(
        self,
        tag: str,
        item: radicale_item.Item,
        etag: str,
        filters: list[ET.Element],
        asked: bytes,
    ) -> bool | None:
        """Whether `item` passes every filter (Radicale's own test), remembered by item
        version (etag) and filter; None when the test fails."""
        key = (tag, etag, asked)
        known = self._answers.get(key)
        if known is not None:
            return known
        try:
            known = all(radicale_report.test_filter(tag, item, f) for f in filters)
        except Exception:
            return None
        self._answers.put(key, known)
        return known
