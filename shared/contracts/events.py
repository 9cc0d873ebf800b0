"""Event contracts: the envelope every event travels in, and a schema per type and version.

Events carry ids and only the fields their consumers need. Accessibility needs never appear in
any event; contact details appear only in the events the notification service consumes.
An event is validated when it is made (``new_event``) and when it is received (``parse_event``).
"""

import uuid
from dataclasses import dataclass
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from shared import badges, clock
from shared.contracts.fields import Email, SeoulTime, Text
from shared.contracts.programme import EVENT_KINDS, EVENT_STATUSES, VenueSchema
from shared.contracts.registration import KINDS, LANGUAGES

# a fixed namespace so that ids derived from other ids are the same in every process
_ID_NAMESPACE = uuid.UUID("6f1d8c2e-4b7a-5e0f-9a3c-2d8e7b1f0c45")


# the keys under which a message names a registration
PARTY_ID_KEYS = frozenset(
    {"registration_id", "recipient_id", "counterpart_id", "party_id", "investor_id", "company_id"}
)
# a hostile body may be huge: ids are looked for among its first so many dicts and lists
MAX_VALUES_SEARCHED = 100_000


def subjects_of(body: Any) -> list[str]:
    """The registrations a message is about: every id under a key naming a party, wherever it is
    in the body (a suggestion event names its recipients in a list; a message that broke its
    contract may hold them anywhere)."""
    found: set[str] = set()
    pending, seen = [body], 0
    while pending and seen < MAX_VALUES_SEARCHED:
        value = pending.pop()
        seen += 1
        if isinstance(value, dict):
            for key, item in value.items():
                if key in PARTY_ID_KEYS and is_subject_id(item):
                    found.add(item)
                elif isinstance(item, dict | list):
                    pending.append(item)
        elif isinstance(value, list):
            pending.extend(item for item in value if isinstance(item, dict | list))
    return sorted(found)


def is_subject_id(value: Any) -> bool:
    return isinstance(value, str) and value.isascii() and 0 < len(value) <= 100


def derived_id(*parts: str) -> str:
    """A deterministic id, so a retried step produces the same event or record again."""
    return str(uuid.uuid5(_ID_NAMESPACE, "/".join(parts)))


class EnvelopeSchema(Schema):
    event_id = fields.UUID(required=True)
    type = fields.String(required=True, validate=validate.Length(min=1, max=100))
    version = fields.Integer(required=True, strict=True)
    occurred_at = fields.String(required=True, validate=validate.Length(equal=27))
    payload = fields.Dict(required=True)


class ContactSchema(Schema):
    """Checked as strictly as the registration form was: these end up in e-mail headers, and a
    message on the broker is not proof that registration wrote it."""

    name = Text(required=True)
    email = Email(required=True)
    language = fields.String(required=True, validate=validate.OneOf(LANGUAGES))
    # companies and investors only: what a counterpart is told once a company accepts interest,
    # and who is named in interest e-mails (public profile data, never anything sensitive)
    organisation = Text(min_length=0, load_default=None, allow_none=True)
    contact_person = Text(min_length=0, load_default=None, allow_none=True)
    website = Text(min_length=0, max_length=300, load_default=None, allow_none=True)
    # attendees registered by a carer: the carer's name (the address is the carer's, the contact's)
    carer_name = Text(min_length=0, max_length=100, load_default=None, allow_none=True)


class RegistrationCreated(Schema):
    registration_id = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    expo_id = fields.String(required=True)
    revision = fields.Integer(required=True, strict=True)
    contact = fields.Nested(ContactSchema, required=True)


class RegistrationUpdated(RegistrationCreated):
    pass


class RegistrationCancelled(RegistrationCreated):
    """Carries the contact: the cancellation is confirmed by e-mail, and may arrive first."""


