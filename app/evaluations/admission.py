"""Admission of batches: how many run at once in this process."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from app.errors import ServiceUnavailable
from app.memory import release_memory


class BatchSlots:
    """How many batches this process runs at once; beyond, a batch is refused, not queued.

    A batch holds its body, its parsed items and its answer in memory while it runs, and
    keeps a core busy: bounding them bounds both, and a refusal (503, Retry-After) costs
    the caller one round trip where a queue would hold their connection and their memory.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.running = 0

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        if self.running >= self.size:
            raise ServiceUnavailable(
                f"{self.size} batches are already running in this process; retry shortly.",
                retry_after=1,
            )
        self.running += 1
        try:
            yield
        finally:
            self.running -= 1
            if self.running == 0:
                # The last batch of a burst: hand the memory they held back to the system,
                # in a thread, without making this answer wait for it.
                asyncio.get_running_loop().run_in_executor(None, release_memory)
