"""Answers shared by the requests of one gateway process, read again in the background when
older than a few seconds (stale while revalidating)."""

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from flask import Flask, current_app

log = logging.getLogger(__name__)


class FirstReadingUnderWay(Exception):
    """No answer has been read yet, and another request is reading it."""


class RecentAnswers:
    """Answers shared by the requests of this gateway process: organisers reloading the dashboard
    on the day of the rush add nothing to the services' load (registration's counts read every
    registration), and probes asking for readiness many times a second ask the services once.

    An answer older than ``seconds`` is still given at once while it is asked again in the
    background, one asking at a time (stale while revalidating): a slow count holds up only the
    very first reading, never the page every ``seconds``."""

    def __init__(self, names: tuple[str, ...], seconds: float) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._answers: dict[str, tuple[float, datetime, Any]] = {}
        self._asking: dict[str, Future] = {}
        self._askers = ThreadPoolExecutor(max_workers=len(names), thread_name_prefix="recent-answers")

    def get(self, name: str, call: Callable[[], Any], wait: bool = False) -> tuple[datetime, Any]:
        """When the answer was read, and the answer; the first time, ``call()``'s (whose error
        is raised, and not kept), or, while another request reads it, FirstReadingUnderWay (or
        that reading, if ``wait``)."""
        app = current_app._get_current_object()
        with self._lock:
            kept = self._answers.get(name)
            fresh = kept is not None and time.monotonic() - kept[0] < self.seconds
            started = not fresh and name not in self._asking
            if started:
                self._asking[name] = self._askers.submit(self._ask, app, name, call)
            asking = self._asking.get(name)
        if kept is not None:
            return kept[1], kept[2]
        if not started and not wait:
            # another request is making the first reading: show the page without this part now
            # rather than hold one of the gateway's few threads until it is done
            raise FirstReadingUnderWay(name)
        return asking.result()

    def _ask(self, app: Flask, name: str, call: Callable[[], Any]) -> tuple[datetime, Any]:
        try:
            with app.app_context():
                answer = call()
            with self._lock:
                self._answers[name] = (time.monotonic(), datetime.now(UTC), answer)
            return self._answers[name][1], answer
        except Exception as error:
            log.warning("answer not read", extra={"part": name, "error": str(error)})
            raise
        finally:
            with self._lock:
                self._asking.pop(name, None)
