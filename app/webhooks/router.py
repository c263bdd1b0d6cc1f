"""HTTP routes for webhook subscriptions and their deliveries (/webhooks), admin only."""

import uuid
from typing import Annotated

import anyio
from fastapi import APIRouter, Path, Query, Request, Response, status
from sqlmodel import Session

from app.auth.dependencies import AdminKey
from app.problems import problem_responses
from app.routing import GatedRoute
from app.runtime import runtime_of
from app.sessions import SessionDep, WriteSessionDep
from app.webhooks import delivery as sending
from app.webhooks import service
from app.webhooks.models import (
    DeliveryPage,
    DeliveryPublic,
    DeliveryState,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionPage,
    SubscriptionPublic,
    SubscriptionUpdate,
)

router = APIRouter(
    prefix="/webhooks",
    tags=["webhooks"],
    responses=problem_responses(401, 403, 429, 503),
    route_class=GatedRoute,
)
SubscriptionId = Annotated[uuid.UUID, Path(description="The subscription's id.")]
DeliveryId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The delivery's id.")]


def _allow_private(request: Request) -> bool:
    return runtime_of(request.app).settings.webhook_allow_private_targets


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=SubscriptionCreated,
    responses={
        201: {
            "description": "Subscribed; the signing secret is in the body, this once.",
            "headers": {"Location": {"schema": {"type": "string"}}},
        },
        **problem_responses(400, 413, 422),
    },
)
def create_webhook(
    caller: AdminKey,
    session: WriteSessionDep,
    request: Request,
    response: Response,
    body: SubscriptionCreate,
) -> SubscriptionCreated:
    """Subscribe a URL to event types, optionally filtered by set and outcome.

    The target must be public (not loopback, link-local or private) unless the deployment
    allows internal targets. Deliveries are signed as the Standard Webhooks specification
    says, with the secret returned here once.
    """
    created = service.create(session, body, _allow_private(request), caller.key_id)
    response.headers["Location"] = f"/webhooks/{created.id}"
    return created


@router.get("", response_model=SubscriptionPage)
def list_webhooks(caller: AdminKey, session: SessionDep) -> SubscriptionPage:
    """Every subscription, oldest first: their filters, whether enabled, their last error."""
    return SubscriptionPage(items=service.list_all(session))


@router.get(
    "/{subscription_id}", response_model=SubscriptionPublic, responses=problem_responses(404, 422)
)
def get_webhook(
    caller: AdminKey, session: SessionDep, subscription_id: SubscriptionId
) -> SubscriptionPublic:
    """A subscription (never its secret)."""
    return service.public(service.load(session, subscription_id))


@router.patch(
    "/{subscription_id}",
    response_model=SubscriptionPublic,
    responses=problem_responses(400, 404, 413, 422),
)
def update_webhook(
    caller: AdminKey,
    session: WriteSessionDep,
    request: Request,
    subscription_id: SubscriptionId,
    body: SubscriptionUpdate,
) -> SubscriptionPublic:
    """Change what was sent, the rest stays; `enabled: true` turns a disabled subscription
    back on, and its pending deliveries go again."""
    return service.change(session, subscription_id, body, _allow_private(request))


@router.delete(
    "/{subscription_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(404, 422),
)
def delete_webhook(
    caller: AdminKey, session: WriteSessionDep, subscription_id: SubscriptionId
) -> Response:
    """Unsubscribe: the subscription goes, with its deliveries, sent or not."""
    service.remove(session, subscription_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{subscription_id}/deliveries",
    response_model=DeliveryPage,
    responses=problem_responses(404, 422),
)
def list_deliveries(
    caller: AdminKey,
    session: SessionDep,
    subscription_id: SubscriptionId,
    state: Annotated[DeliveryState | None, Query(description="Only in this state.")] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="At most this many.")] = 50,
    cursor: Annotated[
        str | None,
        Query(pattern=r"^[1-9][0-9]{0,18}$", description="`next_cursor` of the page before."),
    ] = None,
) -> DeliveryPage:
    """The subscription's deliveries, newest first: each attempt's status, error, latency."""
    return service.deliveries(
        session,
        subscription_id,
        state=state,
        limit=limit,
        cursor=None if cursor is None else int(cursor),
    )


@router.get(
    "/{subscription_id}/deliveries/{delivery_id}",
    response_model=DeliveryPublic,
    responses=problem_responses(404, 422),
)
def get_delivery(
    caller: AdminKey, session: SessionDep, subscription_id: SubscriptionId, delivery_id: DeliveryId
) -> DeliveryPublic:
    """One delivery and its attempts."""
    return service.delivery(session, subscription_id, delivery_id)


@router.post(
    "/{subscription_id}/deliveries/{delivery_id}/replay",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeliveryPublic,
    responses={
        202: {"description": "A new delivery of the same event (same `webhook-id`), due now."},
        **problem_responses(404, 422),
    },
)
def replay_delivery(
    caller: AdminKey,
    session: WriteSessionDep,
    request: Request,
    subscription_id: SubscriptionId,
    delivery_id: DeliveryId,
) -> DeliveryPublic:
    """Send a delivery's event again, whatever became of it, with the usual retries."""
    again = service.replay(session, subscription_id, delivery_id)
    runtime_of(request.app).webhooks.wake()
    return again


@router.post(
    "/{subscription_id}/test",
    response_model=DeliveryPublic,
    responses={
        200: {"description": "The attempt made, delivered or not: see `state` and `history`."},
        **problem_responses(404, 422),
    },
)
async def test_webhook(
    caller: AdminKey, request: Request, subscription_id: SubscriptionId
) -> DeliveryPublic:
    """Send a signed `webhook.test` event to the subscription now, once, and answer how it
    went (the subscription's state is left as it is)."""
    runtime = runtime_of(request.app)
    worker = runtime.webhooks

    def prepare() -> int:
        with Session(runtime.write_engine) as session:
            return service.test_delivery(
                session, subscription_id, worker.owner, worker.policy.lease
            )

    delivery_id = await anyio.to_thread.run_sync(prepare)
    held = await anyio.to_thread.run_sync(
        sending.held, runtime.engine, delivery_id, worker.policy.public_url
    )
    await worker.attempt(held, retry=False)

    def read() -> DeliveryPublic:
        with Session(runtime.engine) as session:
            return service.delivery(session, subscription_id, delivery_id)

    return await anyio.to_thread.run_sync(read)
