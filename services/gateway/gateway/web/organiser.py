"""Organisers' pages: the dashboard, the events (list, create, change, open, close, cancel), the
registrant list and its export, the audit log of sensitive reads, and dead letters.

Every page is for organisers only (ORGANISER_EMAILS, signed in by a one-time link). The registration
service checks the organiser again on every call (the ``organiser_caller``), and audits each read
of accessibility needs and each export itself.

The dashboard asks each service once for its counts (three RPCs at once, so it takes as long as
the slowest) and the broker once for its queues; nothing is asked per registration. The answers
are kept for DASHBOARD_SECONDS and asked by one request at a time, so that reloading it does not
load the services. A part that cannot be read is said so, and the rest is shown.
"""

import logging
import math
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_datetime, gettext, lazy_gettext
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from gateway import spreadsheets, upstream
from gateway.recent_answers import FirstReadingUnderWay, RecentAnswers
from gateway.web import events, forms, signed_in
from gateway.web.i18n import current_language, translate_message
from gateway.web.labels import ATTENDEE_TYPE_LABELS, KIND_LABELS
from shared import clock, taxonomy
from shared.contracts.programme import VENUE_FACTS, EventSchema
from shared.contracts.registration import (
    KINDS,
    SEARCHABLE_ATTENDEE_TYPES,
    AccessibilityNeedsSchema,
    RegistrationQuerySchema,
    reference_of,
)
from shared.deadletters import SERVICES as DEAD_LETTER_SERVICES
from shared.messaging import SUBSCRIPTIONS, queue_depths

log = logging.getLogger(__name__)

blueprint = Blueprint("organiser", __name__, url_prefix="/organiser")

SERVICES = ("registration", "matching", "notification")
# services with an outbox of events waiting to be published
OUTBOX_SERVICES = ("registration", "matching")
PER_PAGE = 25
# the dashboard's counts are read at most this often per gateway process
DASHBOARD_SECONDS = 10.0
# how long the dashboard waits for a service's counts (registration's grow with the registrations)
STATS_TIMEOUT = 30.0
FILTERS = ("q", "kind", "status", "attendee_type", "event_id")
AUDIT_LIMIT = 100
DEAD_LETTER_LIMIT = 50
# a dead letter's reason is shown up to this many characters
REASON_CHARACTERS = 300
# page numbers shown on each side of the current page, besides the first and the last
PAGE_WINDOW = 2
# every need, in the schema's order; "other" is free text, never counted
NEEDS = tuple(name for name in AccessibilityNeedsSchema().fields if name != "other")

