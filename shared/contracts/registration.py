"""What may be sent to create or change a registration, and what is answered.

The gateway validates HTTP bodies with these schemas and publishes them in its OpenAPI document;
the registration service validates its RPC input with the same schemas.
"""

import base64
import hashlib
from typing import Any

from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    post_load,
    pre_load,
    validate,
    validates_schema,
)

from shared import badges, taxonomy
from shared.contracts.fields import Amount, Choice, Email, Flag, TagList, Text

KINDS = ("attendee", "company", "investor")
LANGUAGES = ("ko", "en")
ATTENDEE_TYPES = (
    "citizen",
    "person_with_disability",
    "senior",
    "companion",
    "student",
    "public_official",
    "company_staff",
    "investor",
    "press",
    "other",
)
# visitor types that reveal a disability, or the need for care that brings a senior or a
# companion to this expo: sensitive information (PIPA Art. 23), kept only with the separate
# consent, sealed with the accessibility needs, destroyed with them
SENSITIVE_ATTENDEE_TYPES = ("person_with_disability", "senior", "companion")
# a sensitive visitor type is sealed: no search finds it (an organiser sees it on the record)
SEARCHABLE_ATTENDEE_TYPES = tuple(kind for kind in ATTENDEE_TYPES if kind not in SENSITIVE_ATTENDEE_TYPES)
NOT_A_BADGE = "Not a check-in code: 12 letters and digits, such as ABCD-EFGH-JKMN."
# companions an attendee may bring, each taking a place with them
MAX_COMPANIONS = 5
MORE_NAMES_THAN_COMPANIONS = "Name at most as many companions as come along (companions)."
SENSITIVE_TYPE_WITHOUT_CONSENT = (
    "This visitor type is sensitive information, kept only with consent to sensitive information "
    '("consents": {"sensitive": true}).'
)


class ConsentsSchema(Schema):
    privacy = Flag(
        required=True,
        validate=validate.Equal(True, error="Consent to the privacy notice is required."),
        metadata={"description": "Consent to the collection and use of personal information."},
    )
    sensitive = Flag(
        load_default=False,
        metadata={"description": "Separate consent (PIPA Art. 23) to keep accessibility needs."},
    )


class AccessibilityNeedsSchema(Schema):
    """Sensitive information: kept only with separate consent, encrypted, never sent elsewhere."""

    wheelchair_access = Flag(load_default=False)
    sign_language_interpreter = Flag(load_default=False)
    live_captioning = Flag(load_default=False)
    braille_or_large_print = Flag(load_default=False)
    assistive_listening = Flag(load_default=False)
    easy_read = Flag(load_default=False)
    guide_dog = Flag(load_default=False)
    other = Text(max_length=500, min_length=0, load_default="", multiline=True)


class _RegistrationSchema(Schema):
    name = Text(required=True, max_length=100)
    email = Email(required=True)
    language = Choice(LANGUAGES, load_default="ko")
    event_id = Text(
        max_length=64,
        metadata={"description": "The event to register for (GET /api/v1/events); defaults to the expo."},
    )
    expo_id = Text(
        max_length=64, metadata={"description": "The same as event_id, its earlier name.", "deprecated": True}
    )
    consents = fields.Nested(ConsentsSchema, required=True)


class AttendeeSchema(_RegistrationSchema):
    attendee_type = Choice(ATTENDEE_TYPES, required=True)
    interests = TagList(min_items=0, load_default=list)
    accessibility_needs = fields.Nested(
        AccessibilityNeedsSchema,
        allow_none=True,
        metadata={"description": "A change names only the needs it changes; null removes them all."},
    )
    companions = fields.Integer(
        strict=True,
        load_default=0,
        validate=validate.Range(min=0, max=MAX_COMPANIONS),
        metadata={"description": "Companions or carers coming with the attendee (not sensitive)."},
    )
    companion_names = fields.List(
        Text(max_length=100),
        load_default=list,
        validate=validate.Length(max=MAX_COMPANIONS),
        metadata={
            "description": "The companions' names, if the attendee wants them on the registration "
            "(optional; at most as many as companions). Changed at any time, as a whole list; they "
            "stay with the registration and are not sent to other services."
        },
    )
    carer_name = Text(
        max_length=100,
        allow_none=True,
        metadata={
            "description": "Registering on behalf of someone: name is the attendee's, email the "
            "carer's (the contact), and this the carer's name. null removes it."
        },
    )

    @validates_schema
    def companions_are_named_at_most_once_each(self, data: dict, partial: Any = None, **kwargs: Any) -> None:
        # a change naming companions without their number is checked against the stored number
        if "companion_names" in data and "companions" in data:
            if len(data["companion_names"]) > data["companions"]:
                raise ValidationError(MORE_NAMES_THAN_COMPANIONS, "companion_names")

    @validates_schema
    def sensitive_data_needs_consent(self, data: dict, partial: Any = None, **kwargs: Any) -> None:
        if partial:
            # a change may rely on the consent already given: the service checks it against the
            # stored registration
            return
        consents = data.get("consents") or {}
        if data.get("accessibility_needs") and not consents.get("sensitive"):
            raise ValidationError(
                "Accessibility needs are kept only with consent to sensitive information "
                '("consents": {"sensitive": true}).',
                "accessibility_needs",
            )
        if data.get("attendee_type") in SENSITIVE_ATTENDEE_TYPES and not consents.get("sensitive"):
            raise ValidationError(SENSITIVE_TYPE_WITHOUT_CONSENT, "attendee_type")


