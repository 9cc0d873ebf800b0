"""The notification service's own database: contacts (built from registration events) and
notifications with their delivery status."""

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from shared import clock
from shared.batching import GroupedReads, GroupedWrites
from shared.mongo import delete_by_index

# a notification being sent is leased; a crash mid-send makes it due again when the lease ends.
# A send takes well under this, but each SMTP step may wait up to 10 s: a relay slow at every
# step could outlast the lease and see the message twice. A longer lease delays recovery after
# a crash by as much.
SEND_LEASE_SECONDS = 30
UNSENT = ("queued", "sending")


class NotificationStore:
    def __init__(self, database: Database) -> None:
        self.contacts = database["contacts"]
        self.notifications = database["notifications"]
        # read and written by every event: sent in batches when events come in bursts
        self._contact_reads = GroupedReads(self.contacts)
        self._contact_writes = GroupedWrites(self.contacts)
        self._notification_writes = GroupedWrites(self.notifications)

    def prepare(self) -> None:
        # single-field indexes: the embedded store uses an index for one field of a query and
        # ignores compound ones; a recipient's notifications are few enough to sort as read
        self.notifications.create_index([("recipient_id", ASCENDING)])
        self.notifications.create_index([("status", ASCENDING)])

    # contacts

    def put_contact(self, registration_id: str, revision: int, fields: dict) -> bool:
        """Store the contact at ``revision`` unless a newer one is stored; True if stored."""
        try:
            self._contact_writes.update_one(
                {"_id": registration_id, "revision": {"$lt": revision}},
                {"$set": {**fields, "revision": revision}},
                upsert=True,
            )
        except DuplicateKeyError:
            return False  # the stored contact is as new or newer
        return True

    def contact(self, registration_id: str) -> dict | None:
        return self.recipient(registration_id)[1]

    def recipient(self, registration_id: str) -> tuple[bool, dict | None]:
        """Whether the person was erased, and their contact if one is stored and not erased:
        both from one read."""
        document = self._contact_reads.find_one(registration_id)
        if document is None:
            return False, None
        if document.get("status") == "erased":
            return True, None
        return False, {**document, "registration_id": document["_id"]}

    def erase_recipient(self, registration_id: str, revision: int) -> None:
        """Destroy the contact and every notification that named the person."""
        self.contacts.replace_one(
            {"_id": registration_id}, {"status": "erased", "revision": revision}, upsert=True
        )
        delete_by_index(self.notifications, {"recipient_id": registration_id})

    # notifications

    def add_leased(self, document: dict) -> dict | None:
        """Record a notification already leased for sending, and return it; None if it is
        already recorded (the same event again)."""
        leased = {**document, "status": "sending", "due_at": clock.iso_after(SEND_LEASE_SECONDS)}
        try:
            self._notification_writes.insert_one(leased)
        except DuplicateKeyError:
            return None
        return leased

    def remove(self, notification_id: str) -> None:
        self.notifications.delete_one({"_id": notification_id})

    def due(self, limit: int) -> list[dict]:
        """The unsent notifications whose time has come, oldest first: id, status, due time.

        Found by status alone and their times compared here: on the embedded store a range or
        ``$in`` condition reads the whole collection, while an equality uses the index."""
        now = clock.now_iso()
        unsent = [
            document
            for status in UNSENT
            for document in self.notifications.find({"status": status}, {"status": 1, "due_at": 1})
        ]
        return sorted((d for d in unsent if _due(d, now)), key=lambda d: d["due_at"])[:limit]

    def due_one(self, notification_id: str) -> dict | None:
        found = self.notifications.find_one({"_id": notification_id}, {"status": 1, "due_at": 1})
        if found is None or found["status"] not in UNSENT or not _due(found, clock.now_iso()):
            return None
        return found

    def claim(self, due: dict) -> dict | None:
        """Lease a notification found due for sending, unless it changed since it was found."""
        return self.notifications.find_one_and_update(
            {key: due[key] for key in ("_id", "status", "due_at")},
            {"$set": {"status": "sending", "due_at": clock.iso_after(SEND_LEASE_SECONDS)}},
            return_document=ReturnDocument.AFTER,
        )

    def mark_sent(self, notification_id: str, subject: str, body: str, attempts: int) -> None:
        now = clock.now_iso()
        self._notification_writes.update_one(
            {"_id": notification_id},
            {
                "$set": {
                    "status": "sent",
                    "subject": subject,
                    "body": body,
                    "attempts": attempts,
                    "sent_at": now,
                    "updated_at": now,
                    "last_error": None,
                }
            },
        )

    def mark_retry(self, notification_id: str, attempts: int, delay: float, error: str) -> None:
        self.notifications.update_one(
            {"_id": notification_id},
            {
                "$set": {
                    "status": "queued",
                    "attempts": attempts,
                    "due_at": clock.iso_after(delay),
                    "updated_at": clock.now_iso(),
                    "last_error": error,
                }
            },
        )

    def mark_failed(self, notification_id: str, attempts: int, error: str) -> None:
        self.notifications.update_one(
            {"_id": notification_id},
            {
                "$set": {
                    "status": "failed",
                    "attempts": attempts,
                    "updated_at": clock.now_iso(),
                    "last_error": error,
                }
            },
        )

    def of_recipient(self, recipient_id: str, limit: int) -> list[dict]:
        cursor = self.notifications.find({"recipient_id": recipient_id})
        return list(cursor.sort([("created_at", DESCENDING)]).limit(limit))

    def count_by_status(self) -> dict[str, int]:
        pipeline = [{"$group": {"_id": "$status", "count": {"$sum": 1}}}]
        counts = {"queued": 0, "sending": 0, "sent": 0, "failed": 0}
        counts.update({row["_id"]: row["count"] for row in self.notifications.aggregate(pipeline)})
        return counts


def _due(notification: dict, now: str) -> bool:
    return "due_at" in notification and notification["due_at"] <= now