class RegistrationContactRefreshed(RegistrationCreated):
    """An active registration as notification keeps it, sent once for each registration made
    before notification kept all of this: its contact, whether the person has a place at the
    event (``admission``: admitted, waiting or offered; None for a registration made before
    events had a capacity) and their badge. Nothing is e-mailed for it."""

    admission = fields.String(
        validate=validate.OneOf(("admitted", "waiting", "offered")), allow_none=True, load_default=None
    )
    # the person's badge (shared.badges) while they hold places, for the e-mails that show it
    checkin_code = fields.String(
        validate=validate.Regexp(f"^[{badges.ALPHABET}]{{{badges.LENGTH}}}$"),
        allow_none=True,
        load_default=None,
    )


class RegistrationCreatedV2(RegistrationContactRefreshed):
    """Version 2: also the admission and the badge (as RegistrationContactRefreshed) and, when
    waiting, the person's place in line as they registered."""

    waiting_position = fields.Integer(strict=True, allow_none=True, load_default=None)


class RegistrationUpdatedV2(RegistrationCreatedV2):
    """Version 2: ``promoted`` when the change is a place given to someone who was waiting (held
    for them until ``offer_expires_at`` when places are to be confirmed)."""

    promoted = fields.Boolean(load_default=False)
    # a promotion to places held until then (admission "offered"): confirmed by then, or they pass on
    offer_expires_at = fields.String(allow_none=True, load_default=None)


class RegistrationErased(Schema):
    registration_id = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    revision = fields.Integer(required=True, strict=True)


class SignInLinkRequested(Schema):
    """A one-time sign-in link to e-mail to ``email``. The only event that carries a secret: the
    link token, single use, which expires at ``expires_at`` (minutes later). It goes to the address
    itself, not to a registration: organisers sign in the same way and have none."""

    email = Email(required=True)
    language = fields.String(required=True, validate=validate.OneOf(LANGUAGES))
    link_token = fields.String(required=True, validate=validate.Length(min=20, max=200))
    expires_at = fields.String(required=True)


class ProfileChanged(Schema):
    """What matching needs of a company or an investor: tags and stages, no personal data."""

    registration_id = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(("company", "investor")))
    revision = fields.Integer(required=True, strict=True)
    active = fields.Boolean(required=True)
    tags = fields.List(fields.String(), required=True)
    stages = fields.List(fields.String(), required=True)


class Suggested(Schema):
    """Version 1: one event per recipient. Still read, for events queued before an upgrade."""

    recipient_id = fields.String(required=True)
    recipient_kind = fields.String(required=True, validate=validate.OneOf(("company", "investor")))
    counterpart_ids = fields.List(fields.String(), required=True, validate=validate.Length(min=1))
    best_score = fields.Float(required=True)


# new suggestions one event may carry: a change of one party makes one event (more only beyond this)
MAX_SUGGESTIONS_PER_EVENT = 1000


class NewSuggestion(Schema):
    recipient_id = fields.String(required=True)
    recipient_kind = fields.String(required=True, validate=validate.OneOf(("company", "investor")))
    counterpart_id = fields.String(required=True)
    score = fields.Float(required=True)
    shared_tags = fields.List(fields.String(), required=True)


class SuggestedV2(Schema):
    """Version 2: every pair a change of ``party_id`` made new, for both sides of each pair,
    in one event (several only beyond MAX_SUGGESTIONS_PER_EVENT)."""

    party_id = fields.String(required=True)
    suggestions = fields.List(
        fields.Nested(NewSuggestion),
        required=True,
        validate=validate.Length(min=1, max=MAX_SUGGESTIONS_PER_EVENT),
    )


class InterestExpressed(Schema):
    interest_id = fields.String(required=True)
    investor_id = fields.String(required=True)
    company_id = fields.String(required=True)


class InterestAnswered(InterestExpressed):
    accepted = fields.Boolean(required=True)


# what makes a change of an event of the programme news for everyone registered for it
EVENT_CHANGES = ("starts_at", "venue", "cancelled")


class PreviousEventSchema(Schema):
    """Where and when an event was before it moved: what the people registered are told it
    changed from."""

    starts_at = SeoulTime(allow_none=True, load_default=None)
    venue = fields.Nested(VenueSchema, load_default=dict)


