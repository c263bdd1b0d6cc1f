"""The command line's client of a Reflexe server: push, pull and diff criteria set files.

Plain HTTP through httpx, as any client would do it: the set's ETag for If-Match, the
content hash to send nothing when nothing changed, the impact report's job polled at its
Location. Errors are `ServerProblem` (the server answered with a problem) and
`Unreachable` (it did not answer at all).
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from app.errors import CaseFailure, FailingCases
from app.setfiles import FileFormat, SetFile

DEFAULT_URL = "http://127.0.0.1:8000"
FAILING_CASES = "urn:reflexe:problem:failing-cases"
TIMEOUT = httpx.Timeout(30.0)


class Unreachable(Exception):
    """No answer from the server: refused, timed out, not HTTP."""


class ServerProblem(Exception):
    """The server answered with an error status; `problem` is its document."""

    def __init__(self, response: httpx.Response) -> None:
        self.status = response.status_code
        try:
            found = response.json()
        except ValueError:
            found = None
        self.problem: dict[str, Any] = (
            found if isinstance(found, dict) else {"detail": response.text.strip()}
        )
        super().__init__(self.detail)

    @property
    def detail(self) -> str:
        return str(self.problem.get("detail") or f"HTTP {self.status}")

    @property
    def is_failing_cases(self) -> bool:
        return self.status == 422 and self.problem.get("type") == FAILING_CASES

    def errors(self) -> list[tuple[str, str]]:
        """The problem's faulty fields (or failing cases), as `field` and `message`."""
        found = self.problem.get("errors") or []
        return [(str(e.get("field")), str(e.get("message"))) for e in found if isinstance(e, dict)]


@dataclass(frozen=True, slots=True)
class Server:
    """Where the server is, and the API key to call it with (none: development mode)."""

    url: str
    key: str | None = None

    def client(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        return httpx.Client(base_url=self.url.rstrip("/"), headers=headers, timeout=TIMEOUT)


@dataclass(frozen=True, slots=True)
class Pushed:
    """What a push did: `created` (version 1), `replaced` (a new version) or `unchanged`."""

    action: str
    version: int
    content_hash: str


@dataclass(frozen=True, slots=True)
class Pulled:
    text: str
    pending_cases: int


def push(server: Server, found: SetFile) -> Pushed:
    """Create the set, or replace it if its content differs from the server's current one."""
    with _calling(server) as client:
        current = client.get(f"/criteria/{found.slug}")
        if current.status_code == 404:
            created = _checked(client.post("/criteria", json=found.data()))
            return Pushed("created", created.json()["version"], created.json()["content_hash"])
        body = _checked(current).json()
        if body["content_hash"] == found.content_hash_over(body) and not body.get("pending_cases"):
            return Pushed("unchanged", body["version"], body["content_hash"])
        headers = {"If-Match": current.headers["ETag"]}
        replaced = _checked(
            client.put(f"/criteria/{found.slug}", json=found.data(), headers=headers)
        )
        return Pushed("replaced", replaced.json()["version"], replaced.json()["content_hash"])


def pull(server: Server, slug: str, version: int | None, file_format: FileFormat) -> Pulled:
    """The set's file (a version's, or the current one's), and how many cases are pending."""
    path = f"/criteria/{slug}" if version is None else f"/criteria/{slug}/versions/{version}"
    with _calling(server) as client:
        text = _checked(client.get(path, params={"format": file_format.value})).text
        current = _checked(client.get(f"/criteria/{slug}")).json()
    return Pulled(text, len(current.get("pending_cases") or []))


def impact(
    server: Server,
    found: SetFile,
    window: dict[str, Any],
    *,
    timeout: float,
    interval: float = 0.5,
) -> dict[str, Any]:
    """The impact report of the file's set against the stored decisions of `window`
    (since, until, limit): answered at once, or polled at its job's Location until done."""
    body = {"criteria": found.data(), **{k: v for k, v in window.items() if v is not None}}
    deadline = time.monotonic() + timeout
    with _calling(server) as client:
        answer = _checked(client.post(f"/criteria/{found.slug}/impact", json=body))
        if answer.status_code != 202:
            report: dict[str, Any] = answer.json()
            return report
        location = answer.headers["Location"]
        job = answer.json()
        while job.get("status") not in ("done", "failed"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the impact report was not done after {timeout:g}s")
            time.sleep(interval)
            job = _checked(client.get(location)).json()
    if job["status"] == "failed":
        raise RuntimeError(f"the impact report failed: {job.get('error') or 'no reason given'}")
    done: dict[str, Any] = job["report"]
    return done


def describe_report(report: dict[str, Any]) -> list[str]:
    """An impact report in a few readable lines."""
    candidate = report.get("candidate") or {}
    compared, changed = report["compared"], report["changed"]
    window = ", ".join(
        f"{name} {report[name]}" for name in ("since", "until") if report.get(name) is not None
    )
    lines = [
        f"{report['slug']}: draft {candidate.get('content_hash', '')} against {compared} stored "
        f"decision(s){f' ({window})' if window else ''}",
        f"changed: {changed} of {compared}{_percent(changed, compared)}",
        "",
        f"{'':<12}{'now accept':>12}{'now review':>12}{'now decline':>13}",
    ]
    outcomes = ("accept", "review", "decline")
    for was in outcomes:
        row = report["matrix"][was]
        lines.append(
            f"{'was ' + was:<12}{row['accept']:>12}{row['review']:>12}{row['decline']:>13}"
        )
    flips = [c for c in report["criteria"] if c["flipped"]]
    lines += ["", "criteria flipped:" if flips else "criteria flipped: none"]
    for criterion in flips:
        changes = ", ".join(f"{c['was']} -> {c['now']} {c['count']}" for c in criterion["changes"])
        lines.append(f"  {criterion['key']}: {criterion['flipped']} ({changes})")
    verdicts = report["verdicts"]
    lines.append(
        f"verdicts: {verdicts['with_verdict']} decision(s) with a verdict; agreeing before "
        f"{verdicts['agree_before']}{_rate(verdicts['rate_before'])}, after "
        f"{verdicts['agree_after']}{_rate(verdicts['rate_after'])}"
    )
    if report.get("not_replayed"):
        reasons = ", ".join(
            " ".join(str(r[name]) for name in ("reason", "criterion", "count") if r.get(name))
            for r in report.get("not_replayed_reasons") or []
        )
        lines.append(f"not replayed: {report['not_replayed']} ({reasons})")
    if report.get("truncated"):
        lines.append("truncated: `limit` stopped the replay early")
    cases = report["cases"]
    lines.append(f"cases: {cases['passed']} pass, {len(cases['failed'])} fail")
    failed = [CaseFailure.model_validate(c) for c in cases["failed"]]
    lines += [
        f"  {e.field}: {e.message}" for e in (FailingCases(failed).errors() if failed else [])
    ]
    return lines


def _percent(part: int, whole: int) -> str:
    return f" ({part / whole:.1%})" if whole else ""


def _rate(rate: float | None) -> str:
    return f" ({rate:.1%})" if rate is not None else ""


def _checked(response: httpx.Response) -> httpx.Response:
    if response.status_code >= 400:
        raise ServerProblem(response)
    return response


@contextmanager
def _calling(server: Server) -> Iterator[httpx.Client]:
    """A client for the block; any transport failure becomes `Unreachable`."""
    try:
        with server.client() as client:
            yield client
    except httpx.TransportError as exc:
        raise Unreachable(f"cannot reach {server.url}: {exc}") from exc
