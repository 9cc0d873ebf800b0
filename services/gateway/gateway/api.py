"""The REST API, version 1. Each route validates its input, checks who is calling, and asks the
service that owns the data."""

from flask import Response, redirect, request, url_for
from flask_smorest import Blueprint, abort

from gateway import upstream
from gateway.auth import caller, registrant_id, require_organiser, require_party
from gateway.schemas import (
    UNSUBSCRIBE_TOKEN,
    CompanyMatchesSchema,
    DeadLetterSchema,
    DeadLettersSchema,
    DeleteQuerySchema,
    ExportQuerySchema,
    InterestAnswerSchema,
    InterestSchema,
    InvestorMatchesSchema,
    ListQuerySchema,
    NotificationsQuerySchema,
    NotificationsSchema,
    OneClickSchema,
    PreferencesQuerySchema,
    PreferencesSchema,
    SummarySchema,
    TaxonomySchema,
    UnsubscribedSchema,
    UnsubscribeQuerySchema,
)
from gateway.web import organiser
from gateway.web.security import registrations_limit
from shared import taxonomy
from shared.contracts.programme import (
    DoorCountsSchema,
    EventSchema,
    OrganiserEventSchema,
    OrganiserEventsSchema,
    PublicEventSchema,
    PublicEventsSchema,
)
from shared.contracts.registration import (
    IMMUTABLE_FIELDS,
    REGISTRATION_SCHEMAS,
    CheckInSchema,
    DoorAnswerSchema,
    DoorUndoSchema,
    RegisteredSchema,
    RegistrationOutSchema,
)
from shared.deadletters import SERVICES as DEAD_LETTER_SERVICES

api = Blueprint("api", __name__, url_prefix="/api/v1", description="Tech Companion Expo API")

BEARER = [{"bearerAuth": []}]
COLLECTIONS = {"attendees": "attendee", "companies": "company", "investors": "investor"}


def _registration_routes(collection: str, kind: str) -> None:
    """POST, GET, PATCH and DELETE for one kind of registration."""
    schema = REGISTRATION_SCHEMAS[kind]
    partial_schema = schema(partial=True, exclude=IMMUTABLE_FIELDS)

    @api.route(f"/{collection}", methods=["POST"], endpoint=f"register_{kind}")
    @api.arguments(schema, description=f"A new {kind} registration.")
    @api.response(201, RegisteredSchema)
    @api.alt_response(404, description="No such event (drafts are not shown).")
    @api.alt_response(
        409,
        description="Already registered with this e-mail for this event, or the event takes no "
        "registrations now (the message says why).",
    )
    @api.alt_response(
        429, description="Too many registrations from this client this minute; see the Retry-After header."
    )
    @api.alt_response(
        200,
        schema=RegistrationOutSchema,
        description="The registration an earlier request with the same Idempotency-Key made (no token).",
        success=True,
    )
    @api.doc(
        parameters=[
            {
                "in": "header",
                "name": "Idempotency-Key",
                "required": False,
                "schema": {"type": "string", "minLength": 8, "maxLength": 100},
                "description": "A key of your own (a UUID): the same request sent again with it "
                "answers the first registration instead of 409.",
            }
        ]
    )
    @registrations_limit()
    def register(data: dict) -> tuple[dict, int]:
        key = request.headers.get("Idempotency-Key")
        answer = upstream.call("registration", "create", kind, data, key)
        return answer, 200 if answer.pop("repeated", False) else 201

    @api.route(f"/{collection}/<string:registration_id>", methods=["GET"], endpoint=f"get_{kind}")
    @api.response(200, RegistrationOutSchema)
    @api.doc(security=BEARER)
    def read(registration_id: str) -> dict:
        return upstream.call("registration", "get", kind, registration_id, caller().as_rpc())

    @api.route(f"/{collection}/<string:registration_id>", methods=["PATCH"], endpoint=f"change_{kind}")
    @api.arguments(partial_schema, description="Only the fields to change.")
    @api.response(200, RegistrationOutSchema)
    @api.alt_response(
        429, description="Tags or stages changed too often this hour; see the Retry-After header."
    )
    @api.doc(security=BEARER)
    def change(changes: dict, registration_id: str) -> dict:
        who = caller()
        return upstream.call("registration", "update", kind, registration_id, changes, who.as_rpc())

    @api.route(f"/{collection}/<string:registration_id>", methods=["DELETE"], endpoint=f"cancel_{kind}")
    @api.arguments(DeleteQuerySchema, location="query")
    # one schema for both answers: OpenAPI has one 200 per operation, and an erased registration's
    # answer ({"id", "status": "erased"}) is a registration with every other field gone
    @api.response(
        200,
        RegistrationOutSchema,
        description='Cancelled: the registration. Erased (erase=true): only its id and status "erased".',
    )
    @api.doc(security=BEARER)
    def cancel(query: dict, registration_id: str) -> dict:
        who = caller()
        method = "erase" if query["erase"] else "cancel"
        return upstream.call("registration", method, kind, registration_id, who.as_rpc())

    @api.route(
        f"/{collection}/<string:registration_id>/confirm", methods=["POST"], endpoint=f"confirm_{kind}"
    )
    @api.response(200, RegistrationOutSchema, description="The places offered are taken: admitted.")
    @api.alt_response(409, description="No place is offered to this registration, or the offer expired.")
    @api.doc(security=BEARER)
    def confirm(registration_id: str) -> dict:
        return upstream.call("registration", "confirm", kind, registration_id, caller().as_rpc())

    @api.route(f"/{collection}/<string:registration_id>/badge", methods=["POST"], endpoint=f"badge_{kind}")
    @api.response(200, RegistrationOutSchema, description="A new check-in code; the old one lets nobody in.")
    @api.alt_response(409, description="The registration is cancelled.")
    @api.doc(security=BEARER)
    def reissue_badge(registration_id: str) -> dict:
        """A new badge in place of one lost or shared (e-mailed to the registrant)."""
        return upstream.call("registration", "reissue_badge", kind, registration_id, caller().as_rpc())


