"""Registration rules, free of I/O: what a registration document holds, how it changes, which
events each change raises, and what each reader may see of it."""

import hashlib
import math
import secrets
import uuid
from datetime import timedelta

from shared import clock
from shared.contracts.events import new_event
from shared.errors import Conflict, Invalid, TooManyRequests

CONTACT_FIELDS = ("name", "email", "language")
MATCHABLE_KINDS = ("company", "investor")
INTERNAL_FIELDS = ("_id", "_v", "outbox", "outbox_pending", "token_hash", "active_key", "profile_changes")
# a company's tags or an investor's interests may change this many times in any hour: each change
# makes matching announce new pairs, so churning tags must not be a way to e-mail everyone
PROFILE_CHANGE_WINDOW = timedelta(hours=1)
PUBLIC_PROFILE_FIELDS = {
    "company": ("name", "description", "tags", "stage", "website"),
    "investor": ("organisation", "investor_type", "interests", "stages"),
    "attendee": (),
}


def new_manage_token() -> str:
    return "tcx_" + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def active_key(expo_id: str, kind: str, email: str) -> str:
    """One active registration per e-mail, per kind, per expo (a unique index holds this)."""
    return f"{expo_id}/{kind}/{email.casefold()}"


def register(kind: str, data: dict, expo_id: str, token_hash: str, now: str) -> tuple[dict, list[dict]]:
    """A new registration document and the events it raises."""
    fields = {key: value for key, value in data.items() if key not in ("consents", "expo_id")}
    document = {
        "_id": str(uuid.uuid4()),
        "kind": kind,
        "expo_id": expo_id,
        "status": "active",
        "revision": 1,
        "created_at": now,
        "updated_at": now,
        "token_hash": token_hash,
        "active_key": active_key(expo_id, kind, data["email"]),
        "consents": _consents({}, data["consents"], now),
        **fields,
    }
    if not document["consents"]["sensitive_at"]:
        document.pop("accessibility_needs", None)
    events = [_contact_event("registration.created", document)]
    if kind in MATCHABLE_KINDS:
        events.append(_profile_event(document))
    return document, events


def change(
    document: dict, changes: dict, now: str, profile_changes_per_hour: int = 6
) -> tuple[dict, list[dict]]:
    """The document with ``changes`` applied, and the events they raise (none if nothing changed).
    Raises TooManyRequests for a change of tags or stages beyond ``profile_changes_per_hour``."""
    _require_active(document)
    updated = {**document, **{key: value for key, value in changes.items() if key != "consents"}}
    if "consents" in changes:
        updated["consents"] = _consents(document["consents"], changes["consents"], now)
    if updated.get("accessibility_needs") is not None and not updated["consents"]["sensitive_at"]:
        if "accessibility_needs" in changes:
            raise Invalid(
                "Accessibility needs are kept only with consent to sensitive information.",
                {"accessibility_needs": ['Give "consents": {"sensitive": true} to keep them.']},
            )
        # consent withdrawn: the sensitive data goes with it (PIPA Art. 21)
        updated.pop("accessibility_needs")
    if updated.get("accessibility_needs") is None:
        updated.pop("accessibility_needs", None)
    if updated == document:
        return document, []
    updated["active_key"] = active_key(updated["expo_id"], updated["kind"], updated["email"])
    updated["revision"] = document["revision"] + 1
    updated["updated_at"] = now
    events = [_contact_event("registration.updated", updated)]
    if updated["kind"] in MATCHABLE_KINDS and _matchable(updated) != _matchable(document):
        updated["profile_changes"] = _recent_profile_changes(document, now, profile_changes_per_hour) + [now]
        events.append(_profile_event(updated))
    return updated, events


