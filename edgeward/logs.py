"""Logging set-up shared by every edgeward command.

``--log-format text`` (default) writes ``time level logger: message``; ``--log-format
json`` writes one JSON object per line (``ts``, ``level``, ``logger``, ``msg`` and any
``extra={...}`` fields), which an operator can grep or ship as is. Loggers are named
``edgeward.<tool>.<part>`` so ``grep edgeward.printer_sync`` finds one tool's lines.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, Final, Literal, TextIO

LogFormat = Literal["text", "json"]

# Attributes every LogRecord has; anything else came from ``extra=`` and is emitted.
_STANDARD: Final = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value if isinstance(value, int | float | bool | None) else str(value)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def setup_logging(
    level: str | int = "info", fmt: LogFormat = "text", stream: TextIO | None = None
) -> None:
    """Configure the root logger once for a command-line entry point."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if fmt == "json":
        handler.setFormatter(JSONFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper() if isinstance(level, str) else level)
    # uvicorn's access log is noisy and duplicates our request metrics.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)


def get_logger(name: str) -> logging.Logger:
    """``get_logger("printer_sync.push")`` → the ``edgeward.printer_sync.push`` logger."""
    return logging.getLogger(f"edgeward.{name}")
