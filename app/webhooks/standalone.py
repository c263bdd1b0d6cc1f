"""`reflexe deliver`: a process that sends the webhook outbox and does nothing else.

API replicas that store decisions at full speed may leave sending to it
(`REFLEXE_WEBHOOK_WORKERS=false` on them): the same worker as theirs (webhooks.delivery),
claiming with leases, so that any number of delivery processes and API replicas share the
outbox and each attempt is sent once. It is not woken by the writer of another process:
it finds new deliveries at its next poll (`REFLEXE_WEBHOOK_POLL_SECONDS`), and while
there are some, claims again every `GATHER` seconds. SIGTERM or SIGINT stops it after the
batch under way; a delivery it was sending when killed is sent again once its lease ends.
"""

import asyncio
import logging
import signal

from prometheus_client import start_http_server

from app.db import begin_immediately, create_db_engine
from app.settings import Settings
from app.webhooks.delivery import DeliveryWorker, Policy

logger = logging.getLogger("reflexe.webhooks")


async def deliver(settings: Settings, metrics_port: int | None, metrics_host: str) -> None:
    """Run the delivery worker until SIGTERM or SIGINT."""
    engine = create_db_engine(settings)
    worker = DeliveryWorker(
        engine,
        begin_immediately(engine),
        Policy.of(settings),
        poll=settings.webhook_poll_seconds,
    )
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    if metrics_port is not None:
        start_http_server(metrics_port, addr=metrics_host)
    worker.start()
    logger.info("delivering webhooks (worker %s)", worker.owner)
    try:
        await stopping.wait()
    finally:
        await worker.stop()
        engine.dispose()