for _collection, _kind in COLLECTIONS.items():
    _registration_routes(_collection, _kind)


@api.route("/investors/<string:investor_id>/matches", methods=["GET"])
@api.arguments(ListQuerySchema, location="query")
@api.response(200, CompanyMatchesSchema)
@api.doc(security=BEARER)
def investor_matches(query: dict, investor_id: str) -> dict:
    """Companies suggested to the investor, best first, each with its reasons."""
    who = require_party("investor", investor_id)
    vouched = who.acting_for(investor_id)
    return {"items": _with_profiles(investor_id, "investor", "company", vouched, query["limit"])}


@api.route("/companies/<string:company_id>/matches", methods=["GET"])
@api.arguments(ListQuerySchema, location="query")
@api.response(200, InvestorMatchesSchema)
@api.doc(security=BEARER)
def company_matches(query: dict, company_id: str) -> dict:
    """Investors suggested to the company, best first, each with its reasons."""
    who = require_party("company", company_id)
    vouched = who.acting_for(company_id)
    return {"items": _with_profiles(company_id, "company", "investor", vouched, query["limit"])}


@api.route("/investors/<string:investor_id>/matches/<string:company_id>/interest", methods=["POST"])
@api.response(201, InterestSchema, description="Interest recorded; the company is told.")
@api.alt_response(200, schema=InterestSchema, description="Already recorded.", success=True)
@api.doc(security=BEARER)
def express_interest(investor_id: str, company_id: str) -> tuple[dict, int]:
    who = require_party("investor", investor_id)
    interest = upstream.call(
        "matching", "express_interest", investor_id, company_id, who.acting_for(investor_id)
    )
    return interest, 201 if interest.pop("created") else 200


@api.route("/companies/<string:company_id>/matches/<string:investor_id>/response", methods=["POST"])
@api.arguments(InterestAnswerSchema)
@api.response(200, InterestSchema)
@api.doc(security=BEARER)
def answer_interest(answer: dict, company_id: str, investor_id: str) -> dict:
    who = require_party("company", company_id)
    caller = who.acting_for(company_id)
    return upstream.call("matching", "answer_interest", company_id, investor_id, answer["accept"], caller)


@api.route("/notifications", methods=["GET"])
@api.arguments(NotificationsQuerySchema, location="query")
@api.response(200, NotificationsSchema)
@api.doc(security=BEARER)
def notifications(query: dict) -> dict:
    """The caller's own notifications, newest first (organisers: anyone's, by recipient_id)."""
    recipient, _ = _recipient(query)
    vouched = caller().acting_for(recipient)
    return {"items": upstream.call("notification", "inbox_of", recipient, vouched, query["limit"])}


@api.route("/notification-preferences", methods=["GET"])
@api.arguments(PreferencesQuerySchema, location="query")
@api.response(200, PreferencesSchema)
@api.doc(security=BEARER)
def notification_preferences(query: dict) -> dict:
    """How the caller hears of new suggestions by e-mail (organisers: anyone's, by recipient_id)."""
    recipient, _ = _recipient(query)
    return upstream.call("notification", "preferences", recipient, caller().acting_for(recipient))


