"""Retention after an event: the personal data of an event's registrations is destroyed
RETENTION_DAYS_AFTER_EXPO days after it ended, or sooner when an organiser asks, leaving the
event's anonymous counts. Each registration is erased as any erasure is, so every service hears
of it and forgets the person too."""

from collections.abc import Callable

from registration import domain
from registration.store import RegistrationStore

# registrations erased per event per sweep: a large event is worked through over several sweeps
ERASE_BATCH = 500


class EventRetention:
    def __init__(
        self,
        store: RegistrationStore,
        flush: Callable[[str, str], None],
        retention_days: float,
        batch: int = ERASE_BATCH,
    ) -> None:
        self.store = store
        self.flush = flush  # publishes what an aggregate's outbox holds: (collection, id)
        self.retention_days = retention_days
        self.batch = batch

    def sweep(self, now: str) -> int:
        """Erase up to ``batch`` registrations of each event whose personal data is due to go
        (``domain.purge_due``); an event is marked purged once none is left. Returns how many
        were erased. Its counts are taken once, before the first erasure."""
        erased = 0
        for event in self.store.all_events():
            if not domain.purge_due(event, now, self.retention_days):
                continue
            event_id = event["_id"]
            census = self.store.census_of_event(event_id) if "counts_at_purge" not in event else []
            self.store.modify_event(
                event_id, lambda current, census=census: domain.purge_started(current, census, now)
            )
            left = self.store.unerased_of_event(event_id, self.batch)
            for registration_id in left:
                _, events = self.store.modify(
                    registration_id, lambda document: domain.erase_unless_erased(document, now)
                )
                if events:
                    self.flush("registrations", registration_id)
                    erased += 1
            if len(left) < self.batch:
                self.store.modify_event(event_id, lambda current: domain.purge_done(current, now))
        return erased
