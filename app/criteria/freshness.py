"""Whether criteria versions are still current, for answers that skip the writer.

A dry run stores nothing, so it is not checked inside a write transaction: it asks
`Freshness.are_current`, which reads the sets' state from the database. Under load, one
read serves every dry run waiting when it starts: a dry run waits for a read that begins
after it asked (one already running may predate its decision), and every dry run that
asked meanwhile shares that next read. So the database sees at most one read in flight
and one queued, however many dry runs arrive.
"""

import asyncio
from collections.abc import Iterable

import anyio

from app.criteria.registry import CriteriaRegistry, ResolvedCriteria, SetState


class Freshness:
    def __init__(self, registry: CriteriaRegistry) -> None:
        self._registry = registry
        self._running: asyncio.Future[dict[int, SetState]] | None = None
        self._next: asyncio.Future[dict[int, SetState]] | None = None
        self._task: asyncio.Task[None] | None = None  # held: the loop keeps only weak ones

    async def are_current(self, checks: Iterable[ResolvedCriteria]) -> bool:
        """Whether every version in `checks` is current, read after this call began."""
        wanted = self._next
        if wanted is None:
            wanted = self._next = asyncio.get_running_loop().create_future()
            if self._running is None:
                self._start()
        # Shielded: a caller that goes away does not cancel the read the others wait for.
        states = await asyncio.shield(wanted)
        return all(check.is_current(states) for check in checks)

    def _start(self) -> None:
        read, self._running, self._next = self._next, self._next, None
        assert read is not None
        self._task = asyncio.get_running_loop().create_task(self._read(read))

    async def _read(self, read: asyncio.Future[dict[int, SetState]]) -> None:
        try:
            states = await anyio.to_thread.run_sync(self._registry.refresh)
        except BaseException as exc:  # every waiter hears of it (503 for a database error)
            read.set_exception(exc)
            read.exception()  # retrieved: nobody may be waiting any more
        else:
            read.set_result(states)
        finally:
            self._running = None
            if self._next is not None:
                self._start()