class ProgrammeEventChanged(Schema):
    """An event of the programme as everyone may see it, when it is made, changed, or first
    announced: no personal data, no counts, no capacity. ``changes`` names what everyone
    registered is to be told of (a new start time, a new venue, a cancellation), and
    ``previous`` what it was before; empty for any other change."""

    programme_event_id = fields.String(required=True, validate=validate.Length(min=1, max=100))
    revision = fields.Integer(required=True, strict=True)
    kind = fields.String(required=True, validate=validate.OneOf(EVENT_KINDS))
    status = fields.String(required=True, validate=validate.OneOf(EVENT_STATUSES))
    name_ko = Text(required=True, max_length=200)
    name_en = Text(required=True, max_length=200)
    starts_at = SeoulTime(allow_none=True, load_default=None)
    ends_at = SeoulTime(allow_none=True, load_default=None)
    venue = fields.Nested(VenueSchema, load_default=dict)
    changes = fields.List(fields.String(validate=validate.OneOf(EVENT_CHANGES)), load_default=list)
    previous = fields.Nested(PreviousEventSchema, allow_none=True, load_default=None)


PAYLOAD_SCHEMAS: dict[tuple[str, int], type[Schema]] = {
    ("registration.created", 1): RegistrationCreated,
    ("registration.updated", 1): RegistrationUpdated,
    ("registration.created", 2): RegistrationCreatedV2,
    ("registration.updated", 2): RegistrationUpdatedV2,
    ("registration.cancelled", 1): RegistrationCancelled,
    ("registration.contact_refreshed", 1): RegistrationContactRefreshed,
    ("registration.erased", 1): RegistrationErased,
    ("registration.profile_changed", 1): ProfileChanged,
    ("registration.sign_in_link_requested", 1): SignInLinkRequested,
    ("registration.programme_event_changed", 1): ProgrammeEventChanged,
    ("matching.suggested", 1): Suggested,
    ("matching.suggested", 2): SuggestedV2,
    ("matching.interest_expressed", 1): InterestExpressed,
    ("matching.interest_answered", 1): InterestAnswered,
}


class InvalidEvent(Exception):
    """A message that does not satisfy its contract; it is parked, never retried for ever."""


@dataclass(frozen=True)
class Event:
    event_id: str
    type: str
    version: int
    occurred_at: str
    payload: dict

    def as_message(self) -> dict:
        return {
            "event_id": self.event_id,
            "type": self.type,
            "version": self.version,
            "occurred_at": self.occurred_at,
            "payload": self.payload,
        }


def new_event(event_type: str, payload: dict, *, event_id: str | None = None, version: int = 1) -> dict:
    """A validated event envelope, ready to be put in an outbox."""
    schema = PAYLOAD_SCHEMAS[(event_type, version)]()
    errors = schema.validate(payload)
    if errors:
        raise InvalidEvent(f"{event_type} v{version}: {errors}")
    return {
        "event_id": event_id or str(uuid.uuid4()),
        "type": event_type,
        "version": version,
        "occurred_at": clock.now_iso(),
        "payload": payload,
    }


def parse_event(body: Any) -> Event:
    """The event in a received message body; raises InvalidEvent if it breaks its contract."""
    try:
        envelope = EnvelopeSchema().load(body)
    except ValidationError as error:
        raise InvalidEvent(f"bad envelope: {error.messages}") from error
    key = (envelope["type"], envelope["version"])
    if key not in PAYLOAD_SCHEMAS:
        raise InvalidEvent(f"unknown event type or version: {key[0]} v{key[1]}")
    try:
        payload = PAYLOAD_SCHEMAS[key]().load(envelope["payload"])
    except ValidationError as error:
        raise InvalidEvent(f"bad payload for {key[0]} v{key[1]}: {error.messages}") from error
    return Event(
        event_id=str(envelope["event_id"]),
        type=envelope["type"],
        version=envelope["version"],
        occurred_at=envelope["occurred_at"],
        payload=payload,
    )