class CompanySchema(_RegistrationSchema):
    description = Text(required=True, max_length=2000, multiline=True)
    tags = TagList(required=True)
    stage = Choice(taxonomy.STAGES, required=True)
    contact_name = Text(max_length=100)
    business_number = fields.String(
        validate=validate.Regexp(r"^\d{3}-?\d{2}-?\d{5}$", error="Use the form 123-45-67890."),
        metadata={"description": "Korean business registration number (사업자등록번호)."},
    )
    website = fields.Url(schemes={"http", "https"}, validate=validate.Length(max=300))


class InvestorSchema(_RegistrationSchema):
    organisation = Text(required=True, max_length=200)
    interests = TagList(required=True)
    stages = fields.List(Choice(taxonomy.STAGES), required=True, validate=validate.Length(min=1, max=6))
    investor_type = Choice(taxonomy.INVESTOR_TYPES)
    ticket_min_krw = Amount()
    ticket_max_krw = Amount()

    @validates_schema
    def ticket_range_is_ordered(self, data: dict, **kwargs: Any) -> None:
        low, high = data.get("ticket_min_krw"), data.get("ticket_max_krw")
        if low is not None and high is not None and low > high:
            raise ValidationError("Must not be below ticket_min_krw.", "ticket_max_krw")


REGISTRATION_SCHEMAS: dict[str, type[Schema]] = {
    "attendee": AttendeeSchema,
    "company": CompanySchema,
    "investor": InvestorSchema,
}
# fields that may not be changed after registration
IMMUTABLE_FIELDS = ("event_id", "expo_id")


def reference_of(registration_id: str) -> str:
    """The registration number people read out and type: ``TCX-`` and eight letters or digits,
    the same wherever it is worked out (pages, e-mails, organiser search)."""
    digest = hashlib.sha256(registration_id.encode()).digest()
    code = base64.b32encode(digest[:5]).decode()
    return f"TCX-{code[:4]}-{code[4:]}"


def load_registration(kind: str, data: Any, *, partial: bool = False) -> dict:
    """Validate a new registration (or, with ``partial``, a change to one)."""
    if partial:
        return REGISTRATION_SCHEMAS[kind](partial=True, exclude=IMMUTABLE_FIELDS).load(data)
    return REGISTRATION_SCHEMAS[kind]().load(data)


class RegistrationOutSchema(Schema):
    """A registration as its owner or an organiser sees it."""

    id = fields.String()
    kind = fields.String()
    status = fields.String(metadata={"description": "active or cancelled"})
    event_id = fields.String(metadata={"description": "The event it is for."})
    revision = fields.Integer()
    created_at = fields.String()
    updated_at = fields.String()
    name = fields.String()
    email = fields.String()
    language = fields.String()
    consents = fields.Dict()
    attendee_type = fields.String()
    interests = fields.List(fields.String())
    accessibility_needs = fields.Dict(allow_none=True)
    organisation = fields.String()
    description = fields.String()
    tags = fields.List(fields.String())
    stage = fields.String()
    stages = fields.List(fields.String())
    investor_type = fields.String()
    ticket_min_krw = fields.Integer()
    ticket_max_krw = fields.Integer()
    contact_name = fields.String()
    business_number = fields.String()
    website = fields.String()
    reference = fields.String(metadata={"description": "The registration number, e.g. TCX-ABCD-EFGH."})
    admission = fields.String(
        metadata={
            "description": "At an event with a capacity: admitted (places held for the person and their "
            "companions), waiting (on the waiting list) or offered (places held until offer_expires_at "
            "for someone promoted from the waiting list, who confirms them); absent once cancelled."
        }
    )
    waiting_since = fields.String(metadata={"description": "When it joined the waiting list."})
    waiting_position = fields.Integer(metadata={"description": "Its place in the waiting list (1: next)."})
    admitted_at = fields.String(metadata={"description": "When it left the waiting list with its places."})
    offer_expires_at = fields.String(
        metadata={"description": "Offered places not confirmed by then pass on to the next in line."}
    )
    companions = fields.Integer()
    checkin_code = fields.String(
        metadata={
            "description": "The badge's check-in code (its QR code shows it as ABCD-EFGH-JKMN), while "
            "the registration holds its places: shown at the door. POST .../badge replaces it."
        }
    )
    checked_in_at = fields.String(metadata={"description": "When its holder was checked in at the door."})
    companion_names = fields.List(fields.String())
    carer_name = fields.String(
        metadata={"description": "Who registered on behalf of the attendee: the contact, at email."}
    )
    email_verified_at = fields.String(
        metadata={"description": "When the e-mail address was last proved by a sign-in link."}
    )


