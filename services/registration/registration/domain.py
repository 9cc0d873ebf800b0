"""Registration rules, free of I/O: what a registration document holds, how it changes, which
events each change raises, and what each reader may see of it; and the events of the programme
(town halls and the expo) people register for: what they hold, how they change, and whether one
takes registrations."""

import hashlib
import hmac
import math
import random
import re
import secrets
import uuid
from collections import Counter
from datetime import datetime, time, timedelta

from shared import badges, clock
from shared.contracts.events import derived_id, new_event
from shared.contracts.registration import (
    KINDS,
    MORE_NAMES_THAN_COMPANIONS,
    REGISTRATION_ROW_FIELDS,
    SENSITIVE_ATTENDEE_TYPES,
    SENSITIVE_TYPE_WITHOUT_CONSENT,
    AccessibilityNeedsSchema,
    reference_of,
)
from shared.errors import Conflict, Invalid, NotFound, TooManyRequests

CONTACT_FIELDS = ("name", "email", "language")
CARD_FIELDS = ("organisation", "contact_person", "website")
MATCHABLE_KINDS = ("company", "investor")
# which refresh of notification's contacts a registration had (refresh_contact): raised by a
# version that makes notification keep more of a contact, so that every registration stored
# before it is refreshed once more; those made since carry all of it in registration.created
CONTACT_REFRESH = 1
CONTACT_REFRESHED = "contact_refreshed"
INTERNAL_FIELDS = (
    "_id",
    "_v",
    "outbox",
    "outbox_pending",
    "token_hash",
    "active_key",
    "email_key",
    "profile_changes",
    "promoting_until",
    # which organiser checked the person in is the organisers' record, not the person's
    "checked_in_by",
    CONTACT_REFRESHED,
)
# what a registration with no accessibility needs would hold: a change of some needs starts here
NO_NEEDS = AccessibilityNeedsSchema().load({})
# unexpired sign-in links an address may have: each is an e-mail sent to it
SIGN_IN_LINKS_PER_ADDRESS = 3
LISTED_STATUSES = ("active", "cancelled")
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


def active_key(event_id: str, kind: str, email: str) -> str:
    """One active registration per e-mail, per kind, per event (a unique index holds this)."""
    return f"{event_id}/{kind}/{email.casefold()}"


def email_key(email: str) -> str:
    """An address as it is compared when someone signs in with it: lower-cased, local part too
    (nobody is told apart from someone else by the case of their address)."""
    return email.lower()


def register(
    kind: str, data: dict, event_id: str, token_hash: str, now: str, idempotency_key: str | None = None
) -> tuple[dict, list[dict]]:
    """A new registration for the event ``event_id``, and the events it raises. With an idempotency
    key, its id is derived from the key, so the same request sent twice can only make one
    registration."""
    fields = {
        key: value
        for key, value in data.items()
        if key not in ("consents", "event_id", "expo_id") and value is not None
    }
    registration_id = derived_id("registration", idempotency_key) if idempotency_key else str(uuid.uuid4())
    document = {
        "_id": registration_id,
        "reference": reference_of(registration_id),
        "kind": kind,
        "event_id": event_id,
        "status": "active",
        "revision": 1,
        "created_at": now,
        "updated_at": now,
        "token_hash": token_hash,
        "active_key": active_key(event_id, kind, data["email"]),
        "email_key": email_key(data["email"]),
        "consents": _consents({}, data["consents"], now),
        "checkin_code": badges.new_code(),
        # its registration.created tells notification all it keeps of the contact
        CONTACT_REFRESHED: CONTACT_REFRESH,
        **fields,
    }
    if not document["consents"]["sensitive_at"] or not has_needs(document.get("accessibility_needs")):
        document.pop("accessibility_needs", None)
    return document, registration_events(document)


def registration_events(document: dict, waiting_position: int | None = None) -> list[dict]:
    """The events a new registration raises (again once it is admitted or waiting, see admit)."""
    events = [_contact_event("registration.created", document, waiting_position=waiting_position)]
    if document["kind"] in MATCHABLE_KINDS:
        events.append(_profile_event(document))
    return events


def change(
    document: dict, changes: dict, now: str, profile_changes_per_hour: int = 6
) -> tuple[dict, list[dict]]:
    """The document with ``changes`` applied, and the events they raise (none if nothing changed).
    ``changes`` is a partial load: accessibility needs and consents it does not name stay as they
    were, and a field given as null (accessibility needs, a carer's name) is removed.
    Raises TooManyRequests for a change of tags or stages beyond ``profile_changes_per_hour``."""
    _require_active(document)
    given = {key: value for key, value in changes.items() if key != "consents"}
    if given.get("accessibility_needs") is not None:
        stored_needs = document.get("accessibility_needs")
        given["accessibility_needs"] = merge_needs(stored_needs, given["accessibility_needs"])
    updated = {**document, **given}
    for key in [key for key, value in given.items() if value is None]:
        updated.pop(key, None)
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
    if has_sensitive_type(updated) and not updated["consents"]["sensitive_at"]:
        if "attendee_type" in changes:
            raise Invalid(SENSITIVE_TYPE_WITHOUT_CONSENT, {"attendee_type": [SENSITIVE_TYPE_WITHOUT_CONSENT]})
        updated.pop("attendee_type")
    if not has_needs(updated.get("accessibility_needs")):
        updated.pop("accessibility_needs", None)
    if len(updated.get("companion_names") or []) > (updated.get("companions") or 0):
        # fewer companions than names: the names to keep are the person's to say
        raise Invalid(MORE_NAMES_THAN_COMPANIONS, {"companion_names": [MORE_NAMES_THAN_COMPANIONS]})
    if updated == document:
        return document, []
    updated["active_key"] = active_key(updated["event_id"], updated["kind"], updated["email"])
    updated["email_key"] = email_key(updated["email"])
    if updated["email_key"] != document.get("email_key"):
        # a new address has not been proved by a sign-in link yet
        updated.pop("email_verified_at", None)
    updated["revision"] = document["revision"] + 1
    updated["updated_at"] = now
    events = [_contact_event("registration.updated", updated)]
    if updated["kind"] in MATCHABLE_KINDS and _matchable(updated) != _matchable(document):
        updated["profile_changes"] = _recent_profile_changes(document, now, profile_changes_per_hour) + [now]
        events.append(_profile_event(updated))
    return updated, events


