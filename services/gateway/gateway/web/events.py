"""The events of the programme for everyone: the town halls and expos to come (``/events``), one
event with when and where it is and how to get in step-free (``/events/<id>``), and what the
registration pages need to let people choose the event they register for.

Events belong to the registration service, which answers only what everyone may see (never a
draft). Times come stored in UTC and are shown in Seoul's time, in the page's language.
"""

from typing import Any

from flask import Blueprint, abort, render_template
from flask_babel import format_date, format_time, gettext, lazy_gettext
from werkzeug.exceptions import HTTPException

from gateway import upstream
from gateway.web.i18n import current_language
from shared import clock
from shared.contracts.programme import VENUE_FACTS

blueprint = Blueprint("events", __name__)

KIND_LABELS = {"town_hall": lazy_gettext("Town hall"), "expo": lazy_gettext("Expo")}
# whether an event takes registrations now (the registration service works it out)
REGISTRATION_STATE_LABELS = {
    "open": lazy_gettext("Registration open"),
    "not_yet_open": lazy_gettext("Registration not open yet"),
    "closed": lazy_gettext("Registration closed"),
    "cancelled": lazy_gettext("Cancelled"),
    "draft": lazy_gettext("Draft: only organisers see it"),
}
FACT_LABELS = {
    "step_free_entrance": lazy_gettext("Step-free entrance"),
    "accessible_toilets": lazy_gettext("Accessible toilets"),
    "hearing_loop": lazy_gettext("Hearing loop"),
}
FACT_ANSWERS = {True: lazy_gettext("Yes"), False: lazy_gettext("No"), None: lazy_gettext("Not known yet")}
# the registration pages an event links to, with what each is for
JOURNEYS = (
    ("attendee.about_you", {}, lazy_gettext("Register as a visitor")),
    ("business.register", {"kind": "company"}, lazy_gettext("Present your company")),
    ("business.register", {"kind": "investor"}, lazy_gettext("Meet companies as an investor")),
)


def _label(labels: dict, value: Any) -> str:
    return str(labels[value]) if value in labels else str(value or "")


@blueprint.app_template_global("event_kind")
def kind_label(event: dict) -> str:
    return _label(KIND_LABELS, event.get("kind"))


@blueprint.app_template_global("registration_state_label")
def state_label(event: dict) -> str:
    return _label(REGISTRATION_STATE_LABELS, event.get("registration_state"))


@blueprint.app_template_global()
def in_language(values: dict, field: str) -> str:
    """``field_ko`` or ``field_en`` of ``values``, the page's language first, else the other."""
    first, second = ("ko", "en") if current_language() == "ko" else ("en", "ko")
    return values.get(f"{field}_{first}") or values.get(f"{field}_{second}") or ""


@blueprint.app_template_global("event_name")
def name_of(event: dict) -> str:
    return in_language(event, "name")


@blueprint.app_template_global("event_when")
def when_text(event: dict) -> str:
    """When the event is, in Seoul's time: its date and its start (and end) time."""
    if not event.get("starts_at"):
        return gettext("Date to be announced")
    start = clock.parse_iso(event["starts_at"])
    text = f"{format_date(start, 'full')} {format_time(start, 'HH:mm')}"
    if event.get("ends_at"):
        end = clock.parse_iso(event["ends_at"])
        same_day = clock.in_seoul(event["starts_at"]).date() == clock.in_seoul(event["ends_at"]).date()
        text += (
            f"–{format_time(end, 'HH:mm')}"
            if same_day
            else f" – {format_date(end, 'full')} {format_time(end, 'HH:mm')}"
        )
    return text


@blueprint.app_template_global()
def moment_text(value: str) -> str:
    """A stored time as a date and time in Seoul, in the page's language."""
    moment = clock.parse_iso(value)
    return f"{format_date(moment, 'long')} {format_time(moment, 'HH:mm')}"


def venue_facts(venue: dict) -> list[tuple[str, str]]:
    """Each access fact of a venue, as a label and its answer (not known yet, when not given)."""
    return [(str(FACT_LABELS[fact]), str(FACT_ANSWERS[venue.get(fact)])) for fact in VENUE_FACTS]


def taking_registrations() -> list[dict]:
    """The events people may register for now, the soonest first."""
    return [
        event
        for event in upstream.call("registration", "public_events")
        if event["registration_state"] == "open"
    ]


@blueprint.app_template_global()
def event_options(events: list[dict]) -> list[tuple[str, str, str]]:
    """Events as the choices of a registration form: the name, and when and where as a hint."""
    options = []
    for event in events:
        where = in_language(event.get("venue") or {}, "name")
        options.append((event["id"], name_of(event), f"{when_text(event)}{', ' + where if where else ''}"))
    return options


def find_event(events: list[dict], event_id: Any) -> dict | None:
    return next((event for event in events if event["id"] == event_id), None)


def chosen_event_id(events: list[dict], *wanted: Any) -> str:
    """The event a registration form shows chosen: the first of ``wanted`` that takes
    registrations, else the only event there is to choose, else none ("")."""
    for event_id in wanted:
        if find_event(events, event_id):
            return event_id
    return events[0]["id"] if len(events) == 1 else ""


def event_of(event_id: Any) -> dict | None:
    """The event as everyone sees it, or None for one nobody may see (unknown, or a draft)."""
    if not isinstance(event_id, str) or not 1 <= len(event_id) <= 100:
        return None
    try:
        return upstream.call("registration", "public_event", event_id)
    except HTTPException as error:
        if error.code == 404:
            return None
        raise


def events_of(registrations: list[dict]) -> dict[str, dict]:
    """The events of ``registrations`` as everyone sees them, by id (a person has registered for
    a few: one call for each)."""
    wanted = {registration.get("event_id") for registration in registrations} - {None}
    found = {event_id: event_of(event_id) for event_id in sorted(wanted)}
    return {event_id: event for event_id, event in found.items() if event is not None}


def takes_registrations(event: dict | None) -> bool:
    return event is not None and event["registration_state"] == "open"


# --- the pages --------------------------------------------------------------------------------


@blueprint.get("/events")
def listing() -> str:
    return render_template("events/list.html", events=upstream.call("registration", "public_events"))


@blueprint.get("/events/<string:event_id>")
def event(event_id: str) -> str:
    if len(event_id) > 100:
        abort(404)
    found = upstream.call("registration", "public_event", event_id)
    venue = found.get("venue") or {}
    return render_template(
        "events/event.html",
        event=found,
        venue=venue,
        facts=venue_facts(venue),
        opens_at=moment_text(found["registration_opens_at"]) if found.get("registration_opens_at") else None,
        closes_at=moment_text(found["registration_closes_at"])
        if found.get("registration_closes_at")
        else None,
        journeys=[
            (endpoint, {**values, "event": found["id"]}, str(label)) for endpoint, values, label in JOURNEYS
        ],
    )
