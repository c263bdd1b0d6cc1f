"""Request dependencies that the criteria domain provides to routes."""

from typing import Annotated

from fastapi import Depends, Request

from app.criteria.registry import CriteriaRegistry
from app.runtime import runtime_of


async def get_registry(request: Request) -> CriteriaRegistry:
    return runtime_of(request.app).registry


RegistryDep = Annotated[CriteriaRegistry, Depends(get_registry)]
