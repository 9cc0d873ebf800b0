"""The outbox relay: publishes the events that aggregates hold in their outboxes.

A service publishes right after each write (``flush``), so events leave within milliseconds; a
timer ``sweep`` picks up whatever a crash, a broker outage or a failed publish left behind. Both
may publish the same event twice in a race; every consumer's inbox ignores the second copy.
"""

import logging
from datetime import timedelta
from typing import Any

from shared import clock
from shared.aggregates import OUTBOX, AggregateCollection
from shared.messaging import EventPublisher
from shared.mongo import MongoDependency
from shared.settings import Settings

log = logging.getLogger(__name__)

# the sweep leaves fresh events to the flush of the request that wrote them
SWEEP_GRACE = timedelta(seconds=2)


class OutboxRelay:
    def __init__(self, publisher: EventPublisher, aggregates: dict[str, AggregateCollection]) -> None:
        self.publisher = publisher
        self.aggregates = aggregates

    def flush(self, collection: str, aggregate_id: Any) -> None:
        """Publish the pending events of one aggregate, as stored now, then empty its outbox in
        one write (event by event if the aggregate changed meanwhile); what fails is left for
        the sweep. Reading the outbox again, rather than trusting the events a request wrote,
        respects a change made since: an erasure empties the outbox of the events naming the
        person."""
        aggregates = self.aggregates[collection]
        document = aggregates.pending_of(aggregate_id)
        events = document.get(OUTBOX, []) if document else []
        for position, event in enumerate(events):
            if not self._send(event):
                for sent in events[:position]:
                    aggregates.mark_published(aggregate_id, sent["event_id"])
                return
        if events and not aggregates.mark_all_published(document):
            for event in events:
                aggregates.mark_published(aggregate_id, event["event_id"])

    def sweep(self) -> int:
        """Publish every pending event old enough not to be in a request's hands."""
        cutoff = clock.to_iso(clock.parse_iso(clock.now_iso()) - SWEEP_GRACE)
        published = 0
        for aggregates in self.aggregates.values():
            for aggregate_id, event in list(aggregates.pending_events()):
                if event["occurred_at"] > cutoff:
                    continue
                if not self._publish(aggregates, aggregate_id, event):
                    return published
                published += 1
        return published

    def pending(self) -> int:
        return sum(aggregates.count_pending() for aggregates in self.aggregates.values())

    def _publish(self, aggregates: AggregateCollection, aggregate_id: Any, event: dict) -> bool:
        if not self._send(event):
            return False
        aggregates.mark_published(aggregate_id, event["event_id"])
        return True

    def _send(self, event: dict) -> bool:
        try:
            self.publisher.publish(event)
        except Exception:
            log.warning(
                "publish failed; the event stays in the outbox",
                extra={"event_id": event["event_id"], "event_type": event["type"]},
                exc_info=True,
            )
            return False
        return True


class Outbox(MongoDependency):
    """Gives workers the relay for the outboxes of the named collections."""

    def __init__(self, database: str, collections: tuple[str, ...]) -> None:
        super().__init__(database)
        self.collections = collections

    def setup(self) -> None:
        super().setup()
        aggregates = {name: AggregateCollection(self.database[name]) for name in self.collections}
        self.relay = OutboxRelay(EventPublisher(Settings.from_env().amqp_uri), aggregates)
        # in setup, not start: entrypoints start at the same time as the other extensions
        for collection in aggregates.values():
            collection.ensure_indexes()

    def get_dependency(self, worker_ctx: object) -> OutboxRelay:
        return self.relay
