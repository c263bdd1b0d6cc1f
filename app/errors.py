"""The error tree: every error a client can cause or be told about, as RFC 9457 problems.

Services, the engine's callers and the writer raise `ReflexeError` subclasses; each knows
its status, its problem type and title, and gives its `Problem` document. Nothing here
knows the web framework: `app.problems` renders them as HTTP answers.

    ReflexeError (500)
    ├── Unauthorized (401)        no key, or an unknown or revoked one
    ├── Forbidden (403)           the key's role may not
    ├── NotFound (404)
    ├── Conflict (409)
    │   └── CriteriaSetArchived   the set may no longer evaluate
    ├── PreconditionFailed (412)  a stale If-Match
    ├── PreconditionRequired (428)
    ├── MalformedBody (400)       not JSON at all
    ├── PayloadTooLarge (413)
    ├── HeadersTooLarge (431)     refused by the HTTP server (app.server)
    ├── InvalidInput (422)        names every faulty field
    │   └── FailingCases          a criteria set's test cases fail, each one listed
    ├── TooManyRequests (429)     with Retry-After
    └── ServiceUnavailable (503)  with Retry-After
"""

from collections.abc import Sequence
from http import HTTPStatus

from pydantic import BaseModel, Field
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

MALFORMED_DETAIL = "The request body is not valid JSON."


class FieldError(BaseModel):
    field: str = Field(description="Path of the faulty field, e.g. `criteria[1].key`.")
    location: str = Field(description="Where the field is: body, query, path or header.")
    message: str = Field(description="What is wrong with it.")


class CaseOutcome(BaseModel):
    decision: str = Field(description="The decision.")
    met: dict[str, bool | None] = Field(description="Per criterion key: met, not met or null.")


class CaseFailure(BaseModel):
    """A test case of a criteria set that does not get what it expects."""

    index: int = Field(description="Position of the case in `cases`.")
    name: str = Field(description="The case's name.")
    expected: CaseOutcome = Field(description="What the case expects (only what it names).")
    actual: CaseOutcome = Field(description="What the set decides, for what the case names.")


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = Field(description="A URI that identifies the kind of problem.")
    title: str = Field(description="A short summary of the kind of problem.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong on this request.")
    instance: str | None = Field(default=None, description="The request path.")
    errors: list[FieldError] | None = Field(
        default=None, description="For validation problems: every faulty field."
    )
    cases: list[CaseFailure] | None = Field(
        default=None, description="For failing test cases: each one, expected and actual."
    )
    request_id: str | None = Field(
        default=None, description="The request's id, as in the answer's `X-Request-ID` header."
    )


class ReflexeError(Exception):
    """Base of every error a client can cause or be told about."""

    status_code = 500
    problem_type = "about:blank"
    title = "Internal Server Error"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}

    def errors(self) -> list[FieldError] | None:
        return None

    def problem(self, instance: str | None = None) -> "Problem":
        return Problem(
            type=self.problem_type,
            title=self.title,
            status=self.status_code,
            detail=self.detail,
            instance=instance,
            errors=self.errors(),
            cases=self.cases(),
        )

    def cases(self) -> list[CaseFailure] | None:
        return None


class Unauthorized(ReflexeError):
    """No API key, or one that is unknown or revoked (RFC 6750's challenge included)."""

    status_code = 401
    problem_type = "urn:reflexe:problem:unauthorized"
    title = "Unauthorized"

    def __init__(self, detail: str, *, invalid_token: bool = False) -> None:
        challenge = 'Bearer realm="reflexe"'
        if invalid_token:
            challenge += ', error="invalid_token"'
        super().__init__(detail, headers={"WWW-Authenticate": challenge})


class Forbidden(ReflexeError):
    status_code = 403
    problem_type = "urn:reflexe:problem:forbidden"
    title = "Forbidden"


class NotFound(ReflexeError):
    status_code = 404
    problem_type = "urn:reflexe:problem:not-found"
    title = "Not found"


class Conflict(ReflexeError):
    status_code = 409
    problem_type = "urn:reflexe:problem:conflict"
    title = "Conflict"


class CriteriaSetArchived(Conflict):
    problem_type = "urn:reflexe:problem:criteria-set-archived"
    title = "Criteria set archived"


class PreconditionRequired(ReflexeError):
    status_code = 428
    problem_type = "urn:reflexe:problem:precondition-required"
    title = "Precondition required"