def merge_needs(stored: dict | None, given: dict) -> dict:
    """The accessibility needs after a change naming only ``given``: every need it does not name
    stays as stored (a change of live captioning must not reset a wheelchair)."""
    return {**NO_NEEDS, **(stored or {}), **given}


def has_sensitive_type(document: dict) -> bool:
    """Whether the visitor type reveals a disability or a need for care (see the contract)."""
    return document.get("attendee_type") in SENSITIVE_ATTENDEE_TYPES


def has_needs(needs: dict | None) -> bool:
    """Whether there is any need at all; needs that are all "no" are not kept (nothing to seal)."""
    return bool(needs) and any(needs.values())


def upgrade(document: dict) -> dict:
    """A registration stored by an earlier version, in today's shape: the one place that knows
    the old shapes, applied to every registration the store reads (and, at start-up, written back).
    Works on partial documents (projections) too: it changes only what is there."""
    upgraded = dict(document)
    if "expo_id" in upgraded:
        # before there were events, every registration was for the one expo, named in expo_id
        upgraded.setdefault("event_id", upgraded.pop("expo_id"))
    needs = upgraded.get("accessibility_needs")
    if needs is not None and "companions" in needs:
        # companions were counted among the (sealed) accessibility needs until the web app; they
        # are an attendee field of their own now, and not sensitive
        upgraded.setdefault("companions", needs["companions"])
        needs = {key: value for key, value in needs.items() if key != "companions"}
        upgraded["accessibility_needs"] = needs
        if not has_needs(needs):
            upgraded.pop("accessibility_needs")
    if has_sensitive_type(upgraded) and "consents" in upgraded and "status" in upgraded:
        # kept in plain text by an earlier version, without the separate consent or after the
        # person cancelled: not kept any longer
        if not upgraded["consents"].get("sensitive_at") or upgraded["status"] != "active":
            upgraded.pop("attendee_type")
    if upgraded.get("kind") == "attendee" and upgraded.get("status") != "erased":
        upgraded.setdefault("companions", 0)
    if "_id" in upgraded and "status" in upgraded and upgraded["status"] != "erased":
        upgraded.setdefault("reference", reference_of(upgraded["_id"]))
    if "email" in upgraded:
        upgraded.setdefault("email_key", email_key(upgraded["email"]))
    return upgraded


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
    """Cancel; accessibility needs and a sensitive visitor type are destroyed as no longer needed.
    Cancelling twice is a no-op."""
    if document["status"] == "cancelled":
        return document, []
    _require_active(document)
    cancelled = {**document, "status": "cancelled", "revision": document["revision"] + 1}
    cancelled.update(updated_at=now, cancelled_at=now)
    cancelled.pop("active_key", None)
    # nobody comes in on the badge of a cancelled registration
    cancelled.pop("checkin_code", None)
    # neither admitted nor waiting any longer: its seats are released and its place in line goes
    for key in ("admission", "waiting_since", "offer_expires_at", "promoting_until"):
        cancelled.pop(key, None)
    # the sensitive data, and the companions' names, are no longer needed once the person does not come
    cancelled.pop("accessibility_needs", None)
    cancelled.pop("companion_names", None)
    if has_sensitive_type(cancelled):
        cancelled.pop("attendee_type")
    events = [_contact_event("registration.cancelled", cancelled)]
    if cancelled["kind"] in MATCHABLE_KINDS:
        events.append(_profile_event(cancelled))
    return cancelled, events


def erase(document: dict, now: str) -> tuple[dict, list[dict]]:
    """Destroy every personal field; a tombstone keeps only the id, kind and event."""
    # events not yet published go too: consumers that never saw them need only the erasure
    tombstone = {key: document[key] for key in ("_id", "_v", "kind", "event_id", "created_at")}
    tombstone["outbox"] = []
    # nothing of the person is left to refresh in notification
    tombstone[CONTACT_REFRESHED] = CONTACT_REFRESH
    tombstone.update(status="erased", revision=document["revision"] + 1, erased_at=now)
    return tombstone, [_erased_event(tombstone)]


