"""Idempotent, bounded event handling: each event is handled once, retried a few times if its
handler fails, and then parked as a dead letter for an organiser to inspect and replay.

nameko on its own either drops a message whose handler raised, or requeues it for ever. The
inbox keeps, per service, a record per event id:

- a second delivery of an event already handled is acknowledged and ignored;
- each delivery counts an attempt *before* the handler runs, so even a message that crashes the
  process every time is counted, and parked once it has used its attempts;
- a handler that raises is retried (the message is requeued after a short, growing pause) until
  its attempts are used, then the message is parked;
- a message that breaks its contract (bad JSON shape, unknown type or version) is parked at
  once: retrying cannot mend it.

Handlers must be idempotent in their own writes (deterministic ids, revision guards), because an
event whose handler finished but whose record was not yet marked done is handled again.
"""

import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import eventlet
from pymongo import DESCENDING, ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from shared import clock, metrics
from shared.batching import GroupedReads, GroupedWrites
from shared.contracts.events import Event, InvalidEvent, is_subject_id, parse_event, subjects_of
from shared.logs import error_summary, scrubbed

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
BACKOFF_SECONDS = (0.2, 0.5, 1.0, 2.0)

Handler = Callable[[Event], None]


class Inbox:
    """The inbox and dead-letter records of one service, over its own database."""

    def __init__(self, database: Database) -> None:
        self.records = database["inbox"]
        # every event reads and writes its record: sent in batches when events come in bursts
        self._record_reads = GroupedReads(self.records, {"status": 1, "attempts": 1})
        self._record_writes = GroupedWrites(self.records)
        self.dead_letters = database["dead_letters"]

    def prepare(self) -> None:
        self.records.create_index("status")
        self.dead_letters.create_index([("parked_at", DESCENDING)])

    def process(self, body: Any, handlers: Mapping[str, Handler], subjects: Sequence[str] = ()) -> None:
        """Handle one message body; raise only to have the message requeued for a retry.
        ``subjects``: the registrations its publisher said it is about (messaging.SUBJECTS_HEADER),
        kept with it if it is parked, so that erasing them erases it even if its body cannot be
        read."""
        try:
            event = parse_event(body)
        except InvalidEvent as error:
            self.park(_message_key(body), body, reason=str(error), attempts=1, subjects=subjects)
            return
        handler = handlers.get(event.type)
        if handler is None:
            self.park(
                event.event_id, body, reason=f"no handler for {event.type}", attempts=1, subjects=subjects
            )
            return

        attempt = self._begin(event)
        if attempt is None:
            log.info("duplicate event ignored", extra={"event_id": event.event_id})
            return
        if attempt > MAX_ATTEMPTS:
            self.park(
                event.event_id, body, reason="attempts used up", attempts=attempt - 1, subjects=subjects
            )
            return
        try:
            handler(event)
        except Exception as error:
            log.warning(
                "handler failed",
                extra={"event_id": event.event_id, "event_type": event.type, "attempt": attempt},
                exc_info=True,
            )
            if attempt >= MAX_ATTEMPTS:
                self.park(event.event_id, body, reason=_describe(error), attempts=attempt, subjects=subjects)
                return
            # the record outlives an erasure of the person: what went wrong, without the message
            self.records.update_one({"_id": event.event_id}, {"$set": {"last_error": error_summary(error)}})
            eventlet.sleep(BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS)) - 1])
            raise
        self._record_writes.update_one(
            {"_id": event.event_id}, {"$set": {"status": "done", "done_at": clock.now_iso()}}
        )
        metrics.io_counts["events_handled"] += 1

    def _begin(self, event: Event) -> int | None:
        """Count an attempt; None if the event was already handled or parked."""
        try:
            self._record_writes.update_one(
                {"_id": event.event_id, "status": "pending"},
                {
                    "$inc": {"attempts": 1},
                    "$setOnInsert": {"type": event.type, "first_seen_at": clock.now_iso()},
                },
                upsert=True,
            )
        except DuplicateKeyError:
            return None  # a record exists and is not pending: done or parked
        record = self._record_reads.find_one(event.event_id)
        if record is None or record["status"] != "pending":
            return None  # another copy of the event was handled meanwhile
        return record["attempts"]

    def park(self, key: str, body: Any, *, reason: str, attempts: int, subjects: Sequence[str] = ()) -> None:
        # the reason is read from the dead letter, which an erasure of the person removes
        log.error("event parked as a dead letter", extra={"event_id": key, "attempts": attempts})
        self.dead_letters.update_one(
            {"_id": key},
            {
                "$set": {
                    # kept as ASCII JSON text: a hostile body may hold keys MongoDB cannot store
                    # ($..., a.b) or text it cannot encode (lone surrogates)
                    "body": _as_text(body),
                    # whom erasure finds it by: whom the body names, and whom its publisher said
                    "about": sorted({*subjects_of(body), *filter(is_subject_id, subjects)}),
                    "reason": _ascii(reason)[:2000],
                    "attempts": attempts,
                    "parked_at": clock.now_iso(),
                    "status": "parked",
                },
                "$setOnInsert": {"replays": 0},
            },
            upsert=True,
        )
        self.records.update_one(
            {"_id": key}, {"$set": {"status": "parked", "parked_at": clock.now_iso()}}, upsert=True
        )

    def forget_about(self, subject_id: str) -> None:
        """Erase the parked messages that concern a person whose data is being erased."""
        self.dead_letters.delete_many({"about": subject_id})

    def count_parked(self) -> int:
        return self.dead_letters.count_documents({"status": "parked"})

    def parked(self, limit: int = 50) -> list[dict]:
        cursor = self.dead_letters.find({}, {"body": 0}).sort([("parked_at", DESCENDING)]).limit(limit)
        return [_letter_view(letter) for letter in cursor]

    def dead_letter(self, key: str) -> dict | None:
        letter = self.dead_letters.find_one({"_id": key})
        return _letter_view(letter, with_body=True) if letter else None

    def replay(self, key: str, publish_to_own_queue: Callable[[Any, list[str]], None]) -> dict | None:
        """Put a parked message back on the service's queue, with its attempts reset.

        Only a parked message is replayed: asking again before it is parked again is refused
        (None), and the inbox would ignore a second copy of an event handled meanwhile. A replay
        cut short by a crash stays ``replaying`` and may be replayed again.
        """
        letter = self.dead_letters.find_one_and_update(
            {"_id": key, "status": {"$in": ["parked", "replaying"]}},
            {"$set": {"status": "replaying"}},
            return_document=ReturnDocument.AFTER,
        )
        if letter is None:
            return None
        self.records.update_one({"_id": key}, {"$set": {"status": "pending", "attempts": 0}})
        publish_to_own_queue(_from_text(letter["body"]), letter.get("about", []))
        # only if the replayed message was not parked again meanwhile (it may fail at once)
        self.dead_letters.update_one(
            {"_id": key, "status": "replaying"},
            {"$set": {"status": "replayed", "replayed_at": clock.now_iso()}},
        )
        self.dead_letters.update_one({"_id": key}, {"$inc": {"replays": 1}})
        return _letter_view(self.dead_letters.find_one({"_id": key}))


