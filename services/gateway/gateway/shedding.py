"""Load shedding: under more load than the platform can take, a request that has already waited
too long for a thread is answered 503 at once, with Retry-After, instead of being worked on.

Without it, a rush beyond capacity queues requests inside each worker until their clients give
up, and the platform then spends its processor on requests nobody is waiting for, while every
newer request waits behind them. The worker notes when each request was queued; the app refuses
those that waited longer than ``GATEWAY_MAX_QUEUE_SECONDS``, before anything is read or written.
"""

import threading
import time

from gunicorn.workers.gthread import ThreadWorker

_handling = threading.local()


class SheddingWorker(ThreadWorker):
    """gunicorn's gthread worker, noting how long each request waited for a thread."""

    def enqueue_req(self, conn: object) -> None:
        conn.queued_at = time.monotonic()
        super().enqueue_req(conn)

    def handle(self, conn: object) -> object:
        # taken when a thread picks the request up: what follows (waiting for a slow client's
        # first bytes, reading its headers) is not time spent queued
        queued_at = getattr(conn, "queued_at", None)
        _handling.waited = 0.0 if queued_at is None else time.monotonic() - queued_at
        return super().handle(conn)


def seconds_queued() -> float:
    """How long the request this thread is handling waited for it (0 outside the worker)."""
    return getattr(_handling, "waited", 0.0)
