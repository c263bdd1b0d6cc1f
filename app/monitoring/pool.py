"""Database pool use, followed through SQLAlchemy's pool events.

Events rather than `pool.checkedout()` read at scrape time: with several workers a scrape
is answered by one of them, which cannot read the others' pools; their gauges add up in
the metrics directory instead (`livesum`). A checkout is one per transaction, never per
request on the evaluate path (the writer stores groups).
"""

from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.pool import QueuePool

from app.monitoring.metrics import POOL_CHECKED_OUT, POOL_SIZE


def _checked_out(*_: Any) -> None:
    POOL_CHECKED_OUT.inc()


def _checked_in(*_: Any) -> None:
    POOL_CHECKED_OUT.dec()


def watch_pool(engine: Engine) -> None:
    """Count `engine`'s connections in use, and its pool's size, until `unwatch_pool`."""
    event.listen(engine, "checkout", _checked_out)
    event.listen(engine, "checkin", _checked_in)
    POOL_SIZE.inc(_size(engine))


def unwatch_pool(engine: Engine) -> None:
    """Stop counting `engine` (before it is disposed): its connections are returned."""
    if event.contains(engine, "checkout", _checked_out):
        event.remove(engine, "checkout", _checked_out)
        event.remove(engine, "checkin", _checked_in)
        pool = engine.pool
        if isinstance(pool, QueuePool):
            POOL_CHECKED_OUT.dec(pool.checkedout())
        POOL_SIZE.dec(_size(engine))


def _size(engine: Engine) -> int:
    return engine.pool.size() if isinstance(engine.pool, QueuePool) else 0