STATUS_LABELS = {
    "active": lazy_gettext("Active"),
    "cancelled": lazy_gettext("Cancelled"),
    "erased": lazy_gettext("Erased"),
}
# what organisers prepare for each need
NEED_LABELS = {
    "wheelchair_access": lazy_gettext("Wheelchair spaces and step-free access"),
    "sign_language_interpreter": lazy_gettext("Sign language interpreters"),
    "live_captioning": lazy_gettext("Live captioning"),
    "braille_or_large_print": lazy_gettext("Braille or large print"),
    "assistive_listening": lazy_gettext("Hearing loop (assistive listening)"),
    "easy_read": lazy_gettext("Easy read information"),
    "guide_dog": lazy_gettext("Guide dogs and assistance dogs"),
}
LANGUAGE_LABELS = {"ko": "한국어", "en": "English"}
SERVICE_LABELS = {
    "registration": lazy_gettext("Registration"),
    "matching": lazy_gettext("Matching"),
    "notification": lazy_gettext("Notification"),
}
NOTIFICATION_STATUS_LABELS = {
    "queued": lazy_gettext("Waiting to be sent"),
    "sending": lazy_gettext("Being sent"),
    "sent": lazy_gettext("Sent"),
    "failed": lazy_gettext("Failed"),
    "skipped": lazy_gettext("Skipped (nothing to tell)"),
}
DEAD_LETTER_STATUS_LABELS = {
    "parked": lazy_gettext("Parked"),
    "replaying": lazy_gettext("Being replayed"),
    "replayed": lazy_gettext("Replayed"),
}
AUDIT_ACTION_LABELS = {
    "read_accessibility_needs": lazy_gettext("Read accessibility needs"),
    "export_registrations": lazy_gettext("Downloaded registrations (CSV)"),
    "check_in": lazy_gettext("Checked in at the door (accessibility needs shown)"),
    "export_registrants": lazy_gettext("Downloaded an event's registrants"),
    "export_waiting_list": lazy_gettext("Downloaded an event's waiting list"),
    "export_check_ins": lazy_gettext("Downloaded an event's check-ins"),
    "export_accessibility_names": lazy_gettext("Downloaded the names with accessibility needs"),
}
ADMISSION_LABELS = {
    "admitted": lazy_gettext("Has a place"),
    "waiting": lazy_gettext("On the waiting list"),
    "offered": lazy_gettext("Place offered, to confirm"),
}
MATCHING_COUNTS = (
    ("active_companies", lazy_gettext("Companies taking part")),
    ("active_investors", lazy_gettext("Investors taking part")),
    ("suggestions", lazy_gettext("Suggestions made")),
    ("interests", lazy_gettext("Interests expressed by investors")),
)
# a sensitive visitor type is sealed: it shows on a registration's (audited) page, never in a
# search, a list or an export
SEARCHABLE_TYPE_LABELS = {kind: ATTENDEE_TYPE_LABELS[kind] for kind in SEARCHABLE_ATTENDEE_TYPES}
# the columns of the CSV file, in this order; never any accessibility need
CSV_COLUMNS = (
    ("reference", lazy_gettext("Registration number")),
    ("kind", lazy_gettext("Kind")),
    ("status", lazy_gettext("Status")),
    ("name", lazy_gettext("Name")),
    ("email", lazy_gettext("E-mail address")),
    ("organisation", lazy_gettext("Organisation")),
    ("attendee_type", lazy_gettext("Visitor type")),
    ("language", lazy_gettext("Language")),
    ("admission", lazy_gettext("Place")),
    ("companions", lazy_gettext("Number of companions")),
    ("carer_name", lazy_gettext("Registered by (carer)")),
    ("email_verified_at", lazy_gettext("E-mail address confirmed")),
    ("created_at", lazy_gettext("Registered at")),
    ("id", lazy_gettext("ID")),
)


@blueprint.record_once
def _keep_recent_answers(state: Any) -> None:
    state.app.extensions["organiser.recent"] = RecentAnswers(
        (*SERVICES, "queues", "events"), DASHBOARD_SECONDS
    )


# the dashboard's and the dead letters page's calls run at once, each on a thread of its own
# that keeps its RPC connection (threads are started on first use, so after gunicorn forks)
_calls = ThreadPoolExecutor(max_workers=6, thread_name_prefix="organiser-calls")


@blueprint.app_template_filter("organiser_when")
def when(value: str | None) -> str:
    """A stored time (ISO 8601, UTC) as Seoul's date and time, or "" for none."""
    if not value:
        return ""
    try:
        return format_datetime(clock.parse_iso(value), "yyyy-MM-dd HH:mm")
    except (TypeError, ValueError):
        return str(value)


@blueprint.app_template_filter("organiser_number")
def number(value: Any) -> str:
    if value is None:
        return "—"
    return f"{value:,}" if isinstance(value, int) else str(value)


@blueprint.context_processor
def labels() -> dict:
    return {
        "kind_label": lambda kind: _label(KIND_LABELS, kind),
        "status_label": lambda status: _label(STATUS_LABELS, status),
        "attendee_type_label": lambda value: _label(ATTENDEE_TYPE_LABELS, value),
        "need_label": lambda need: _label(NEED_LABELS, need),
        "admission_label": lambda admission: _label(ADMISSION_LABELS, admission),
        "service_label": lambda service: _label(SERVICE_LABELS, service),
        "language_label": lambda language: LANGUAGE_LABELS.get(language, language or ""),
        "tag_label": lambda tag: _tag_label(tag),
    }


def _label(labels: dict, value: Any) -> str:
    return str(labels[value]) if value in labels else str(value or "")


def _tag_label(tag: str) -> str:
    try:
        return taxonomy.label(tag, current_language())
    except KeyError:
        return tag


# --- the dashboard -------------------------------------------------------------------------


