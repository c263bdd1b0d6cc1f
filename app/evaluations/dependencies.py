"""Request dependencies that the evaluations domain provides to routes."""

from typing import Annotated

from fastapi import Depends, Request

from app.evaluations.writer import DecisionWriter


async def get_writer(request: Request) -> DecisionWriter:
    writer: DecisionWriter = request.app.state.writer
    return writer


WriterDep = Annotated[DecisionWriter, Depends(get_writer)]
