"""GET /metrics: the service's metrics, for Prometheus."""

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from app.auth.dependencies import RequireRole
from app.auth.guard import Principal
from app.auth.models import Role
from app.monitoring.exposition import latest
from app.problems import problem_responses
from app.routing import GatedRoute

router = APIRouter(tags=["monitoring"], route_class=GatedRoute)

# Admins and auditors see volumes across every key, as they see the log; the scraper's
# token (REFLEXE_METRICS_TOKEN) reads as an auditor here.
MetricsReader = Annotated[Principal, Depends(RequireRole(Role.admin, Role.auditor))]


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "description": "The metrics, in Prometheus' text format.",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        **problem_responses(401, 403, 429, 503),
    },
)
def metrics(_: MetricsReader) -> Response:
    """Every metric of the service, all workers together, in Prometheus' text format."""
    return Response(latest(), media_type=CONTENT_TYPE_LATEST)
