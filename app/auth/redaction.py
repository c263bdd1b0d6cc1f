"""Keep API keys and subject refs out of the logs, even when a client puts a key where it
does not belong, or a person's ref in a URL (`/evaluations?subject=`, `/subjects/{ref}`)."""

import logging
import re

from app.auth.models import KEY_ID
from app.auth.service import PREFIX

# A key's secret part; the public id before it stays, to tell which key leaked.
_SECRET = re.compile(rf"({PREFIX}{KEY_ID}_)[A-Za-z0-9_-]+")


# A subject's ref in a request line: the log filter's value, or the subjects' path segment
# (not the names of the subjects' own operations).
_SUBJECT_QUERY = re.compile(r"([?&]subject=)[^&\s\"]+")
_SUBJECT_PATH = re.compile(r"(/subjects/)(?!(?:search|erase)(?:[\s?\"]|$))[^\s?\"]+")


def redact(text: str) -> str:
    text = _SECRET.sub(r"\1[redacted]", text)
    if "subject" not in text:
        return text
    return _SUBJECT_PATH.sub(r"\1[redacted]", _SUBJECT_QUERY.sub(r"\1[redacted]", text))


class RedactKeys(logging.Filter):
    """Mask the secret of any API key and any subject ref in a record (uvicorn's access log
    shows paths and query strings)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def install_redaction() -> None:
    """Add the filter to the loggers that may see request lines (once per logger)."""
    # Filters do not apply to records propagated from child loggers: name each one.
    for name in ("uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactKeys) for f in logger.filters):
            logger.addFilter(RedactKeys())