def erase_if_cancelled_before(document: dict | None, before: str, now: str) -> tuple[dict | None, list[dict]]:
    """Erase a registration cancelled before ``before``: kept that long for the organisers'
    records, then nothing of the person is left (CANCELLED_RETENTION_DAYS). Anything else,
    including one registered again meanwhile, stays as it is."""
    if document is None or document["status"] != "cancelled" or document.get("cancelled_at", now) >= before:
        return document, []
    return erase(document, now)


def owner_view(document: dict) -> dict:
    """What the registrant (or an organiser) sees."""
    view = {key: value for key, value in document.items() if key not in INTERNAL_FIELDS}
    view["id"] = document["_id"]
    # a badge is shown only while it lets its holder in
    view.pop("checkin_code", None)
    if badge_code(document) is not None:
        view["checkin_code"] = badge_code(document)
    view["consents"] = {
        "privacy": bool(document["consents"]["privacy_at"]),
        "sensitive": bool(document["consents"]["sensitive_at"]),
    }
    return view


def contact_card(document: dict) -> dict | None:
    """How a company or an investor is reached (once a company accepted an investor's interest,
    the gateway shows each the other's card); None for an attendee."""
    if document["kind"] not in MATCHABLE_KINDS:
        return None
    if document["kind"] == "company":
        contact_person, website = document.get("contact_name", ""), document.get("website", "")
    else:
        contact_person, website = document["name"], ""
    return {
        "kind": document["kind"],
        "organisation": _organisation(document),
        "contact_person": contact_person,
        "email": document["email"],
        "website": website,
    }


def _organisation(document: dict) -> str | None:
    """A company's name is its organisation's; an investor names its organisation apart."""
    return {"company": document.get("name"), "investor": document.get("organisation")}.get(document["kind"])


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


def _contact_event(event_type: str, document: dict, **admission: object) -> dict:
    """registration.created or .updated (version 2, with the admission; ``admission`` adds the
    place in line or whether it is a promotion), .contact_refreshed (with the admission) or
    .cancelled (version 1)."""
    contact = {key: document[key] for key in CONTACT_FIELDS}
    if document.get("carer_name"):
        # the address is the carer's: e-mails greet them and say whom the registration is for
        contact["carer_name"] = document["carer_name"]
    card = contact_card(document)
    if card is not None:
        contact.update({key: card[key] for key in CARD_FIELDS})
    payload = {
        "registration_id": document["_id"],
        "kind": document["kind"],
        # the event it is for (version 1 of these events names it expo_id)
        "expo_id": document["event_id"],
        "revision": document["revision"],
        "contact": contact,
    }
    if event_type == "registration.cancelled":
        return new_event(event_type, payload)
    payload.update(admission=document.get("admission"), checkin_code=badge_code(document))
    if event_type == "registration.contact_refreshed":
        return new_event(event_type, payload)
    return new_event(event_type, {**payload, **admission}, version=2)


def refresh_contact(document: dict) -> tuple[dict, list[dict]]:
    """A registration marked as brought up to date in notification (CONTACT_REFRESH), with the
    event that does so if it is active (nothing is kept of one cancelled or erased that a
    reminder or a notice needs). Its revision stays: the registration itself did not change, and
    notification takes a refresh at the revision it holds already. Nobody is e-mailed."""
    refreshed = {**document, CONTACT_REFRESHED: CONTACT_REFRESH}
    if document["status"] != "active":
        return refreshed, []
    return refreshed, [_contact_event("registration.contact_refreshed", document)]


def badge_code(document: dict) -> str | None:
    """The check-in code of a registration that holds its places (or is at an event without a
    capacity); None while it waits or has places offered, and once it is cancelled."""
    if document["status"] != "active" or document.get("admission") not in (ADMITTED, None):
        return None
    return document.get("checkin_code")


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


# --- capacity and waiting list ---------------------------------------------------------------

ADMITTED, WAITING, OFFERED = "admitted", "waiting", "offered"
# the admissions that hold places
SEATED = (ADMITTED, OFFERED)
NOTHING_TO_CONFIRM = "This registration has no offered place to confirm."
OFFER_EXPIRED = "The place offered was not confirmed in time and has passed on."
NO_SEATS_FOR_COMPANIONS = (
    "There are no free places for more companions at this event; the registration is unchanged."
)


def party_size(document: dict) -> int:
    """The places a registration takes: the person and their companions, together or not at all."""
    return 1 + (document.get("companions") or 0)


def has_capacity(event: dict | None) -> bool:
    return event is not None and event.get("capacity") is not None


def seat_id(event_id: str, number: int) -> str:
    """A place at an event: its unique id is what holds the capacity, however many claim at once."""
    return f"{event_id}#{number}"


def seat_number(seat: str) -> int:
    return int(seat.rsplit("#", 1)[1])


def choose_seats(capacity: int, taken: set[int], count: int, rng: random.Random) -> list[int]:
    """Up to ``count`` free place numbers at random: people claiming at the same moment then
    seldom reach for the same ones (the lowest free numbers would be the same for all of them)."""
    free = [number for number in range(1, capacity + 1) if number not in taken]
    return rng.sample(free, min(count, len(free)))


def surplus_seats(held: list[str], size: int) -> list[str]:
    """The places beyond ``size`` a registration holds (two promotions of the same person at
    once may both claim): the highest numbers, so every process that trims drops the same ones."""
    return sorted(held, key=seat_number)[size:]


