"""Request dependencies that the criteria domain provides to routes."""

from typing import Annotated

from fastapi import Depends, Request

from app.criteria.registry import CriteriaRegistry


async def get_registry(request: Request) -> CriteriaRegistry:
    registry: CriteriaRegistry = request.app.state.registry
    return registry


RegistryDep = Annotated[CriteriaRegistry, Depends(get_registry)]