class RegisteredSchema(RegistrationOutSchema):
    manage_token = fields.String(
        metadata={"description": "Shown once: keep it to view, change or cancel this registration."}
    )


class CheckInSchema(Schema):
    """A badge read at the door: its check-in code, however it was typed (shared.badges)."""

    code = fields.String(
        required=True,
        validate=validate.Length(max=100),
        metadata={"description": "The code under the badge's QR code, such as ABCD-EFGH-JKMN."},
    )

    @post_load
    def normalised(self, data: dict, **kwargs: Any) -> dict:
        code = badges.normalise(data["code"])
        if code is None:
            raise ValidationError(NOT_A_BADGE, field_name="code")
        return {"code": code}


class DoorAnswerSchema(Schema):
    """What the door is answered for a badge."""

    outcome = fields.String(
        metadata={
            "description": "checked_in (now), already_checked_in (at checked_in_at), unknown_badge "
            "(no registration has it: mistyped, revoked or cancelled), other_event (the badge is "
            "for ``event``) or not_admitted (waiting, or places offered and not confirmed)."
        }
    )
    message = fields.String()
    registration_id = fields.String()
    reference = fields.String()
    kind = fields.String()
    name = fields.String()
    organisation = fields.String(allow_none=True)
    language = fields.String()
    companions = fields.Integer(allow_none=True)
    companion_names = fields.List(fields.String(), allow_none=True)
    carer_name = fields.String(allow_none=True)
    accessibility_needs = fields.Dict(
        allow_none=True, metadata={"description": "Sensitive: each answer that carries them is audited."}
    )
    checked_in_at = fields.String()
    event = fields.Dict(allow_none=True, metadata={"description": "other_event: the event the badge is for."})


class DoorUndoSchema(Schema):
    outcome = fields.String(metadata={"description": "undone, or not_checked_in (nothing to undo)"})
    registration_id = fields.String()


class SignInRequestSchema(Schema):
    """Asking for a one-time sign-in link."""

    email = Email(required=True)
    language = Choice(LANGUAGES, load_default="ko")


class _PageNumber(fields.Integer):
    """A whole number, given as one or as the digits a query string carries ("2"); 2.5, "2.5",
    "two" and true are refused."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 9:
            value = int(value)
        return super()._deserialize(value, attr, data, **kwargs)


class _NoEmptyFilters(Schema):
    @pre_load
    def drop_empty_filters(self, data: Any, **kwargs: Any) -> Any:
        # a filter form sends its empty fields as "": an empty filter is no filter
        if isinstance(data, dict):
            return {
                key: value
                for key, value in data.items()
                if value is not None and not (isinstance(value, str) and not value.strip())
            }
        return data


class RegistrationQuerySchema(_NoEmptyFilters):
    """An organiser's search of registrations (erased ones are never found)."""

    kind = Choice(KINDS)
    status = Choice(("active", "cancelled"))
    q = Text(
        max_length=100,
        metadata={
            "description": "Part of a name, e-mail address or organisation (any case), "
            "or a whole registration number."
        },
    )
    attendee_type = Choice(SEARCHABLE_ATTENDEE_TYPES)
    event_id = Text(max_length=64, metadata={"description": "Only the registrations for this event."})
    page = _PageNumber(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = _PageNumber(load_default=25, validate=validate.Range(min=1, max=100))


# the columns of an organiser's list and export, in this order
REGISTRATION_ROW_FIELDS = (
    "id",
    "reference",
    "kind",
    "status",
    "name",
    "email",
    "organisation",
    "attendee_type",
    "language",
    "admission",
    "companions",
    "carer_name",
    "has_accessibility_needs",
    "email_verified_at",
    "created_at",
)
# what an organiser downloads of one event: its active registrations, its waiting list in line
# order, what to prepare for accessibility (counts; names only with ORGANISER_SENSITIVE_EMAILS)
# and its check-ins
EVENT_EXPORTS = ("registrants", "waiting_list", "accessibility", "check_ins")


class EventExportSchema(Schema):
    """One of an event's exports, as an organiser asks for it."""

    event_id = Text(required=True, max_length=100)
    export = Choice(EVENT_EXPORTS, required=True)
    names = Flag(
        load_default=False,
        metadata={
            "description": "accessibility only: the people with their needs rather than counts; "
            "for organisers holding the permission (ORGANISER_SENSITIVE_EMAILS), and audited"
        },
    )

    @validates_schema
    def names_are_of_needs(self, data: dict, **kwargs: Any) -> None:
        if data.get("names") and data.get("export") != "accessibility":
            raise ValidationError("Only the accessibility export lists names with needs.", "names")


class CallerSchema(Schema):
    """Who calls a registration RPC, as the gateway vouches: the holder of a manage token
    (``token``), someone signed in by a one-time link (``email``), or an organiser
    (``organiser``: true; ``organiser_email`` when signed in by a link, absent for the shared
    organiser token)."""

    class Meta:
        unknown = EXCLUDE

    token = fields.String(validate=validate.Length(min=1, max=200))
    email = Email()
    organiser = Flag(load_default=False)
    organiser_email = Email(load_default=None, allow_none=True)
