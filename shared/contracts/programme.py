"""Events of the programme: the Tech Companion Network's town halls and the expo. What organisers
send to create or change one, and what organisers and everyone else are answered.

Times are ISO 8601, with their offset or without one as Seoul's local time; they are stored and
answered in UTC like every other time (``shared.clock``), and the pages show them in Seoul's time.
The gateway validates HTTP bodies with these schemas and the registration service, which owns
the events, validates its RPC input with the same ones.
"""

from marshmallow import Schema, fields, validate

from shared.contracts.fields import Choice, Flag, SeoulTime, Text

EVENT_KINDS = ("town_hall", "expo")
EVENT_STATUSES = ("draft", "open", "closed", "cancelled")
# whether an event takes registrations now (worked out from its status and its window)
REGISTRATION_STATES = ("open", "not_yet_open", "closed", "cancelled")
# what a venue says about access: true, false, or null for not known yet
VENUE_FACTS = ("step_free_entrance", "accessible_toilets", "hearing_loop")
MAX_CAPACITY = 100_000
NOT_KNOWN = "null: not known yet."


class VenueSchema(Schema):
    """Where an event is, and how to reach it and get about it; every field may be left out (a
    draft may have no venue yet) or given as null to remove it."""

    name_ko = Text(max_length=200, allow_none=True, metadata={"description": "Such as 서울시청 다목적홀."})
    name_en = Text(max_length=200, allow_none=True)
    address_ko = Text(max_length=300, allow_none=True)
    address_en = Text(max_length=300, allow_none=True)
    step_free_entrance = Flag(
        allow_none=True, metadata={"description": f"An entrance without steps (ramp or lift); {NOT_KNOWN}"}
    )
    accessible_toilets = Flag(
        allow_none=True, metadata={"description": f"Wheelchair-accessible toilets; {NOT_KNOWN}"}
    )
    hearing_loop = Flag(
        allow_none=True, metadata={"description": f"A hearing loop (assistive listening); {NOT_KNOWN}"}
    )
    subway_exit_ko = Text(
        max_length=200,
        allow_none=True,
        metadata={"description": "The nearest subway station and exit, such as 시청역 1·2호선 5번 출구."},
    )
    subway_exit_en = Text(max_length=200, allow_none=True)
    access_notes_ko = Text(
        max_length=1000,
        multiline=True,
        allow_none=True,
        metadata={"description": "How to get in and about step-free, and anything else about access."},
    )
    access_notes_en = Text(max_length=1000, multiline=True, allow_none=True)


class EventSchema(Schema):
    """An event as an organiser creates it; a change names only the fields it changes (null
    removes an optional one). Rules across fields (an end after the start, a window that closes
    after it opens, which status may follow which) are the registration service's."""

    kind = Choice(EVENT_KINDS, required=True, metadata={"description": "town_hall or expo."})
    name_ko = Text(required=True, max_length=200)
    name_en = Text(required=True, max_length=200)
    starts_at = SeoulTime(
        allow_none=True,
        metadata={
            "description": "ISO 8601 with an offset, or without one as Seoul time "
            "(2026-06-21T14:00:00+09:00, 2026-06-21 14:00). A draft may have none; an event is "
            "opened only with one."
        },
    )
    ends_at = SeoulTime(allow_none=True, metadata={"description": "After starts_at."})
    venue = fields.Nested(VenueSchema, allow_none=True)
    capacity = fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(min=1, max=MAX_CAPACITY),
        metadata={"description": "How many people the venue takes; null: not set."},
    )
    registration_opens_at = SeoulTime(
        allow_none=True, metadata={"description": "null: registration is open as soon as the event is."}
    )
    registration_closes_at = SeoulTime(
        allow_none=True, metadata={"description": "null: registration closes when the event ends."}
    )
    status = Choice(
        EVENT_STATUSES,
        metadata={
            "description": "draft (only organisers see it), open, closed or cancelled. A new event "
            "is a draft unless created open; a cancelled event stays cancelled."
        },
    )


class _EventOutSchema(Schema):
    id = fields.String()
    kind = fields.String(metadata={"description": "town_hall or expo"})
    name_ko = fields.String()
    name_en = fields.String()
    starts_at = fields.String(allow_none=True, metadata={"description": "UTC; pages show Seoul time."})
    ends_at = fields.String(allow_none=True)
    venue = fields.Nested(VenueSchema)
    registration_opens_at = fields.String(allow_none=True)
    registration_closes_at = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "open, closed or cancelled (organisers also see draft)"})
    registration_state = fields.String(
        metadata={
            "description": "open (takes registrations now), not_yet_open, closed or cancelled: "
            "the status and the registration window, as of the answer."
        }
    )
    past = fields.Boolean(metadata={"description": "It has ended."})


class PublicEventSchema(_EventOutSchema):
    """An event as everyone sees it (drafts are never shown)."""


class PublicEventsSchema(Schema):
    items = fields.List(fields.Nested(PublicEventSchema))


class EventRegistrationsSchema(Schema):
    attendee = fields.Integer()
    company = fields.Integer()
    investor = fields.Integer()
    companions = fields.Integer(metadata={"description": "Companions or carers coming with attendees."})
    total = fields.Integer(metadata={"description": "Active registrations of every kind."})
    checked_in = fields.Integer(metadata={"description": "Of them, checked in at the door."})
    checked_in_people = fields.Integer(metadata={"description": "People checked in, companions included."})


class DoorCountsSchema(EventRegistrationsSchema):
    """The registrations for an event and how many are checked in, as the door keeps count."""

    event_id = fields.String()


class OrganiserEventSchema(_EventOutSchema):
    """An event as organisers see it: with its capacity, its history and the active
    registrations for it."""

    capacity = fields.Integer(allow_none=True)
    seats_taken = fields.Integer(
        metadata={"description": "Places held by admitted people and their companions."}
    )
    waiting = fields.Integer(metadata={"description": "Registrations on the waiting list."})
    revision = fields.Integer()
    created_at = fields.String()
    updated_at = fields.String()
    registrations = fields.Nested(EventRegistrationsSchema)
    next_statuses = fields.List(fields.String(), metadata={"description": "The statuses it may change to."})
    purge_requested_at = fields.String(
        allow_none=True,
        metadata={"description": "When an organiser asked to destroy its registrations' personal data now."},
    )
    purged_at = fields.String(
        allow_none=True,
        metadata={"description": "When its registrations' personal data was destroyed (retention)."},
    )
    counts_at_purge = fields.Dict(
        allow_none=True,
        metadata={
            "description": "What is kept once its personal data is destroyed: registrations of each "
            "kind by status, and the active ones' companions."
        },
    )


class OrganiserEventsSchema(Schema):
    items = fields.List(fields.Nested(OrganiserEventSchema))