def admit(document: dict) -> dict:
    """A new registration with its places (see register)."""
    return {**document, "admission": ADMITTED}


def wait(document: dict, now: str) -> dict:
    """A new registration on the waiting list, in line from ``now``."""
    return {**document, "admission": WAITING, "waiting_since": now}


def promote(document: dict | None, now: str, hold_minutes: float = 0) -> tuple[dict | None, list[dict]]:
    """A waiting registration whose places were claimed becomes admitted or, when places are to
    be confirmed (``hold_minutes``, PROMOTION_HOLD_MINUTES), is offered them until a deadline; the
    event lets every service hear of it. Anything else (cancelled, erased, promoted already)
    stays as it is."""
    if document is None or document.get("admission") != WAITING or document["status"] != "active":
        return document, []
    promoted = {**document, "revision": document["revision"] + 1, "updated_at": now}
    promoted.pop("waiting_since")
    promoted.pop("promoting_until", None)
    if hold_minutes > 0:
        expires = clock.to_iso(clock.parse_iso(now) + timedelta(minutes=hold_minutes))
        promoted.update(admission=OFFERED, offer_expires_at=expires)
    else:
        promoted.update(admission=ADMITTED, admitted_at=now)
    event = _contact_event(
        "registration.updated", promoted, promoted=True, offer_expires_at=promoted.get("offer_expires_at")
    )
    return promoted, [event]


def confirm(document: dict, now: str) -> tuple[dict, list[dict]]:
    """The person takes the places offered to them. Confirming twice is a no-op; Conflict when
    nothing is offered, or the offer expired (even before the timer passed it on)."""
    if document.get("admission") == ADMITTED:
        return document, []
    _require_active(document)
    if document.get("admission") != OFFERED:
        raise Conflict(NOTHING_TO_CONFIRM)
    if document["offer_expires_at"] <= now:
        raise Conflict(OFFER_EXPIRED)
    confirmed = {**document, "admission": ADMITTED, "admitted_at": now, "revision": document["revision"] + 1}
    confirmed["updated_at"] = now
    confirmed.pop("offer_expires_at")
    return confirmed, [_contact_event("registration.updated", confirmed)]


def lapse(document: dict | None, now: str) -> tuple[dict | None, list[dict]]:
    """An offer not confirmed in time: the registration is cancelled (and told so), and its places
    pass on. Anything else stays as it is."""
    if document is None or document.get("admission") != OFFERED or document["offer_expires_at"] > now:
        return document, []
    lapsed, events = cancel(document, now)
    return {**lapsed, "offer_lapsed_at": now}, events


def waiting_line(waiting: list[dict]) -> list[dict]:
    """Waiting registrations in the order they joined the line (the id settles a tie)."""
    return sorted(waiting, key=lambda document: (document["waiting_since"], document["_id"]))


def waiting_position(document: dict, waiting: list[dict]) -> int | None:
    """Where a waiting registration stands in its event's line (1: next to get places)."""
    if document.get("admission") != WAITING:
        return None
    ahead = [
        other
        for other in waiting
        if (other["waiting_since"], other["_id"]) < (document["waiting_since"], document["_id"])
    ]
    return len(ahead) + 1


# --- check-in at the door ------------------------------------------------------------------

# what scanning a badge comes to; only the first two record or find a check-in
CHECKED_IN, ALREADY_CHECKED_IN = "checked_in", "already_checked_in"
UNKNOWN_BADGE, OTHER_EVENT, NOT_ADMITTED = "unknown_badge", "other_event", "not_admitted"
# what the staff at the door see of a person: enough to greet them and their companions and to
# meet their needs (an audited read of the needs), nothing else
DOOR_FIELDS = ("kind", "name", "organisation", "companions", "companion_names", "carer_name", "language")


def door_refusal(document: dict | None, event_id: str) -> str | None:
    """Why a badge does not let its holder in to ``event_id`` (None if it does): the code is no
    registration's (or a cancelled or revoked one's), it is for another event, or its holder has
    no places (waiting, or places offered but not confirmed)."""
    if document is None or document["status"] != "active" or not document.get("checkin_code"):
        return UNKNOWN_BADGE
    if document["event_id"] != event_id:
        return OTHER_EVENT
    if badge_code(document) is None:
        return NOT_ADMITTED
    return None


def door_view(document: dict, outcome: str) -> dict:
    """What the door is answered for a badge that let someone in (``outcome`` CHECKED_IN or
    ALREADY_CHECKED_IN, when it was first scanned)."""
    return {
        "outcome": outcome,
        "registration_id": document["_id"],
        "reference": document.get("reference") or reference_of(document["_id"]),
        **{key: document.get(key) for key in DOOR_FIELDS},
        "organisation": _organisation(document),
        "accessibility_needs": document.get("accessibility_needs"),
        "checked_in_at": document["checked_in_at"],
        "checked_in_by": document.get("checked_in_by"),
    }


def door_checker(caller: dict) -> str:
    """How a check-in names who recorded it (kept on the registration, never shown to others)."""
    return caller.get("organiser_email") or "organiser token"