@blueprint.get("")
@signed_in.organiser_required
def dashboard() -> str:
    settings = current_app.config["SETTINGS"]
    recent: RecentAnswers = current_app.extensions["organiser.recent"]
    calls: dict[str, Callable[[], Any]] = {
        service: (lambda service=service: upstream.call(service, "stats", timeout=STATS_TIMEOUT))
        for service in SERVICES
    }
    calls["queues"] = lambda: queue_depths(settings.amqp_uri)
    organiser = signed_in.organiser_caller()
    # the events on today, with their check-in counts
    calls["events"] = lambda: upstream.call("registration", "list_events", organiser, timeout=STATS_TIMEOUT)
    answers = _at_once(
        {name: (lambda name=name, call=call: recent.get(name, call)) for name, call in calls.items()}
    )
    read = [answer for answer in answers.values() if answer is not None]
    as_of = min((read_at for read_at, _ in read), default=datetime.now(UTC))
    registration, matching, notification, queues = (
        answers[name][1] if answers[name] is not None else None for name in (*SERVICES, "queues")
    )
    return render_template(
        "organiser/dashboard.html",
        as_of=format_datetime(as_of, "HH:mm:ss"),
        kinds=KINDS,
        statuses=tuple(STATUS_LABELS),
        registrations=registration and registration["registrations"],
        totals=registration and _totals(registration["registrations"]),
        needs=registration and _needs(registration["accessibility_needs"]),
        companions=registration and registration.get("companions"),
        matching=matching and [(label, matching.get(key)) for key, label in MATCHING_COUNTS],
        notifications=notification and _notification_rows(notification["notifications"]),
        services=_service_rows(registration, matching, notification, queues),
        queues=queues and _queue_rows(queues),
        events=answers["events"] and answers["events"][1],
    )


def _totals(registrations: dict) -> dict[str, int]:
    """Registrations of every kind, by status."""
    return {
        status: sum(counts.get(status, 0) for counts in registrations.values()) for status in STATUS_LABELS
    }


def _needs(counts: dict) -> list[tuple[str, int]]:
    return [(need, int(counts.get(need) or 0)) for need in NEEDS]


def _notification_rows(counts: dict) -> list[tuple[str, int]]:
    labels = NOTIFICATION_STATUS_LABELS
    known = [(str(label), counts.get(status, 0)) for status, label in labels.items()]
    return known + [(status, count) for status, count in counts.items() if status not in labels]


def _service_rows(registration: Any, matching: Any, notification: Any, queues: Any) -> list[dict]:
    """Per service: its dead letters, its events waiting in the outbox and the messages waiting in
    its queues; None for what could not be read, "" for what the service does not have."""
    stats = {"registration": registration, "matching": matching, "notification": notification}
    rows = []
    for service in SERVICES:
        answer = stats[service] or {}
        own_queues = [f"{service}.{stream}" for stream in SUBSCRIPTIONS.get(service, ())]
        waiting = None
        if queues is not None:
            waiting = sum(queues[name]["messages"] for name in own_queues if name in queues)
        rows.append(
            {
                "service": service,
                "dead_letters": answer.get("dead_letters") if service in DEAD_LETTER_SERVICES else "",
                "outbox_pending": answer.get("outbox_pending") if service in OUTBOX_SERVICES else "",
                "waiting": waiting if own_queues else "",
            }
        )
    return rows


def _queue_rows(queues: dict) -> list[dict]:
    return [{"name": name, "service": name.split(".", 1)[0], **depth} for name, depth in queues.items()]