def _recent_profile_changes(document: dict, now: str, per_hour: int) -> list[str]:
    """The times of the profile changes within the last hour; raises if there are already
    ``per_hour`` of them, saying when the oldest leaves the hour."""
    moment = clock.parse_iso(now)
    since = clock.to_iso(moment - PROFILE_CHANGE_WINDOW)
    recent = sorted(at for at in document.get("profile_changes", []) if at > since)
    if len(recent) >= per_hour:
        free_at = clock.parse_iso(recent[len(recent) - per_hour]) + PROFILE_CHANGE_WINDOW
        wait = max(1, math.ceil((free_at - moment).total_seconds()))
        raise TooManyRequests(
            f"Tags and stages may change at most {per_hour} times an hour; try again in {wait} s.", wait
        )
    return recent


def cancel(document: dict, now: str) -> tuple[dict, list[dict]]:
    """Cancel; accessibility needs are destroyed as no longer needed. Cancelling twice is a no-op."""
    if document["status"] == "cancelled":
        return document, []
    _require_active(document)
    cancelled = {**document, "status": "cancelled", "revision": document["revision"] + 1}
    cancelled.update(updated_at=now, cancelled_at=now)
    cancelled.pop("active_key", None)
    cancelled.pop("accessibility_needs", None)
    events = [_contact_event("registration.cancelled", cancelled)]
    if cancelled["kind"] in MATCHABLE_KINDS:
        events.append(_profile_event(cancelled))
    return cancelled, events


def erase(document: dict, now: str) -> tuple[dict, list[dict]]:
    """Destroy every personal field; a tombstone keeps only the id, kind and expo."""
    # events not yet published go too: consumers that never saw them need only the erasure
    tombstone = {key: document[key] for key in ("_id", "_v", "kind", "expo_id", "created_at")}
    tombstone["outbox"] = []
    tombstone.update(status="erased", revision=document["revision"] + 1, erased_at=now)
    return tombstone, [_erased_event(tombstone)]


def owner_view(document: dict) -> dict:
    """What the registrant (or an organiser) sees."""
    view = {key: value for key, value in document.items() if key not in INTERNAL_FIELDS}
    view["id"] = document["_id"]
    view["consents"] = {
        "privacy": bool(document["consents"]["privacy_at"]),
        "sensitive": bool(document["consents"]["sensitive_at"]),
    }
    return view


def public_profile(document: dict) -> dict:
    """What a matched counterpart may see: no contact details, no personal names of investors."""
    fields = PUBLIC_PROFILE_FIELDS[document["kind"]]
    profile = {key: document[key] for key in fields if key in document}
    return {"id": document["_id"], "kind": document["kind"], **profile}


def _consents(current: dict, given: dict, now: str) -> dict:
    """Consent flags become the moment they were given, which is what must be shown later."""
    consents = {"privacy_at": current.get("privacy_at"), "sensitive_at": current.get("sensitive_at")}
    for name in ("privacy", "sensitive"):
        if name in given:
            consents[f"{name}_at"] = (consents[f"{name}_at"] or now) if given[name] else None
    return consents


def _require_active(document: dict) -> None:
    if document["status"] != "active":
        raise Conflict(f"This registration is {document['status']} and cannot be changed.")


def _matchable(document: dict) -> tuple:
    if document["kind"] == "company":
        return tuple(document["tags"]), (document["stage"],)
    return tuple(document["interests"]), tuple(document["stages"])


def _contact_event(event_type: str, document: dict) -> dict:
    return new_event(
        event_type,
        {
            "registration_id": document["_id"],
            "kind": document["kind"],
            "expo_id": document["expo_id"],
            "revision": document["revision"],
            "contact": {key: document[key] for key in CONTACT_FIELDS},
        },
    )


def _erased_event(document: dict) -> dict:
    return new_event(
        "registration.erased",
        {
            "registration_id": document["_id"],
            "kind": document["kind"],
            "revision": document["revision"],
        },
    )


def _profile_event(document: dict) -> dict:
    tags, stages = _matchable(document)
    return new_event(
        "registration.profile_changed",
        {
            "registration_id": document["_id"],
            "kind": document["kind"],
            "revision": document["revision"],
            "active": document["status"] == "active",
            "tags": list(tags),
            "stages": list(stages),
        },
    )
