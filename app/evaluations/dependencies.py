"""Request dependencies of the evaluations domain: a slot for each running batch."""

from contextlib import AbstractAsyncContextManager
from typing import Annotated

from fastapi import Depends, Request

from app.routing import Gate
from app.runtime import runtime_of


class BatchSlot(Gate):
    """Take one of the process's batch slots before the batch's body is read."""

    def admit(self, request: Request) -> AbstractAsyncContextManager[None]:
        return runtime_of(request.app).batch_slots.hold()

    async def __call__(self) -> None:
        return None


BatchSlotDep = Annotated[None, Depends(BatchSlot())]