def _at_once(calls: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    """Each call's answer, asked all at once; None for a call that failed (logged)."""
    app = current_app._get_current_object()

    def run(name: str, call: Callable[[], Any]) -> Any:
        with app.app_context():
            try:
                return call()
            except FirstReadingUnderWay:
                pass  # shown as missing, to be reloaded; the first reading is not a failure
            except HTTPException as error:
                log.warning("organiser page part unavailable", extra={"part": name, "status": error.code})
            except Exception as error:  # the broker not answering, for one
                log.warning("organiser page part unavailable", extra={"part": name, "error": str(error)})
            return None

    futures = {name: _calls.submit(run, name, call) for name, call in calls.items()}
    return {name: future.result() for name, future in futures.items()}


# --- events ------------------------------------------------------------------------------------

EVENT_STATUS_LABELS = {
    "draft": lazy_gettext("Draft"),
    "open": lazy_gettext("Open"),
    "closed": lazy_gettext("Closed"),
    "cancelled": lazy_gettext("Cancelled"),
}
# the button that changes an event to each status (a cancellation is asked again first)
STATUS_ACTIONS = {
    "open": lazy_gettext("Open for registration"),
    "closed": lazy_gettext("Close registration"),
    "cancelled": lazy_gettext("Cancel the event"),
}
STATUS_DONE = {
    "open": lazy_gettext("%(event)s is open: everyone sees it, and may register while registration is open."),
    "closed": lazy_gettext("Registration for %(event)s is closed."),
    "cancelled": lazy_gettext("%(event)s is cancelled."),
}
# the fields of the event form, in the order they are on the page (the error summary follows it)
EVENT_FIELDS = (
    "status",
    "kind",
    "name_ko",
    "name_en",
    "starts_at",
    "ends_at",
    "venue-name_ko",
    "venue-name_en",
    "venue-address_ko",
    "venue-address_en",
    "venue-subway_exit_ko",
    "venue-subway_exit_en",
    "venue-step_free_entrance",
    "venue-accessible_toilets",
    "venue-hearing_loop",
    "venue-access_notes_ko",
    "venue-access_notes_en",
    "capacity",
    "registration_opens_at",
    "registration_closes_at",
)
EVENT_TIMES = ("starts_at", "ends_at", "registration_opens_at", "registration_closes_at")
VENUE_TEXTS = ("name_ko", "name_en", "address_ko", "address_en", "subway_exit_ko", "subway_exit_en")
VENUE_NOTES = ("access_notes_ko", "access_notes_en")
# a venue fact as a form answers it
FACT_VALUES = {True: "yes", False: "no", None: "unknown"}
EVENT_EMPTY = {
    "kind": lazy_gettext("Choose whether this is a town hall or an expo."),
    "name_ko": lazy_gettext("Enter the event's name in Korean."),
    "name_en": lazy_gettext("Enter the event's name in English."),
}
CAPACITY_MESSAGE = lazy_gettext("Enter the number of people the venue takes, such as 150, or leave it empty.")
# a time as the form shows it: Seoul's, as organisers type it
FORM_TIME = "%Y-%m-%d %H:%M"


def event_values(event: dict | None) -> dict[str, str]:
    """An event (or none yet) as its form shows it: times in Seoul's time, facts as yes, no or
    unknown."""
    event = event or {}
    venue = event.get("venue") or {}
    values = {"status": "draft", "kind": event.get("kind", ""), "capacity": str(event.get("capacity") or "")}
    for field in ("name_ko", "name_en"):
        values[field] = event.get(field, "")
    for field in EVENT_TIMES:
        values[field] = clock.in_seoul(event[field]).strftime(FORM_TIME) if event.get(field) else ""
    for field in (*VENUE_TEXTS, *VENUE_NOTES):
        values[f"venue-{field}"] = venue.get(field, "")
    for fact in VENUE_FACTS:
        values[f"venue-{fact}"] = FACT_VALUES[venue.get(fact)]
    return values


def event_values_from_form() -> dict[str, str]:
    return {field: forms.text(field) for field in EVENT_FIELDS}


def event_data(values: dict[str, str], creating: bool) -> dict:
    """The event as EventSchema reads it, from its form: an empty optional field is null (an
    edit sends every field, so what was emptied is removed); an empty required one is left out,
    to be said missing."""
    data: dict[str, Any] = {field: values[field] for field in ("kind", "name_ko", "name_en") if values[field]}
    for field in EVENT_TIMES:
        data[field] = values[field] or None
    capacity = values["capacity"].replace(",", "")
    data["capacity"] = int(capacity) if capacity.isascii() and capacity.isdigit() else (capacity or None)
    venue: dict[str, Any] = {
        field: values[f"venue-{field}"] or None for field in (*VENUE_TEXTS, *VENUE_NOTES)
    }
    for fact in VENUE_FACTS:
        venue[fact] = {"yes": True, "no": False}.get(values[f"venue-{fact}"])
    data["venue"] = venue
    if creating:
        data["status"] = values["status"]
    return data


def event_errors(errors: dict[str, str], values: dict[str, str]) -> dict[str, str]:
    """Errors that say what to do, in the order of the fields on the page."""
    for field in list(errors):
        if field in EVENT_EMPTY and not values.get(field):
            errors[field] = str(EVENT_EMPTY[field])
        elif field == "capacity":
            errors[field] = str(CAPACITY_MESSAGE)
    position = {field: index for index, field in enumerate(EVENT_FIELDS)}
    return dict(sorted(errors.items(), key=lambda item: position.get(item[0], len(position))))


def _event_form(
    template: str, values: dict, errors: dict, status: int = 200, **context: Any
) -> tuple[str, int]:
    return (
        render_template(
            template,
            values=values,
            errors=errors,
            kind_options=[(kind, str(label)) for kind, label in events.KIND_LABELS.items()],
            fact_options=[
                ("yes", gettext("Yes")),
                ("no", gettext("No")),
                ("unknown", gettext("Not known yet")),
            ],
            **context,
        ),
        status,
    )


@blueprint.app_template_global("event_status_label")
def event_status_label(status: str) -> str:
    return _label(EVENT_STATUS_LABELS, status)


@blueprint.get("/events")
@signed_in.organiser_required
def event_list() -> str:
    programme = upstream.call("registration", "list_events", signed_in.organiser_caller())
    return render_template(
        "organiser/events.html",
        upcoming=[event for event in programme if not event["past"]],
        past=[event for event in programme if event["past"]][::-1],
    )


@blueprint.route("/events/new", methods=["GET", "POST"])
@signed_in.organiser_required
def new_event() -> Any:
    if request.method == "GET":
        return _event_form("organiser/event_new.html", event_values(None), {})
    values = event_values_from_form()
    data, errors = forms.load(EventSchema(), event_data(values, creating=True))
    if not errors:
        made, errors = forms.call("registration", "create_event", data, signed_in.organiser_caller())
    if errors:
        return _event_form("organiser/event_new.html", values, event_errors(errors, values), 400)
    flash(gettext("%(event)s is made.", event=events.name_of(made)))
    return redirect(url_for("organiser.event", event_id=made["id"]), 303)


def _organisers_event(event_id: str) -> dict:
    if len(event_id) > 100:
        abort(404)
    return upstream.call("registration", "get_event", event_id, signed_in.organiser_caller())


@blueprint.route("/events/<string:event_id>", methods=["GET", "POST"])
@signed_in.organiser_required
def event(event_id: str) -> Any:
    found = _organisers_event(event_id)
    if request.method == "GET":
        return _event_form(
            "organiser/event.html",
            event_values(found),
            {},
            event=found,
            actions=STATUS_ACTIONS,
            names_with_needs=signed_in.may_download_names_with_needs(),
        )
    values = event_values_from_form()
    data, errors = forms.load(EventSchema(), event_data(values, creating=False))
    if not errors:
        changed, errors = forms.call(
            "registration", "update_event", event_id, data, signed_in.organiser_caller()
        )
    if errors:
        return _event_form(
            "organiser/event.html",
            values,
            event_errors(errors, values),
            400,
            event=found,
            actions=STATUS_ACTIONS,
            names_with_needs=signed_in.may_download_names_with_needs(),
        )
    flash(gettext("Your changes to %(event)s are saved.", event=events.name_of(changed)))
    return redirect(url_for("organiser.event", event_id=event_id), 303)


@blueprint.post("/events/<string:event_id>/status")
@signed_in.organiser_required
def event_status(event_id: str) -> Response:
    """Open or close an event; a cancellation comes from its own page, which asks first."""
    status = request.form.get("status")
    if status not in ("open", "closed"):
        abort(400)
    return _change_status(event_id, status)


@blueprint.route("/events/<string:event_id>/cancel", methods=["GET", "POST"])
@signed_in.organiser_required
def cancel_event(event_id: str) -> Any:
    if request.method == "GET":
        found = _organisers_event(event_id)
        if "cancelled" not in found["next_statuses"]:
            return redirect(url_for("organiser.event", event_id=event_id), 303)
        return render_template("organiser/event_cancel.html", event=found)
    return _change_status(event_id, "cancelled")


def _change_status(event_id: str, status: str) -> Response:
    if len(event_id) > 100:
        abort(404)
    changed, errors = forms.call(
        "registration", "update_event", event_id, {"status": status}, signed_in.organiser_caller()
    )
    if errors:
        # the status changed meanwhile (another organiser), or the event lacks what it needs
        for message in errors.values():
            flash(message)
    else:
        flash(str(STATUS_DONE[status]) % {"event": events.name_of(changed)})
    return redirect(url_for("organiser.event", event_id=event_id), 303)


# --- the registrant list and its export ----------------------------------------------------


@blueprint.get("/registrations")
@signed_in.organiser_required
def registrations() -> tuple[str, int]:
    values = {key: request.args.get(key, "").strip() for key in FILTERS}
    filters, errors = _filters(values)
    page = _positive(request.args.get("page"), 1, 100_000)
    per_page = _positive(request.args.get("per_page"), PER_PAGE, 100)
    found = None
    if not errors:
        found = upstream.call(
            "registration",
            "list_registrations",
            {**filters, "page": page, "per_page": per_page},
            signed_in.organiser_caller(),
        )
    programme = upstream.call("registration", "list_events", signed_in.organiser_caller(), False)
    last_page = max(1, math.ceil(found["total"] / per_page)) if found else 1
    links: dict[str, Any] = dict(filters)
    if per_page != PER_PAGE:
        links["per_page"] = per_page
    return render_template(
        "organiser/registrations.html",
        values=values,
        errors=errors,
        filtered=bool(filters),
        found=found,
        page=page,
        last_page=last_page,
        pages=page_numbers(page, last_page),
        page_url=lambda number: url_for("organiser.registrations", **links, page=number),
        export_url=url_for("organiser.export", **filters),
        kind_options=_options(KIND_LABELS, lazy_gettext("All kinds")),
        status_options=[("", gettext("Active and cancelled"))]
        + [(status, str(STATUS_LABELS[status])) for status in ("active", "cancelled")],
        attendee_type_options=_options(SEARCHABLE_TYPE_LABELS, lazy_gettext("All visitor types")),
        event_options=[("", gettext("All events"))]
        + [(event["id"], events.name_of(event)) for event in programme],
    ), 400 if errors else 200


@blueprint.get("/registrations.csv")
@signed_in.organiser_required
def export() -> Response:
    filters, errors = _filters({key: request.args.get(key, "").strip() for key in FILTERS})
    if errors:
        abort(400)
    rows = upstream.call("registration", "export_registrations", filters, signed_in.organiser_caller())
    stamp = format_datetime(datetime.now(UTC), "yyyyMMdd-HHmm")
    return Response(
        csv_file(rows),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="registrations-{stamp}.csv"',
            "Cache-Control": "no-store",
        },
    )


