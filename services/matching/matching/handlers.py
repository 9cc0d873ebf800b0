"""What the matching service does for each event and request, in terms of its store and
domain. Called by the thin entrypoints in ``service.py``."""

from matching import domain
from matching.store import COUNTERPART_FIELD, COUNTERPART_KIND, MatchingStore
from shared import clock
from shared.contracts.events import Event, derived_id, new_event
from shared.errors import Conflict, NotFound
from shared.outbox import OutboxRelay


class Matching:
    def __init__(self, store: MatchingStore, relay: OutboxRelay) -> None:
        self.store = store
        self.relay = relay

    def profile_changed(self, event: Event) -> None:
        """Bring the party and its suggestions up to the event's revision.

        The party is stored, and entered under its tags, before its counterparts are read: of
        two parties changing at the same moment, at least one then sees the other, so no pair
        is missed. Each side of a new pair is told once: the counterpart by an event inserted
        with the pair, this party by one event listing all its unannounced pairs. A retried
        event redoes the work idempotently; an older revision than the stored one is ignored.
        """
        change = event.payload
        party_id, kind = change["registration_id"], change["kind"]
        current = self.store.party(party_id)
        if current is not None and (
            current["status"] == "erased" or current["revision"] > change["revision"]
        ):
            return
        first_seen = current is None
        if current is None or current["revision"] < change["revision"]:
            current = self.store.put_party(
                current,
                {
                    "id": party_id,
                    "kind": kind,
                    "revision": change["revision"],
                    "status": "active" if change["active"] else "inactive",
                    "tags": change["tags"],
                    "stages": change["stages"],
                },
            )
        # also when the party was stored by an earlier attempt that stopped before this
        self.store.index_tags(current, new=first_seen)
        if not change["active"]:
            self.store.remove_suggestions_of(kind, party_id)
            return

        party = domain.Profile(party_id, kind, tuple(current["tags"]), tuple(current["stages"]))
        counterparts = self.store.counterparts_sharing(kind, party.tags)
        if first_seen and not counterparts:
            # nothing to suggest, and a party new to matching has no suggestions to withdraw
            return
        matches = domain.matches_for(party, counterparts, self.store.tag_weights())
        if self._superseded(party_id, change["revision"]):
            return  # a newer change of this party arrived while scoring: its handler decides
        counterpart_kind = COUNTERPART_KIND[kind]
        inserted = self.store.replace_suggestions(
            kind,
            party_id,
            matches,
            lambda match: _suggested(
                event, match.counterpart_of(party_id), counterpart_kind, [(party_id, match.score)]
            ),
        )
        unannounced = self.store.unannounced(kind, party_id)
        if unannounced:
            counterpart_field = COUNTERPART_FIELD[kind]
            pairs = [(doc[counterpart_field], doc["score"]) for doc in unannounced]
            self.store.stage_party_event(current, _suggested(event, party_id, kind, pairs))
            self.store.mark_announced(kind, [doc["_id"] for doc in unannounced])
        self.relay.flush("parties", party_id)
        for pair in inserted:
            self.relay.flush("suggestions", pair)

    def _superseded(self, party_id: str, revision: int) -> bool:
        stored = self.store.party(party_id)
        return stored is None or stored["revision"] != revision or stored["status"] != "active"

    def erased(self, event: Event) -> None:
        change = event.payload
        if change["kind"] not in COUNTERPART_FIELD:
            return
        party_id = change["registration_id"]
        current = self.store.party(party_id)
        tombstone = {
            "id": party_id,
            "kind": change["kind"],
            "revision": change["revision"],
            "status": "erased",
            "tags": [],
            "stages": [],
        }
        if current is None or current["status"] != "erased":
            self.store.put_party(current, tombstone)
        self.store.forget_party(change["kind"], party_id)

    def suggestions(self, kind: str, party_id: str, limit: int) -> list[dict]:
        interests = self.store.interests_of(kind, party_id)
        counterpart_field = COUNTERPART_FIELD[kind]
        items = []
        for doc in self.store.suggestions_of(kind, party_id, limit):
            interest = interests.get(doc["_id"])
            items.append(
                {
                    counterpart_field: doc[counterpart_field],
                    "score": doc["score"],
                    "reasons": doc["reasons"],
                    "suggested_at": doc["created_at"],
                    "interest": interest["status"] if interest else None,
                }
            )
        return items

    def express_interest(self, investor_id: str, company_id: str) -> tuple[dict, bool]:
        """Record an investor's interest in a company; returns it and whether it is new."""
        if not self.store.is_active(investor_id, "investor"):
            raise NotFound("No active investor with that id (a new registration may take a moment).")
        if not self.store.is_active(company_id, "company"):
            raise NotFound("No active company with that id (a new registration may take a moment).")
        interest_id = domain.pair_id(investor_id, company_id)
        existing = self.store.interest(interest_id)
        if existing is not None:
            return _interest_view(existing), False
        document = {
            "_id": interest_id,
            "investor_id": investor_id,
            "company_id": company_id,
            "status": "pending",
            "created_at": clock.now_iso(),
        }
        event = new_event(
            "matching.interest_expressed",
            {"interest_id": interest_id, "investor_id": investor_id, "company_id": company_id},
        )
        stored = self.store.add_interest(document, [event])
        self.relay.flush("interests", interest_id)
        return _interest_view(stored), True

    def answer_interest(self, company_id: str, investor_id: str, accept: bool) -> dict:
        interest_id = domain.pair_id(investor_id, company_id)
        current = self.store.interest(interest_id)
        if current is None:
            raise NotFound("That investor has not expressed interest in this company.")
        status = "accepted" if accept else "declined"
        if current["status"] == status:
            return _interest_view(current)
        if current["status"] != "pending":
            raise Conflict(f"This interest was already {current['status']}.")
        event = new_event(
            "matching.interest_answered",
            {
                "interest_id": interest_id,
                "investor_id": investor_id,
                "company_id": company_id,
                "accepted": accept,
            },
        )
        answered = {**current, "status": status, "answered_at": clock.now_iso()}
        stored = self.store.save_interest(answered, [event])
        self.relay.flush("interests", interest_id)
        return _interest_view(stored)


def _suggested(
    cause: Event, recipient_id: str, recipient_kind: str, counterparts: list[tuple[str, float]]
) -> dict:
    """The event telling ``recipient_id`` of new (counterpart id, score) suggestions."""
    return new_event(
        "matching.suggested",
        {
            "recipient_id": recipient_id,
            "recipient_kind": recipient_kind,
            "counterpart_ids": [counterpart for counterpart, _ in counterparts],
            "best_score": max(score for _, score in counterparts),
        },
        event_id=derived_id(cause.event_id, "suggested", recipient_id),
    )


def _interest_view(document: dict) -> dict:
    view = {key: document[key] for key in ("investor_id", "company_id", "status", "created_at")}
    return {"interest_id": document["_id"], **view, "answered_at": document.get("answered_at")}