def reissue_badge(document: dict, now: str) -> tuple[dict, list[dict]]:
    """A new check-in code in place of the old one (a badge lost, or shared): the old one lets
    nobody in any longer, and the holder is sent the new one."""
    _require_active(document)
    reissued = {**document, "checkin_code": badges.new_code(), "revision": document["revision"] + 1}
    reissued["updated_at"] = now
    return reissued, [_contact_event("registration.updated", reissued)]


# --- who may act ---------------------------------------------------------------------------


def may_act(document: dict, caller: dict) -> bool:
    """Whether ``caller`` (as CallerSchema loads it) may act on this non-erased registration: an
    organiser, the holder of its manage token, or someone signed in with its e-mail address."""
    if caller["organiser"]:
        return True
    token = caller.get("token")
    if token and hmac.compare_digest(document.get("token_hash", ""), hash_token(token)):
        return True
    email = caller.get("email")
    return email is not None and email_key(email) == document["email_key"]


def audit_record(
    caller: dict, action: str, registration_id: str | None, now: str, event_id: str | None = None
) -> dict:
    """What is kept of an organiser's access to sensitive or bulk data (an event's export names
    the event)."""
    record = {
        "_id": str(uuid.uuid4()),
        "at": now,
        "organiser": caller.get("organiser_email") or "organiser token",
        "registration_id": registration_id,
        "action": action,
    }
    if event_id is not None:
        record["event_id"] = event_id
    return record


def may_see_names_with_needs(caller: dict, sensitive_emails: tuple[str, ...]) -> bool:
    """Whether an organiser holds the permission to see who needs what (ORGANISER_SENSITIVE_EMAILS):
    only one signed in with a listed address; the shared organiser token names nobody."""
    email = caller.get("organiser_email")
    return bool(caller["organiser"] and email and email_key(email) in sensitive_emails)


# --- sign-in links -------------------------------------------------------------------------


def free_link_slots(links: list[dict], now: str) -> list[int]:
    """The slots a new sign-in link of an address may take: one per unexpired link it may still
    have (a unique index on the slot holds the limit against requests made at once)."""
    taken = {link["slot"] for link in links if link["expires_at"] > now}
    return [slot for slot in range(SIGN_IN_LINKS_PER_ADDRESS) if slot not in taken]


def link_language(registrations: list[dict], asked: str) -> str:
    """The language of a sign-in e-mail: the one the person registered in (their newest
    registration's), else the one the sign-in page was in."""
    return registrations[0]["language"] if registrations else asked


def new_sign_in_link(
    address: str, language: str, slot: int, now: str, minutes: float
) -> tuple[dict, list[dict]]:
    """A one-time link for ``address`` and the event that has it e-mailed. The document keeps only
    the token's hash: only the e-mail (through the event) carries the token itself."""
    token = secrets.token_urlsafe(32)
    key = email_key(address)
    expires_at = clock.to_iso(clock.parse_iso(now) + timedelta(minutes=minutes))
    document = {
        "_id": hash_token(token),
        "email": key,
        "slot": slot,
        "slot_key": f"{key}/{slot}",
        "created_at": now,
        "expires_at": expires_at,
        "used_at": None,
    }
    event = new_event(
        "registration.sign_in_link_requested",
        {"email": address, "language": language, "link_token": token, "expires_at": expires_at},
    )
    return document, [event]


# --- organisers' lists and counts ----------------------------------------------------------


def registration_filter(query: dict) -> dict:
    """The store filter for an organiser's search (``query`` as RegistrationQuerySchema loads it).
    Erased registrations are never found."""
    conditions: dict = {"status": query["status"] if "status" in query else {"$in": list(LISTED_STATUSES)}}
    for key in ("kind", "attendee_type", "event_id"):
        if key in query:
            conditions[key] = query[key]
    if "q" in query:
        part = {"$regex": re.escape(query["q"]), "$options": "i"}
        conditions["$or"] = [
            {"name": part},
            {"email": part},
            {"organisation": part},
            {"reference": query["q"].upper()},
        ]
    return conditions


def row(document: dict) -> dict:
    """One registration in an organiser's list or export: never its accessibility needs, only
    whether it has any (``has_accessibility_needs``, which the store sets without opening them)."""
    values = {
        **document,
        "id": document["_id"],
        "reference": document.get("reference") or reference_of(document["_id"]),
        "organisation": _organisation(document),
        "has_accessibility_needs": bool(document.get("has_accessibility_needs")),
    }
    return {field: values.get(field) for field in REGISTRATION_ROW_FIELDS}


def registration_counts(records: list[dict]) -> dict[str, dict[str, int]]:
    """How many registrations of each kind are in each status."""
    counts = {kind: dict.fromkeys(("active", "cancelled", "erased"), 0) for kind in KINDS}
    for record in records:
        counts[record["kind"]][record["status"]] += 1
    return counts


def accessibility_counts(records: list[dict]) -> tuple[dict, dict]:
    """Counts of each accessibility need, and of companions apart (they are not a need), over the
    active registrations' ``accessibility_needs`` and ``companions``."""
    needs: Counter = Counter()
    people = companions = 0
    for record in records:
        chosen = record.get("accessibility_needs") or {}
        needs.update(key for key, value in chosen.items() if value and key != "other")
        if record.get("companions"):
            people += 1
            companions += record["companions"]
    return dict(needs), {"attendees_with_companions": people, "companions": companions}


# --- an event's exports ----------------------------------------------------------------------