def csv_file(rows: list[dict]) -> bytes:
    """The rows as CSV in UTF-8 with a byte order mark, with a header row in the reader's
    language; no accessibility needs, and no cell a spreadsheet would run as a formula."""
    return spreadsheets.csv_bytes(*table(CSV_COLUMNS, rows))


def table(columns: tuple, rows: list[dict]) -> tuple[list[str], list[list]]:
    """The header (in the reader's language) and the cells of ``rows`` in these columns."""
    header = [str(label) for _, label in columns]
    return header, [[_cell(field, row.get(field)) for field, _ in columns] for row in rows]


def _cell(field: str, value: Any) -> str | int | None:
    """A value as the reader reads it: labels in their language, times in Seoul's; numbers stay
    numbers."""
    if value is None:
        return None
    if isinstance(value, bool):
        return gettext("Yes") if value else ""
    if isinstance(value, int):
        return value
    if field == "kind":
        return _label(KIND_LABELS, value)
    if field == "status":
        return _label(STATUS_LABELS, value)
    if field == "attendee_type":
        return _label(ATTENDEE_TYPE_LABELS, value)
    if field == "language":
        return LANGUAGE_LABELS.get(value, value)
    if field == "admission":
        return _label(ADMISSION_LABELS, value)
    if field == "item":
        return _label(PREPARATION_ITEM_LABELS, value)
    if field.endswith("_at") or field == "waiting_since":
        return when(value)
    return str(value)


