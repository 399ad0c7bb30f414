"""Logging to stderr, one line per event, as plain text or JSON (log.json = true).

Modules log through `logging.getLogger(__name__)`; nothing else configures handlers.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from groupware.config import LogConfig


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class LineFormatter(logging.Formatter):
    """Plain text, with tracebacks folded onto the same line so one event is one line."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\n", " | ")


def configure(config: LogConfig) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter() if config.json else LineFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(config.level.upper())
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    # aiosmtpd logs every SMTP command (with addresses) at INFO: ours say what matters.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