# every accessibility need, in the schema's order; "other" is free text, never counted
NEEDS = tuple(name for name in AccessibilityNeedsSchema().fields if name != "other")
# the companion counts of accessibility_counts, as rows of the preparation export
COMPANION_ITEMS = ("attendees_with_companions", "companions")


def waiting_rows(waiting: list[dict]) -> list[dict]:
    """An event's waiting list (its waiting registrations, as the organisers' rows read them) in
    line order, each with its place in line (1: next) and the places its party needs."""
    return [
        {
            "position": position,
            **row(document),
            "party_size": party_size(document),
            "waiting_since": document["waiting_since"],
        }
        for position, document in enumerate(waiting_line(waiting), start=1)
    ]


def check_in_rows(documents: list[dict]) -> list[dict]:
    """The registrations checked in at the door (``checked_in_at``), in the order they came."""
    checked_in = sorted(
        (document for document in documents if document.get("checked_in_at")),
        key=lambda document: (document["checked_in_at"], document["_id"]),
    )
    return [
        {
            **row(document),
            "checked_in_at": document["checked_in_at"],
            "checked_in_by": document.get("checked_in_by"),
        }
        for document in checked_in
    ]


def preparation_rows(records: list[dict]) -> list[dict]:
    """What to prepare at an event, in counts only: each accessibility need, then companions,
    among those holding places (``coming``; all, at an event without a capacity) and those
    waiting (``records``: the event's active registrations with their needs opened)."""
    coming = [record for record in records if record.get("admission", ADMITTED) in SEATED]
    waiting = [record for record in records if record.get("admission") == WAITING]
    (coming_needs, coming_companions), (waiting_needs, waiting_companions) = (
        accessibility_counts(coming),
        accessibility_counts(waiting),
    )
    rows = [
        {"item": need, "coming": coming_needs.get(need, 0), "waiting": waiting_needs.get(need, 0)}
        for need in NEEDS
    ]
    return rows + [
        {"item": item, "coming": coming_companions[item], "waiting": waiting_companions[item]}
        for item in COMPANION_ITEMS
    ]


def needs_rows(records: list[dict]) -> list[dict]:
    """Who needs what at an event, by name: its active registrations with accessibility needs
    (sensitive: for organisers given that permission only, each export audited)."""
    rows = []
    for record in records:
        needs = record.get("accessibility_needs") or {}
        if not has_needs(needs):
            continue
        rows.append(
            {
                "reference": record.get("reference") or reference_of(record["_id"]),
                "name": record.get("name"),
                "admission": record.get("admission"),
                "companions": record.get("companions") or 0,
                "carer_name": record.get("carer_name"),
                **{need: bool(needs.get(need)) for need in NEEDS},
                "other_needs": (needs.get("other") or "").strip(),
                "id": record["_id"],
            }
        )
    return sorted(rows, key=lambda found: (found["name"] or "", found["id"]))


# --- events of the programme -----------------------------------------------------------------

# the statuses an event may go to from each: a cancelled event stays cancelled, and one that
# people may have registered for never goes back to being a draft
STATUS_CHANGES = {
    "draft": ("open", "cancelled"),
    "open": ("closed", "cancelled"),
    "closed": ("open", "cancelled"),
    "cancelled": (),
}
CREATED_STATUSES = ("draft", "open")
EVENT_VIEW_FIELDS = (
    "kind",
    "name_ko",
    "name_en",
    "starts_at",
    "ends_at",
    "registration_opens_at",
    "registration_closes_at",
    "status",
)
COUNTED = ("attendee", "company", "investor", "companions", "total", "checked_in", "checked_in_people")
# what the registration service answers when an event takes no registrations now
REFUSALS = {
    "closed": "Registration for this event is closed.",
    "cancelled": "This event is cancelled, so it takes no registrations.",
}
OPENS_AT = "Registration for this event opens at {} (Seoul time)."
NEEDS_START = "An event is opened only with its start time."
PURGE_TOO_EARLY = (
    "Personal data is destroyed only when nobody is still to come: once the event is over or "
    "cancelled, or closed without a date."
)


def default_event(event_id: str, name_ko: str, name_en: str, now: str) -> dict:
    """The expo every registration was for before there were events: open, and without a date
    until an organiser gives it one (an event is opened only with a start time, but this one was
    open already)."""
    return {
        "_id": event_id,
        "kind": "expo",
        "name_ko": name_ko,
        "name_en": name_en,
        "venue": {},
        "status": "open",
        "revision": 1,
        "created_at": now,
        "updated_at": now,
    }


def new_programme_event(data: dict, now: str) -> dict:
    """A new event from what an organiser sent (as EventSchema loads it): a draft unless sent
    open. Raises Invalid for fields that do not agree with each other."""
    document = {
        "_id": str(uuid.uuid4()),
        "status": "draft",
        **_given(data),
        "venue": _given(data.get("venue") or {}),
        "revision": 1,
        "created_at": now,
        "updated_at": now,
    }
    if document["status"] not in CREATED_STATUSES:
        raise Invalid("Some fields are invalid.", {"status": ["A new event is a draft or open."]})
    _check_event(document, None)
    return document


