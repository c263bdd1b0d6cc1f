"""What sending a webhook delivery costs: the delivery worker's CPU per delivery, alone.

Method. A fresh database (migrated) holds one subscription to every event and `--deliveries`
pending `evaluation.created` deliveries, written by the outbox as the decision writer
writes them. A receiver in another process answers 204 to each. This process then runs the
delivery worker (`DeliveryWorker.send_due`, as the running service does) until none is
pending, and reports its CPU time (user and system, every thread) per delivery and the
deliveries sent per second. `--profile` runs pyinstrument over the drain and prints where
the time went.

    .venv/bin/python -m bench.deliver [--db sqlite|postgresql] [--deliveries 5000] [--profile]
"""

import argparse
import asyncio
import multiprocessing
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from app.db import begin_immediately, create_db_engine, utcnow
from app.evaluations.models import EvaluationRecord  # noqa: F401 (the table's metadata)
from app.migrate import prepare_database
from app.settings import Settings
from app.webhooks import outbox
from app.webhooks.delivery import DeliveryWorker, Policy, new_secret
from app.webhooks.models import EventType, WebhookDelivery, WebhookSubscription
from bench.load import fresh_database

ALL = [event.value for event in EventType]


class Answer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as most receivers

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(204)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


def receive(port: Any) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    port.value = server.server_address[1]
    server.serve_forever()


def fill(settings: Settings, target: str, count: int) -> None:
    engine = create_db_engine(settings)
    with Session(engine) as session:
        session.add(WebhookSubscription(url=target, events=ALL, secret=new_secret()))
        session.commit()
    with engine.begin() as connection:
        wanting = outbox.subscribers(connection)
        now = utcnow()
        for start in range(0, count, 500):
            events = []
            for _ in range(start, min(count, start + 500)):
                evaluation_id = uuid.uuid4()
                events.append(
                    outbox.Event(
                        EventType.EVALUATION_CREATED,
                        {
                            "evaluation_id": str(evaluation_id),
                            "criteria_set": outbox.set_of("pipu", 1),
                            "decision": "review",
                            "final_decision": "review",
                            "criteria": {"pertinence": True, "utilite": None, "interaction": False},
                            "created_at": now.isoformat().replace("+00:00", "Z"),
                            "links": {"evaluation": f"/evaluations/{evaluation_id}"},
                        },
                        "pipu",
                        "review",
                        evaluation_id,
                    )
                )
            outbox.write(connection, events, wanting)
    engine.dispose()


def pending(settings: Settings) -> int:
    engine = create_db_engine(settings)
    with engine.connect() as connection:
        found = connection.execute(
            select(func.count()).where(WebhookDelivery.state == "pending")  # type: ignore[arg-type]
        ).scalar_one()
    engine.dispose()
    return int(found)


async def drain(settings: Settings) -> int:
    engine = create_db_engine(settings)
    worker = DeliveryWorker(
        engine,
        begin_immediately(engine),
        Policy(
            retry_schedule=tuple(settings.webhook_retry_schedule),
            timeout=settings.webhook_timeout_seconds,
            allow_private=True,
            public_url=None,
        ),
        poll=settings.webhook_poll_seconds,
    )
    sent = 0
    try:
        while found := await worker.send_due():
            sent += found
    finally:
        await worker.stop()
        engine.dispose()
    return sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--deliveries", type=int, default=5000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    port = multiprocessing.Value("i", 0)
    receiver = multiprocessing.Process(target=receive, args=(port,), daemon=True)
    receiver.start()
    while not port.value:
        time.sleep(0.01)
    target = f"http://127.0.0.1:{port.value}/hooks"
    with fresh_database(args.db, "reflexe_bench_deliver") as url:
        settings = Settings(database_url=url)
        prepare_database(settings)
        fill(settings, target, args.deliveries)
        cpu, wall = time.process_time(), time.perf_counter()
        if args.profile:
            from pyinstrument import Profiler  # optional: pip install pyinstrument

            with Profiler(async_mode="disabled", interval=0.0005) as profiler:
                sent = asyncio.run(drain(settings))
        else:
            sent = asyncio.run(drain(settings))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        left = pending(settings)
    receiver.terminate()
    print(
        f"{args.db}: {sent:,} deliveries sent in {wall:.2f} s ({sent / wall:,.0f}/s), "
        f"{cpu / max(sent, 1) * 1e6:,.0f} µs CPU each; {left} left pending"
    )
    if args.profile:
        print(profiler.output_text(unicode=True, color=False, show_all=False))


if __name__ == "__main__":
    main()