@api.route("/notification-preferences", methods=["PUT"])
@api.arguments(PreferencesSchema)
@api.arguments(PreferencesQuerySchema, location="query")
@api.response(200, PreferencesSchema)
@api.doc(security=BEARER)
def change_notification_preferences(preferences: dict, query: dict) -> dict:
    """Choose how new suggestions come by e-mail; confirmations and answers always come."""
    recipient, registrant = _recipient(query)
    # a registrant's own preference may come before notification has their contact; an
    # organiser may only change the preference of someone notification knows
    vouched = caller().acting_for(recipient)
    return upstream.call(
        "notification", "set_preferences", recipient, preferences, vouched, create=registrant
    )


def _recipient(query: dict) -> tuple[str, bool]:
    """Whose notifications or preferences: the calling registrant's, or for organisers the
    recipient_id they name; and whether the caller is that registrant."""
    registrant = registrant_id()
    if registrant is not None:
        return registrant, True
    if query.get("recipient_id") is None:
        abort(
            422,
            message="Organisers must name a recipient_id.",
            errors={"query": {"recipient_id": ["Missing data for required field."]}},
        )
    return query["recipient_id"], False


@api.route("/unsubscribe", methods=["POST"])
@api.arguments(UnsubscribeQuerySchema, location="query")
@api.arguments(
    OneClickSchema,
    location="form",
    required=False,
    description="`List-Unsubscribe=One-Click`, as mail clients send it (RFC 8058); may be empty.",
)
@api.response(200, UnsubscribedSchema, description="Suggestion e-mails are now off; nothing else changed.")
@api.alt_response(400, description="Not an unsubscribe token.")
@api.alt_response(404, description="Not a valid unsubscribe link (or its recipient was erased).")
def unsubscribe(query: dict, form: dict) -> dict:
    """One-click unsubscribe from suggestion e-mails (RFC 8058), by the link in their
    List-Unsubscribe header; no other token needed. Other e-mails still come."""
    result = upstream.call("notification", "unsubscribe", _unsubscribe_token(query))
    return {
        **result,
        "message": "추천 메일을 더 이상 보내지 않습니다. You will get no more suggestion e-mails.",
    }


@api.route("/unsubscribe", methods=["GET"])
@api.arguments(UnsubscribeQuerySchema, location="query")
@api.alt_response(400, description="Not an unsubscribe token.")
@api.doc(
    responses={
        303: {
            "description": "To the unsubscribe page (/unsubscribe?token=...), which asks before "
            "changing anything: opening the link changes nothing, as link scanners follow links."
        }
    }
)
def unsubscribe_page(query: dict) -> Response:
    """The unsubscribe link opened in a browser: sent on to the page that asks first."""
    return redirect(url_for("public.unsubscribe", token=_unsubscribe_token(query)), 303)


def _unsubscribe_token(query: dict) -> str:
    token = query["token"]
    if not UNSUBSCRIBE_TOKEN.fullmatch(token):
        abort(400, message="This is not an unsubscribe token.")
    return token


@api.route("/tags", methods=["GET"])
@api.response(200, TaxonomySchema)
def tags() -> dict:
    """The tag taxonomy, with Korean and English labels and accepted synonyms."""
    return taxonomy.as_document()


@api.route("/events", methods=["GET"])
@api.response(200, PublicEventsSchema)
def events() -> dict:
    """The town halls and expos to come: open, closed or cancelled (never drafts, nothing over),
    the soonest first, each saying whether it takes registrations now."""
    return {"items": upstream.call("registration", "public_events")}


@api.route("/events/<string:event_id>", methods=["GET"])
@api.response(200, PublicEventSchema)
@api.alt_response(404, description="No such event (drafts are not shown).")
def event(event_id: str) -> dict:
    """One event, over or not: when, where, how to get in step-free, and whether it takes
    registrations now."""
    return upstream.call("registration", "public_event", event_id)


@api.route("/organiser/events", methods=["GET"])
@api.response(200, OrganiserEventsSchema)
@api.doc(security=BEARER)
def organiser_events() -> dict:
    """Every event, drafts and past ones too, the soonest first, with the active registrations
    for each."""
    return {"items": upstream.call("registration", "list_events", require_organiser().as_rpc())}


@api.route("/organiser/events", methods=["POST"])
@api.arguments(EventSchema, description="A new event: a draft unless its status is open.")
@api.response(201, OrganiserEventSchema)
@api.doc(security=BEARER)
def create_event(data: dict) -> tuple[dict, int]:
    organiser = require_organiser().as_rpc()
    return upstream.call("registration", "create_event", data, organiser), 201