def change_programme_event(document: dict, changes: dict, now: str) -> dict:
    """The event with ``changes`` applied (a partial EventSchema load: what it does not name stays,
    a field given as null goes; the venue changes field by field). Raises Invalid for a status
    that may not follow the current one, or for fields that do not agree with each other."""
    given = dict(changes)
    if "venue" in given:
        # null removes the whole venue
        given["venue"] = {} if given["venue"] is None else {**document.get("venue", {}), **given["venue"]}
    updated = {**document, **_given(given)}
    for key in [key for key, value in given.items() if value is None]:
        updated.pop(key, None)
    updated["venue"] = _given(updated.get("venue") or {})
    before, after = document["status"], updated["status"]
    if after != before and after not in STATUS_CHANGES[before]:
        raise Invalid("Some fields are invalid.", {"status": [_status_refusal(before, after)]})
    _check_event(updated, document)
    if updated == document:
        return document
    return {**updated, "revision": document["revision"] + 1, "updated_at": now}


# what everyone may know of an event, in the event that tells notification of it
ANNOUNCED_FIELDS = ("kind", "status", "name_ko", "name_en", "starts_at", "ends_at", "venue")
# the venue's fields that say where it is: another value for one given before is a move (giving
# one not known yet, or an access fact, is not)
VENUE_PLACE = ("name_ko", "name_en", "address_ko", "address_en")
# people may be registered for an event in these: a change there is news to them
REGISTERED_FOR = ("open", "closed")


def programme_event_changed(before: dict | None, after: dict) -> list[dict]:
    """The event that tells everyone else of ``after``, a new event (``before`` None) or one
    changed from ``before``; none when nothing public changed. It names as ``changes`` what the
    people registered are to be told of: a cancellation, or, once people may have registered,
    a start time or a venue other than the one given before."""
    public = {key: after.get(key) for key in ANNOUNCED_FIELDS}
    if before is not None and public == {key: before.get(key) for key in ANNOUNCED_FIELDS}:
        return []
    changes, previous = [], None
    if before is not None and before["status"] in REGISTERED_FOR:
        if after["status"] == "cancelled":
            changes.append("cancelled")
        else:
            if _replaced(before.get("starts_at"), after.get("starts_at")):
                changes.append("starts_at")
            old_venue, new_venue = before.get("venue") or {}, after.get("venue") or {}
            if any(_replaced(old_venue.get(key), new_venue.get(key)) for key in VENUE_PLACE):
                changes.append("venue")
        if changes:
            previous = {"starts_at": before.get("starts_at"), "venue": dict(before.get("venue") or {})}
    payload = {
        "programme_event_id": after["_id"],
        "revision": after["revision"],
        **{key: value for key, value in public.items() if value is not None},
        "venue": dict(after.get("venue") or {}),
        "changes": changes,
        "previous": previous,
    }
    return [new_event("registration.programme_event_changed", payload)]


def _replaced(before: object, after: object) -> bool:
    """A value given before that is now another (or gone)."""
    return before is not None and after != before


def _status_refusal(before: str, after: str) -> str:
    """Why ``after`` may not follow ``before`` (see STATUS_CHANGES)."""
    if before == "cancelled":
        return "A cancelled event stays cancelled."
    if after == "draft":
        return "An event that has been open never goes back to being a draft."
    return "A draft is opened before it is closed."


def _given(values: dict) -> dict:
    return {key: value for key, value in values.items() if value is not None}


def _check_event(event: dict, before: dict | None) -> None:
    """Raises Invalid, field by field, where the times or the status of ``event`` do not agree."""
    problems = {}
    start, end = event.get("starts_at"), event.get("ends_at")
    if end and not start:
        problems["ends_at"] = ["Give the start time too."]
    elif start and end and end <= start:
        problems["ends_at"] = ["Must be after the start."]
    opens, closes = event.get("registration_opens_at"), event.get("registration_closes_at")
    if opens and closes and closes <= opens:
        problems["registration_closes_at"] = ["Must be after registration opens."]
    elif closes and end and closes > end:
        problems["registration_closes_at"] = ["Must not be after the event ends."]
    # an event open without a start time is only the default expo, opened before events had
    # dates: it may stay so until it gets one, but nothing else opens, or loses its start, so
    opened = before is None or before["status"] != "open" or before.get("starts_at")
    if event["status"] == "open" and not start and opened:
        problems["starts_at"] = [NEEDS_START]
    if problems:
        raise Invalid("Some fields are invalid.", problems)


def ends_of(event: dict) -> str | None:
    """When the event ends: its end time, else the end of its first day in Seoul, else (no date
    yet) None."""
    if event.get("ends_at"):
        return event["ends_at"]
    if not event.get("starts_at"):
        return None
    next_day = clock.in_seoul(event["starts_at"]).date() + timedelta(days=1)
    return clock.to_iso(datetime.combine(next_day, time(), tzinfo=clock.SEOUL))


def is_past(event: dict, now: str) -> bool:
    end = ends_of(event)
    return end is not None and end <= now


def registration_state(event: dict, now: str) -> str:
    """Whether the event takes registrations now: "open" when its status is open and ``now`` is
    inside its registration window (from its opening, if set, to its closing, or else the end of
    the event); otherwise why not: "not_yet_open", "closed", "cancelled" or "draft"."""
    if event["status"] != "open":
        return event["status"]
    if event.get("registration_opens_at") and now < event["registration_opens_at"]:
        return "not_yet_open"
    closes = event.get("registration_closes_at") or ends_of(event)
    if closes and now >= closes:
        return "closed"
    return "open"