# --- an event's exports ------------------------------------------------------------------

FILE_FORMATS = ("csv", "xlsx")
# each export's name in addresses and file names: the export and whether it lists names
EVENT_EXPORT_FILES = {
    "registrants": ("registrants", False),
    "waiting-list": ("waiting_list", False),
    "accessibility": ("accessibility", False),
    "accessibility-names": ("accessibility", True),
    "check-ins": ("check_ins", False),
}
PREPARATION_ITEM_LABELS = {
    **NEED_LABELS,
    "attendees_with_companions": lazy_gettext("Visitors bringing companions"),
    "companions": lazy_gettext("Companions coming with them"),
}
WAITING_COLUMNS = (
    ("position", lazy_gettext("Place in line")),
    ("reference", lazy_gettext("Registration number")),
    ("name", lazy_gettext("Name")),
    ("kind", lazy_gettext("Kind")),
    ("email", lazy_gettext("E-mail address")),
    ("organisation", lazy_gettext("Organisation")),
    ("language", lazy_gettext("Language")),
    ("companions", lazy_gettext("Number of companions")),
    ("party_size", lazy_gettext("Places needed")),
    ("carer_name", lazy_gettext("Registered by (carer)")),
    ("waiting_since", lazy_gettext("Waiting since")),
    ("id", lazy_gettext("ID")),
)
PREPARATION_COLUMNS = (
    ("item", lazy_gettext("What to prepare")),
    ("coming", lazy_gettext("For people with a place")),
    ("waiting", lazy_gettext("For people on the waiting list")),
)
NAMES_COLUMNS = (
    ("reference", lazy_gettext("Registration number")),
    ("name", lazy_gettext("Name")),
    ("admission", lazy_gettext("Place")),
    ("companions", lazy_gettext("Number of companions")),
    ("carer_name", lazy_gettext("Registered by (carer)")),
    *((need, NEED_LABELS[need]) for need in NEEDS),
    ("other_needs", lazy_gettext("Other needs, as written")),
    ("id", lazy_gettext("ID")),
)
CHECK_IN_COLUMNS = (
    ("reference", lazy_gettext("Registration number")),
    ("name", lazy_gettext("Name")),
    ("kind", lazy_gettext("Kind")),
    ("organisation", lazy_gettext("Organisation")),
    ("companions", lazy_gettext("Number of companions")),
    ("carer_name", lazy_gettext("Registered by (carer)")),
    ("checked_in_at", lazy_gettext("Checked in at")),
    ("checked_in_by", lazy_gettext("Checked in by")),
    ("id", lazy_gettext("ID")),
)
# each export's sheet title and columns, by the export and whether it lists names
EVENT_EXPORT_TABLES = {
    ("registrants", False): (lazy_gettext("Registrants"), CSV_COLUMNS),
    ("waiting_list", False): (lazy_gettext("Waiting list"), WAITING_COLUMNS),
    ("accessibility", False): (lazy_gettext("Accessibility preparation"), PREPARATION_COLUMNS),
    ("accessibility", True): (lazy_gettext("Accessibility needs by name"), NAMES_COLUMNS),
    ("check_ins", False): (lazy_gettext("Check-ins"), CHECK_IN_COLUMNS),
}
# what of an event's id may be in a file's name
UNSAFE_IN_FILE_NAMES = re.compile(r"[^A-Za-z0-9_-]+")