def _message_key(body: Any) -> str:
    event_id = body.get("event_id") if isinstance(body, dict) else None
    if isinstance(event_id, str) and event_id.isascii() and 0 < len(event_id) <= 100:
        return event_id
    raw = json.dumps(body, sort_keys=True, default=repr).encode()
    return "invalid-" + hashlib.sha256(raw).hexdigest()[:32]


def _as_text(body: Any) -> str:
    try:
        text = json.dumps(body)
    except (TypeError, ValueError):
        text = json.dumps({"unreadable": repr(body)[:65536]})
    return text if len(text) <= 1_000_000 else json.dumps({"truncated": text[:65536]})


def _from_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return {"unreadable": text[:65536]}


def _ascii(text: str) -> str:
    return text.encode("ascii", "backslashreplace").decode("ascii")


def _letter_view(letter: dict, with_body: bool = False) -> dict:
    view = {
        "id": letter["_id"],
        **{
            key: letter.get(key)
            for key in ("reason", "attempts", "status", "parked_at", "replays", "replayed_at")
        },
    }
    if with_body:
        view["body"] = _from_text(letter["body"])
    return view


def _describe(error: BaseException) -> str:
    """Why a handler failed, kept with the dead letter (and erased with it)."""
    return _ascii(scrubbed(f"{type(error).__name__}: {error}"))[:2000]