@api.route("/organiser/events/<string:event_id>", methods=["GET"])
@api.response(200, OrganiserEventSchema)
@api.alt_response(404, description="No such event.")
@api.doc(security=BEARER)
def organiser_event(event_id: str) -> dict:
    return upstream.call("registration", "get_event", event_id, require_organiser().as_rpc())


@api.route("/organiser/events/<string:event_id>", methods=["PATCH"])
@api.arguments(
    EventSchema(partial=True),
    description="Only the fields to change (null removes an optional one; the venue changes field "
    "by field). A status change: draft to open or cancelled, open to closed or cancelled, closed "
    "to open or cancelled.",
)
@api.response(200, OrganiserEventSchema)
@api.alt_response(404, description="No such event.")
@api.doc(security=BEARER)
def change_event(changes: dict, event_id: str) -> dict:
    organiser = require_organiser().as_rpc()
    return upstream.call("registration", "update_event", event_id, changes, organiser)


@api.route("/organiser/events/<string:event_id>/purge", methods=["POST"])
@api.response(202, OrganiserEventSchema)
@api.alt_response(404, description="No such event.")
@api.alt_response(409, description="Someone may still come: the event is neither over nor cancelled.")
@api.doc(security=BEARER)
def purge_event(event_id: str) -> tuple[dict, int]:
    """Destroy the personal data of the event's registrations now, instead of
    RETENTION_DAYS_AFTER_EXPO days after it ended: within a minute every registration for it is
    erased in every service, and the event keeps only anonymous counts."""
    organiser = require_organiser().as_rpc()
    return upstream.call("registration", "request_event_purge", event_id, organiser), 202


# what each answer at the door is sent with, and says to a program reading it
DOOR_STATUS = {
    "checked_in": (201, "Checked in."),
    "already_checked_in": (200, "Already checked in, at checked_in_at."),
    "unknown_badge": (
        404,
        "No registration has this badge: mistyped, revoked, or its registration cancelled.",
    ),
    "other_event": (409, "This badge is for another event (event)."),
    "not_admitted": (409, "This person has no place yet: waiting, or places offered and not confirmed."),
}


@api.route("/organiser/events/<string:event_id>/check-ins", methods=["POST"])
@api.arguments(CheckInSchema, description="The code of the badge read at the door.")
@api.response(201, DoorAnswerSchema, description="Checked in now.")
@api.alt_response(200, schema=DoorAnswerSchema, description="Already checked in.", success=True)
@api.alt_response(
    404, schema=DoorAnswerSchema, description="No registration has this badge, or no such event."
)
@api.alt_response(
    409, schema=DoorAnswerSchema, description="The badge is for another event, or its holder has no place."
)
@api.doc(security=BEARER)
def check_in(data: dict, event_id: str) -> tuple[dict, int]:
    """Check in the holder of a badge, once; the answer shows the staff at the door who they are,
    their companions and their accessibility needs (each such answer is audited)."""
    answer = upstream.call("registration", "check_in", event_id, data["code"], require_organiser().as_rpc())
    status, message = DOOR_STATUS[answer["outcome"]]
    return {**answer, "message": message}, status


@api.route("/organiser/events/<string:event_id>/check-ins/<string:registration_id>", methods=["DELETE"])
@api.response(200, DoorUndoSchema)
@api.alt_response(404, description="No such registration for this event.")
@api.doc(security=BEARER)
def undo_check_in(event_id: str, registration_id: str) -> dict:
    """Take back a check-in recorded by mistake."""
    organiser = require_organiser().as_rpc()
    return upstream.call("registration", "undo_check_in", event_id, registration_id, organiser)


@api.route("/organiser/events/<string:event_id>/check-ins", methods=["GET"])
@api.response(200, DoorCountsSchema)
@api.alt_response(404, description="No such event.")
@api.doc(security=BEARER)
def door_counts(event_id: str) -> dict:
    """How many of the event's registrations, and of the people they bring, are checked in."""
    return upstream.call("registration", "door_counts", event_id, require_organiser().as_rpc())


EXPORT_PATHS = {
    "registrants": "registrants",
    "waiting-list": "waiting_list",
    "accessibility": "accessibility",
    "check-ins": "check_ins",
}
EXPORT_FILES = {
    "content": {
        "text/csv": {"schema": {"type": "string"}},
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
            "schema": {"type": "string", "format": "binary"}
        },
    }
}


