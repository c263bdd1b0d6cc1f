"""Request dependencies that the criteria domain provides to routes."""

from typing import Annotated

from fastapi import Depends, Request

from app.criteria.service import DefinitionCache


def get_definitions(request: Request) -> DefinitionCache:
    cache: DefinitionCache = request.app.state.definitions
    return cache


DefinitionsDep = Annotated[DefinitionCache, Depends(get_definitions)]
