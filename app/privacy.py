"""What the decision log keeps about a person: the levels a criteria set chooses, and the
keyed hash a subject's ref is found by.

No web framework and no database here: the evaluate path, the log, the subjects' access
and erasure and the retention purge all read the same definitions.
"""

import hashlib
import hmac
from enum import StrEnum

from app.settings import Settings


class Privacy(StrEnum):
    """How much of a decision's inputs the log keeps.

    `full`: the inputs as given (subject, answers, attributes) and the answer byte for byte.
    `minimal`: no attributes, no name, the ref only as its keyed hash, and the answer
    without the profile's values (the rules' own values and every verdict stay).
    """

    FULL = "full"
    MINIMAL = "minimal"


# The key of development mode without REFLEXE_SECRET_KEY: a subject key is then a plain
# hash that anyone can recompute from a ref. The README says so.
_DEVELOPMENT_KEY = b"reflexe development subject key"
_CONTEXT = b"reflexe subject key v1"


class SubjectKeys:
    """A subject's key: HMAC-SHA256 of its ref under a key derived from the secret, in hex.

    Every stored decision with a ref carries it, whatever its privacy, so that one lookup
    finds a person's decisions, the minimised ones included.
    """

    def __init__(self, secret: bytes | None) -> None:
        base = _DEVELOPMENT_KEY if secret is None else secret
        self._key = hmac.new(base, _CONTEXT, hashlib.sha256).digest()

    def of(self, ref: str) -> str:
        return hmac.new(self._key, ref.encode(), hashlib.sha256).hexdigest()

    @classmethod
    def from_settings(cls, settings: Settings) -> "SubjectKeys":
        secret = settings.secret_key
        return cls(None if secret is None else secret.get_secret_value().encode())


SUBJECT_KEY_LENGTH = 64