class PreconditionFailed(ReflexeError):
    status_code = 412
    problem_type = "urn:reflexe:problem:precondition-failed"
    title = "Precondition failed"


class MalformedBody(ReflexeError):
    """A request body that is not JSON at all (as opposed to JSON of the wrong shape)."""

    status_code = 400
    problem_type = "urn:reflexe:problem:malformed-json"
    title = "Malformed JSON"


class UnsupportedMediaType(ReflexeError):
    """A body sent as something other than JSON (or with no Content-Type at all)."""

    status_code = 415
    problem_type = "urn:reflexe:problem:unsupported-media-type"
    title = "Unsupported media type"


JSON_ONLY_DETAIL = "This endpoint reads JSON: send the body with Content-Type: application/json."
CODING_DETAIL = "Bodies are read as sent: send it without a Content-Encoding (no gzip, br...)."


class PayloadTooLarge(ReflexeError):
    status_code = 413
    problem_type = "urn:reflexe:problem:payload-too-large"
    title = "Payload too large"


class HeadersTooLarge(ReflexeError):
    """A request line and headers over the limit, refused by the HTTP server itself."""

    status_code = 431
    problem_type = "urn:reflexe:problem:headers-too-large"
    title = "Request header fields too large"


class TooManyRequests(ReflexeError):
    status_code = 429
    problem_type = "urn:reflexe:problem:rate-limited"
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


class ServiceUnavailable(ReflexeError):
    status_code = 503
    problem_type = "urn:reflexe:problem:unavailable"
    title = "Service unavailable"

    def __init__(self, detail: str, *, retry_after: int = 5) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


class InvalidInput(ReflexeError):
    """Input that is well-formed but breaks a rule; names every faulty field."""

    status_code = 422
    problem_type = "urn:reflexe:problem:validation"
    title = "Invalid request"

    def __init__(
        self, field_errors: Sequence[tuple[str, str] | FieldError], location: str = "body"
    ) -> None:
        self.field_errors = [
            e
            if isinstance(e, FieldError)
            else FieldError(field=e[0], location=location, message=e[1])
            for e in field_errors
        ]
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in self.field_errors))

    def errors(self) -> list[FieldError]:
        return self.field_errors


class FailingCases(InvalidInput):
    """A criteria set whose test cases do not all pass: nothing is saved."""

    problem_type = "urn:reflexe:problem:failing-cases"
    title = "Test cases fail"

    def __init__(self, failures: Sequence[CaseFailure], prefix: str = "") -> None:
        super().__init__([(f"{prefix}cases[{f.index}]", _failure_message(f)) for f in failures])
        self.failures = list(failures)
        self.detail = (
            f"{len(self.failures)} test case(s) fail: "
            + ", ".join(repr(f.name) for f in self.failures)
            + "; nothing was saved."
        )

    def cases(self) -> list[CaseFailure]:
        return self.failures


_STATUS_WORDS = {True: "met", False: "not met", None: "unknown"}


def _failure_message(failure: CaseFailure) -> str:
    """`expected accept, got review; utilite: expected met, got unknown`."""
    parts = []
    expected, actual = failure.expected, failure.actual
    if expected.decision != actual.decision:
        parts.append(f"expected {expected.decision}, got {actual.decision}")
    parts.extend(
        f"{key}: expected {_STATUS_WORDS[value]}, got {_STATUS_WORDS[actual.met.get(key)]}"
        for key, value in expected.met.items()
        if actual.met.get(key) is not value
    )
    return f"case '{failure.name}': " + "; ".join(parts)


def field_path(loc: Sequence[str | int]) -> str:
    """Render a pydantic location ("criteria", 1, "key") as `criteria[1].key`.

    A name that is not valid Unicode (a lone surrogate sent as `\\ud800`) is shown escaped,
    so that the problem document naming it can be written.
    """
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
            continue
        name = str(part).encode("utf-8", "backslashreplace").decode()
        path += f".{name}" if path else name
    return path or "(root)"


# Connection refused, pool exhausted, server gone: a 503 the client may retry.
DATABASE_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError, PoolTimeoutError)


def problem_of(status: int, detail: str, instance: str | None = None) -> Problem:
    """The problem document of a bare HTTP status, for errors raised outside the tree."""
    return Problem(
        type="about:blank",
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        instance=instance,
    )
