"""The metrics as Prometheus text, of this process or of every worker together.

With PROMETHEUS_MULTIPROC_DIR set (`reflexe serve --workers N`, N > 1), each process
writes its values to files there and a scrape reads all of them, whichever worker answers.
A worker that stops marks itself dead (its `livesum` gauges no longer count); one killed
is found dead at the next scrape. Counters of dead workers keep counting, as Prometheus
expects of a counter.
"""

import os
import re
from pathlib import Path

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess

from app.monitoring.multiproc import MULTIPROC_ENV

_LIVE_FILE = re.compile(r"gauge_live\w+_(\d+)\.db")


def multiprocess_directory() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def latest() -> bytes:
    """Every metric, as Prometheus text."""
    directory = multiprocess_directory()
    if directory is None:
        return generate_latest(REGISTRY)
    forget_dead_processes(directory)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, directory)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def forget_dead_processes(directory: str) -> None:
    """Mark dead the processes whose live gauges are still there (killed, not stopped)."""
    pids = {
        int(m[1]) for path in Path(directory).iterdir() if (m := _LIVE_FILE.fullmatch(path.name))
    }
    for pid in pids:
        if not _is_alive(pid):
            multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]


def process_stopped() -> None:
    """This process stops: its live gauges no longer count."""
    directory = multiprocess_directory()
    if directory is not None:
        multiprocess.mark_process_dead(os.getpid(), directory)  # type: ignore[no-untyped-call]


def _is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - another user's process
        return True
    return True
