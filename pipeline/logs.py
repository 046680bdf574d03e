"""Run logs on stderr: one line per event, as text for a person or JSON for a log
collector (`--log-json`). Lines carry run ids, stages, counts and durations; never a
patient identifier or any other value from the exports.

A log call passes its structured values as `extra={"fields": {...}}`; the text form
shows the message alone, the JSON form adds the fields as keys.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any


def configure(*, quiet: bool, as_json: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter()
        if as_json
        else logging.Formatter("%(asctime)s ptaudit %(levelname)s %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING if quiet else logging.INFO)


def fields(**values: Any) -> dict[str, dict[str, Any]]:
    """The `extra` of a log call: fields(stage="load", seconds=1.5)."""
    return {"fields": values}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)
