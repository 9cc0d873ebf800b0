"""Each party's suggestions as last read, kept a few seconds by this gateway process.

A person going through their suggestions (the next page, a filter, back to the first page) sees
one list: reading it costs matching's ranked list, registration's public profiles of every
suggestion and the accepted counterparts' contact cards, so it is read once and the clicks that
follow are answered from here for ``seconds``.

A list is never shown older than the person's own last change to it: expressing interest or
answering one marks the session (``mark_changed``), and a list read before that mark is read
again. Changes made by others (a new suggestion, a counterpart's answer) show within
``seconds``, about as soon as the e-mail telling of them.
"""

import threading
import time
from collections.abc import Callable
from typing import Any

from cachetools import TTLCache
from flask import session

CHANGED = "suggestions_changed_at"


class RecentSuggestions:
    def __init__(self, seconds: float, parties: int) -> None:
        # TTLCache is not safe to share between threads by itself
        self._lock = threading.Lock()
        self._lists: TTLCache = TTLCache(maxsize=parties, ttl=seconds)

    def get(self, party_id: str, read: Callable[[], Any]) -> Any:
        """The party's list as read by ``read()``, read again unless a reading newer than the
        session's last change is kept."""
        with self._lock:
            kept = self._lists.get(party_id)
        if kept is not None and kept[0] >= session.get(CHANGED, 0.0):
            return kept[1]
        started = time.time()
        answer = read()
        with self._lock:
            self._lists[party_id] = (started, answer)
        return answer


def mark_changed() -> None:
    """The signed-in person has just changed their suggestions: their next view reads them again."""
    session[CHANGED] = time.time()