def require_taking_registrations(event: dict | None, event_id: str, now: str) -> None:
    """Raises NotFound for an event nobody may see (unknown, or a draft), Conflict for one that
    takes no registrations now, saying why."""
    if event is None or event["status"] == "draft":
        raise NotFound(f"No event {event_id!r}.")
    state = registration_state(event, now)
    if state == "not_yet_open":
        opens = clock.in_seoul(event["registration_opens_at"]).strftime("%Y-%m-%d %H:%M")
        raise Conflict(OPENS_AT.format(opens))
    if state != "open":
        raise Conflict(REFUSALS[state])


def is_listed(event: dict, now: str) -> bool:
    """Whether everyone sees it in the list of events: not a draft, and not over."""
    return event["status"] != "draft" and not is_past(event, now)


def programme_order(events: list[dict]) -> list[dict]:
    """Events by their start, the soonest first; those without a date yet last."""
    return sorted(
        events, key=lambda event: (not event.get("starts_at"), event.get("starts_at") or "", event["_id"])
    )


def public_event_view(event: dict, now: str) -> dict:
    """What everyone sees of an event (a draft is never shown to them)."""
    return {
        "id": event["_id"],
        **{key: event.get(key) for key in EVENT_VIEW_FIELDS},
        "venue": dict(event.get("venue") or {}),
        "registration_state": registration_state(event, now),
        "past": is_past(event, now),
    }


def organiser_event_view(
    event: dict, now: str, registrations: dict | None, places: tuple[int, int] = (0, 0)
) -> dict:
    """What organisers see of an event: also its capacity, its history, the active registrations
    for it (``counts_by_event``), the places taken and the registrations waiting (``places``),
    and the statuses it may change to."""
    return {
        **public_event_view(event, now),
        "capacity": event.get("capacity"),
        "seats_taken": places[0],
        "waiting": places[1],
        "revision": event["revision"],
        "created_at": event["created_at"],
        "updated_at": event["updated_at"],
        "registrations": registrations or dict.fromkeys(COUNTED, 0),
        "next_statuses": list(STATUS_CHANGES[event["status"]]),
        **{key: event.get(key) for key in ("purge_requested_at", "purged_at", "counts_at_purge")},
    }


def purge_due(event: dict, now: str, retention_days: float) -> bool:
    """Whether the personal data of the event's registrations is to be destroyed now: once an
    organiser asked, or ``retention_days`` (RETENTION_DAYS_AFTER_EXPO) after the event ended; an
    event without a date only on request. Once done, never again."""
    if event.get("purged_at"):
        return False
    if event.get("purge_requested_at"):
        return True
    end = ends_of(event)
    return end is not None and clock.to_iso(clock.parse_iso(end) + timedelta(days=retention_days)) <= now


def request_purge(event: dict, now: str) -> dict:
    """An organiser's request to destroy the personal data of the event's registrations now.
    Only once nobody is still to come: the event is over or cancelled, or closed without a date."""
    if event.get("purge_requested_at") or event.get("purged_at"):
        return event
    over = is_past(event, now) or event["status"] == "cancelled"
    if not over and not (event["status"] == "closed" and ends_of(event) is None):
        raise Conflict(PURGE_TOO_EARLY)
    return {**event, "purge_requested_at": now, "updated_at": now}


def purge_started(event: dict, census: list[dict], now: str) -> dict:
    """The event as its purge starts: the anonymous counts it keeps for ever (registrations of
    each kind and status, and companions of the active ones), from ``census`` (records of
    ``kind``, ``status`` and ``companions``), taken once before anyone is erased."""
    if "counts_at_purge" in event:
        return event
    counts: dict = {kind: {} for kind in KINDS}
    companions = 0
    for record in census:
        by_status = counts[record["kind"]]
        by_status[record["status"]] = by_status.get(record["status"], 0) + 1
        if record["status"] == "active":
            companions += record.get("companions") or 0
    return {**event, "counts_at_purge": {**counts, "companions": companions}, "updated_at": now}


def purge_done(event: dict, now: str) -> dict:
    return {**event, "purged_at": now, "updated_at": now}


def erase_unless_erased(document: dict | None, now: str) -> tuple[dict | None, list[dict]]:
    """Erase a registration whatever its status (an event's retention ended), unless it is gone."""
    if document is None or document["status"] == "erased":
        return document, []
    return erase(document, now)


def counts_by_event(records: list[dict], default_event_id: str) -> dict[str, dict[str, int]]:
    """Active registrations of each kind, companions and in all, per event, over records of
    ``kind``, ``status``, ``companions`` and ``event_id`` (a record without one is for the
    default expo: stored before there were events)."""
    counts: dict[str, dict[str, int]] = {}
    for record in records:
        if record["status"] != "active":
            continue
        event = counts.setdefault(record.get("event_id") or default_event_id, dict.fromkeys(COUNTED, 0))
        event[record["kind"]] += 1
        event["total"] += 1
        event["companions"] += record.get("companions") or 0
        if record.get("checked_in_at"):
            event["checked_in"] += 1
            event["checked_in_people"] += party_size(record)
    return counts