@api.route("/organiser/events/<string:event_id>/exports/<string:export>", methods=["GET"])
@api.arguments(ExportQuerySchema, location="query")
@api.alt_response(403, description="Names with accessibility needs: only for organisers with the permission.")
@api.alt_response(404, description="No such event, or no such export.")
@api.doc(
    security=BEARER,
    params={"export": {"description": "registrants, waiting-list, accessibility or check-ins"}},
    responses={
        200: {
            "description": "The file, its header row in the language of Accept-Language: registrants "
            "(active, with their place), the waiting list in line order, what to prepare for "
            "accessibility (counts of each need and of companions; by name with names=true), or the "
            "check-ins. Every export that lists people is recorded in the audit log.",
            **EXPORT_FILES,
        }
    },
)
def event_export(query: dict, event_id: str, export: str) -> Response:
    """One of an event's exports, as a CSV file or an Excel workbook."""
    organiser_caller = require_organiser().as_rpc()
    if export not in EXPORT_PATHS:
        abort(404, message=f"No export {export!r}; try one of {', '.join(EXPORT_PATHS)}.")
    if query["names"] and export != "accessibility":
        abort(
            422,
            message="Only the accessibility export lists names with needs.",
            errors={"query": {"names": ["Only the accessibility export lists names with needs."]}},
        )
    return organiser.event_export_file(
        event_id, EXPORT_PATHS[export], query["names"], query["format"], organiser_caller
    )


@api.route("/organiser/summary", methods=["GET"])
@api.response(200, SummarySchema)
@api.doc(security=BEARER)
def organiser_summary() -> dict:
    """Live counts for the organisers' dashboard."""
    require_organiser()
    registration = upstream.call("registration", "stats")
    matching = upstream.call("matching", "stats")
    notification = upstream.call("notification", "stats")
    return {
        "registrations": registration["registrations"],
        "accessibility_needs": registration["accessibility_needs"],
        "notifications": notification["notifications"],
        "dead_letters": {"matching": matching["dead_letters"], "notification": notification["dead_letters"]},
        "outbox_pending": {
            "registration": registration["outbox_pending"],
            "matching": matching["outbox_pending"],
        },
        "matching": {
            key: matching[key] for key in ("active_companies", "active_investors", "suggestions", "interests")
        },
    }


@api.route("/organiser/dead-letters", methods=["GET"])
@api.response(200, DeadLettersSchema)
@api.doc(security=BEARER)
def dead_letters() -> dict:
    """Messages each consuming service parked after its attempts, newest first."""
    organiser = require_organiser().as_rpc()
    items = [
        {"service": service, **letter}
        for service in DEAD_LETTER_SERVICES
        for letter in upstream.call(service, "dead_letters", organiser)
    ]
    return {"items": sorted(items, key=lambda letter: letter["parked_at"] or "", reverse=True)}


@api.route("/organiser/dead-letters/<string:service>/<string:letter_id>", methods=["GET"])
@api.response(200, DeadLetterSchema)
@api.doc(security=BEARER)
def dead_letter(service: str, letter_id: str) -> dict:
    organiser = require_organiser().as_rpc()
    return {
        "service": service,
        **upstream.call(_dead_letter_service(service), "dead_letter", letter_id, organiser),
    }


@api.route("/organiser/dead-letters/<string:service>/<string:letter_id>/replay", methods=["POST"])
@api.response(200, DeadLetterSchema, description="Put back on the service's queue.")
@api.alt_response(409, description="Not parked (already replayed).")
@api.doc(security=BEARER)
def replay_dead_letter(service: str, letter_id: str) -> dict:
    organiser = require_organiser().as_rpc()
    return {
        "service": service,
        **upstream.call(_dead_letter_service(service), "replay_dead_letter", letter_id, organiser),
    }


def _dead_letter_service(service: str) -> str:
    if service not in DEAD_LETTER_SERVICES:
        abort(404, message=f"No consuming service {service!r}; try one of {', '.join(DEAD_LETTER_SERVICES)}.")
    return service


def _with_profiles(party_id: str, kind: str, counterpart_kind: str, caller: str, limit: int) -> list[dict]:
    """The party's ``limit`` best suggestions with their counterparts' public profiles, for
    ``caller`` (the party or an organiser, as the gateway vouches)."""
    items = upstream.call("matching", "suggestions", kind, party_id, caller, limit)
    id_field = f"{counterpart_kind}_id"
    profiles = upstream.call("registration", "public_profiles", [item[id_field] for item in items], caller)
    return [
        {**item, counterpart_kind: profiles[item[id_field]]} for item in items if item[id_field] in profiles
    ]