@blueprint.get("/events/<string:event_id>/exports/<string:name>.<string:file_format>")
@signed_in.organiser_required
def event_export(event_id: str, name: str, file_format: str) -> Response:
    if name not in EVENT_EXPORT_FILES or file_format not in FILE_FORMATS or len(event_id) > 100:
        abort(404)
    export, names = EVENT_EXPORT_FILES[name]
    return event_export_file(event_id, export, names, file_format, signed_in.organiser_caller())


def event_export_file(event_id: str, export: str, names: bool, file_format: str, caller: str) -> Response:
    """One of an event's exports as a file to download, in the reader's language (the
    registration service checks the organiser, and the permission for names with needs)."""
    query = {"event_id": event_id, "export": export, "names": names}
    rows = upstream.call("registration", "export_event", query, caller)
    title, columns = EVENT_EXPORT_TABLES[(export, names)]
    header, cells = table(columns, rows)
    if file_format == "csv":
        body, mimetype = spreadsheets.csv_bytes(header, cells), spreadsheets.CSV_TYPE
    else:
        body, mimetype = spreadsheets.xlsx_bytes(str(title), header, cells), spreadsheets.XLSX_TYPE
    stem = next(name for name, chosen in EVENT_EXPORT_FILES.items() if chosen == (export, names))
    event_part = UNSAFE_IN_FILE_NAMES.sub("-", event_id).strip("-")[:40] or "event"
    stamp = format_datetime(datetime.now(UTC), "yyyyMMdd-HHmm")
    return Response(
        body,
        mimetype=mimetype,
        headers={
            "Content-Disposition": f'attachment; filename="{stem}-{event_part}-{stamp}.{file_format}"',
            "Cache-Control": "no-store",
        },
    )


def _filters(values: dict[str, str]) -> tuple[dict, dict[str, str]]:
    """The search's filters as the registration service takes them (empty ones left out), and
    the errors by field id of those that are not valid."""
    try:
        loaded = RegistrationQuerySchema().load(values)
    except ValidationError as error:
        errors = {
            field: translate_message(messages[0] if isinstance(messages, list) else str(messages))
            for field, messages in error.messages.items()
        }
        return {}, {field: errors[field] for field in FILTERS if field in errors}
    return {key: loaded[key] for key in FILTERS if key in loaded}, {}


