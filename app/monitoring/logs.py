"""Logs as JSON, one object a line (REFLEXE_LOG_FORMAT=json), through python-json-logger.

Every record carries the id of the request it was written for (`request_id`), when there
is one. In JSON mode uvicorn's access log is off: the service writes one line per request
itself (`reflexe.access`, app.monitoring.middleware), with the route template rather than
the path, and the key's id, never a key or anything of a request's body. In text mode
(the default) logging is uvicorn's, unchanged.
"""

import logging
from typing import Any

from app.monitoring.requestids import current_request_id

# The record's attributes kept, under these names; any `extra` joins them.
FIELDS = {"levelname": "level", "name": "logger", "process": "pid", "message": "message"}


class RequestIdFilter(logging.Filter):
    """Add the current request's id to a record that does not carry one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            request_id = current_request_id.get()
            if request_id is not None:
                record.request_id = request_id
        return True


def json_formatter() -> logging.Formatter:
    """The formatter of JSON mode."""
    from pythonjsonlogger.json import JsonFormatter

    # `time`: ISO 8601, UTC.
    return JsonFormatter(list(FIELDS), rename_fields=FIELDS, timestamp="time")


def log_config(level: str) -> dict[str, Any]:
    """uvicorn's `log_config` for JSON mode: every logger, uvicorn's included, as JSON on
    stderr. Applied by uvicorn in each worker process."""
    handler = {"handlers": ["json"], "level": level.upper(), "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"json": {"()": json_formatter}},
        "handlers": {
            "json": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "filters": ["request_id"],
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {"uvicorn": handler, "reflexe": handler, "app": handler},
        "root": {"handlers": ["json"], "level": level.upper()},
    }
