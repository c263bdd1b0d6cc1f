"""Every metric the service exports, defined once; no web framework here.

Defined at import, in the process-wide registry of prometheus-client. With several worker
processes `reflexe serve` points PROMETHEUS_MULTIPROC_DIR at a fresh directory before any
worker starts: each process then keeps its values in files there, and a scrape of any
worker sums them all (app.monitoring.exposition). Gauges say how they add up across
processes (`multiprocess_mode`); `livesum` counts only processes still alive.

Hot paths hold label children, not label values: `.labels()` costs a lookup and a lock,
a child's `inc` or `observe` only the latter.
"""

import platform
from collections.abc import Iterable, Sequence
from importlib import metadata
from typing import Any

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

from app import __version__

# No `_created` series: several workers do not export them, one would.
disable_created_metrics()  # type: ignore[no-untyped-call]

# Latency of an answer, from 1 ms: POST /evaluate answers in about 1 ms stored.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
GROUP_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
COMMIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5)

HTTP_REQUESTS = Counter(
    "reflexe_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ("method", "route", "status"),
)
HTTP_DURATION = Histogram(
    "reflexe_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by method, route and status.",
    ("method", "route", "status"),
    buckets=LATENCY_BUCKETS,
)
DECISIONS = Counter(
    "reflexe_decisions",
    "Decisions stored (committed by the decision writer), by criteria set and outcome. "
    "Dry runs store nothing and are not counted.",
    ("criteria_set", "outcome"),
)
VERDICTS = Counter(
    "reflexe_verdicts",
    "Human verdicts recorded, by the verdict's decision.",
    ("decision",),
)
WRITER_GROUP_SIZE = Histogram(
    "reflexe_writer_group_decisions",
    "Decisions per transaction of the decision writer.",
    buckets=GROUP_BUCKETS,
)
WRITER_COMMIT = Histogram(
    "reflexe_writer_commit_seconds",
    "Time of one write transaction of the decision writer, steps and commit included.",
    buckets=COMMIT_BUCKETS,
)
WRITER_FAILURES = Counter(
    "reflexe_writer_failed_commits",
    "Write transactions of the decision writer that failed (each answered 503).",
)
WRITER_QUEUE = Gauge(
    "reflexe_writer_queue_depth",
    "Units (requests) waiting for the decision writer, when it last took or finished a group.",
    multiprocess_mode="livesum",
)
POOL_CHECKED_OUT = Gauge(
    "reflexe_db_pool_checked_out",
    "Database connections in use, every live process together.",
    multiprocess_mode="livesum",
)
POOL_SIZE = Gauge(
    "reflexe_db_pool_size",
    "Connections the pools keep (PostgreSQL: REFLEXE_DB_POOL_SIZE a process; overflow "
    "aside), every live process together.",
    multiprocess_mode="livesum",
)
RATE_LIMITED = Counter(
    "reflexe_rate_limited",
    "Requests refused with 429: `key` for a key's rate limit, `auth_failures` for an "
    "address that failed to authenticate too often.",
    ("reason",),
)
# Webhook delivery attempts: "delivered", "retried" (due again later) or "failed".
WEBHOOK_DELIVERIES = Counter(
    "reflexe_webhook_deliveries",
    "Webhook deliveries attempted, by event type and outcome.",
    ("event_type", "outcome"),
)
WEBHOOK_DELIVERY_SECONDS = Histogram(
    "reflexe_webhook_delivery_seconds",
    "Time of one webhook delivery attempt, until the receiver answered or failed.",
    buckets=LATENCY_BUCKETS,
)
BUILD_INFO = Gauge(
    "reflexe_build_info",
    "Always 1: the version of the service and of Python.",
    ("version", "python"),
    multiprocess_mode="max",
)

RATE_LIMITED_KEY = RATE_LIMITED.labels("key")
RATE_LIMITED_AUTH = RATE_LIMITED.labels("auth_failures")


def package_version() -> str:
    """The installed package's version, or the source's when it is not installed."""
    try:
        return metadata.version("reflexe")
    except metadata.PackageNotFoundError:  # pragma: no cover - always installed here
        return __version__


BUILD_INFO.labels(package_version(), platform.python_version()).set(1)


class WriterMetrics:
    """What the decision writer reports: its groups, their commits, its queue."""

    def __init__(self) -> None:
        self._decisions: dict[tuple[str, str], Any] = {}

    def waiting(self, units: int) -> None:
        WRITER_QUEUE.set(units)

    def committed(self, seconds: float, stored: Iterable[Sequence[dict[str, Any]]]) -> None:
        """A transaction committed in `seconds`, storing the rows of each stored unit."""
        WRITER_COMMIT.observe(seconds)
        size = 0
        counts: dict[tuple[str, str], int] = {}
        for rows in stored:
            size += len(rows)
            for row in rows:
                label = (row["criteria_set_slug"], row["decision"])
                counts[label] = counts.get(label, 0) + 1
        WRITER_GROUP_SIZE.observe(size)
        for label, count in counts.items():
            child = self._decisions.get(label)
            if child is None:
                child = self._decisions[label] = DECISIONS.labels(*label)
            child.inc(count)

    def failed(self) -> None:
        WRITER_FAILURES.inc()


class NoWriterMetrics(WriterMetrics):
    """Metrics turned off (REFLEXE_METRICS_ENABLED=false): nothing is counted."""

    def waiting(self, units: int) -> None:
        pass

    def committed(self, seconds: float, stored: Iterable[Sequence[dict[str, Any]]]) -> None:
        pass

    def failed(self) -> None:
        pass