def _positive(text: str | None, default: int, highest: int) -> int:
    """A page number or size from the address; anything but digits in range is the default."""
    if text and text.isascii() and text.isdigit() and 1 <= int(text) <= highest:
        return int(text)
    return default


def page_numbers(current: int, last: int, window: int = PAGE_WINDOW) -> list[int | None]:
    """The page numbers to link: the first, the last, and ``window`` on each side of the current
    page; None where numbers are left out (a single one left out is shown instead)."""
    shown = sorted({1, last, *range(max(1, current - window), min(last, current + window) + 1)})
    numbers: list[int | None] = []
    previous = 0
    for page in shown:
        if page - previous == 2:
            numbers.append(previous + 1)
        elif previous and page - previous > 2:
            numbers.append(None)
        numbers.append(page)
        previous = page
    return numbers


def _options(labels: dict, everything: Any) -> list[tuple[str, str]]:
    return [("", str(everything))] + [(value, str(label)) for value, label in labels.items()]


# --- one registration ----------------------------------------------------------------------


@blueprint.get("/registrations/<string:kind>/<string:registration_id>")
@signed_in.organiser_required
def registration(kind: str, registration_id: str) -> str:
    if kind not in KINDS or len(registration_id) > 100:
        abort(404)
    found = upstream.call("registration", "get", kind, registration_id, signed_in.organiser_caller())
    needs = found.get("accessibility_needs") or {}
    return render_template(
        "organiser/registration.html",
        registration=found,
        chosen_needs=[need for need in NEEDS if needs.get(need)],
        tags=[_tag_label(tag) for tag in found.get("tags" if kind == "company" else "interests") or []],
        stages=[_tag_label(stage) for stage in found.get("stages") or []],
        other_need=(needs.get("other") or "").strip(),
    )


# --- the audit log -------------------------------------------------------------------------


@blueprint.get("/audit")
@signed_in.organiser_required
def audit() -> str:
    records = upstream.call("registration", "audit_log", signed_in.organiser_caller(), AUDIT_LIMIT)
    for record in records:
        record["action_label"] = _label(AUDIT_ACTION_LABELS, record.get("action"))
        record["reference"] = (
            reference_of(record["registration_id"]) if record.get("registration_id") else None
        )
    return render_template(
        "organiser/audit.html",
        records=records,
        limit=AUDIT_LIMIT,
    )


# --- dead letters --------------------------------------------------------------------------


@blueprint.get("/dead-letters")
@signed_in.organiser_required
def dead_letters() -> str:
    organiser = signed_in.organiser_caller()
    answers = _at_once(
        {
            service: (
                lambda service=service: upstream.call(service, "dead_letters", organiser, DEAD_LETTER_LIMIT)
            )
            for service in DEAD_LETTER_SERVICES
        }
    )
    return render_template(
        "organiser/dead_letters.html",
        letters={service: _letters(answers[service]) for service in DEAD_LETTER_SERVICES},
        limit=DEAD_LETTER_LIMIT,
    )


def _letters(letters: list[dict] | None) -> list[dict] | None:
    if letters is None:
        return None
    shown = []
    for letter in letters:
        reason = letter.get("reason") or ""
        if len(reason) > REASON_CHARACTERS:
            reason = reason[:REASON_CHARACTERS] + "…"
        shown.append(
            {
                **letter,
                "reason": reason,
                "status_label": _label(DEAD_LETTER_STATUS_LABELS, letter.get("status")),
                "replayable": letter.get("status") in ("parked", "replaying"),
            }
        )
    return shown


@blueprint.post("/dead-letters/<string:service>/<string:letter_id>/replay")
@signed_in.organiser_required
def replay(service: str, letter_id: str) -> Response:
    if service not in DEAD_LETTER_SERVICES or len(letter_id) > 200:
        abort(404)
    service_name = str(SERVICE_LABELS[service])
    try:
        upstream.call(service, "replay_dead_letter", letter_id, signed_in.organiser_caller())
    except HTTPException as error:
        if error.code == 409:
            flash(gettext("Message %(id)s was replayed already; nothing was done.", id=letter_id))
        elif error.code == 404:
            flash(gettext("There is no message %(id)s in %(service)s.", id=letter_id, service=service_name))
        else:
            raise
    else:
        flash(
            gettext(
                "Message %(id)s is back on the queue of %(service)s, to be handled again.",
                id=letter_id,
                service=service_name,
            )
        )
    return redirect(url_for("organiser.dead_letters"), 303)
