"""The door: organisers check people in with their badges, and each person sees their own badge.

Without JavaScript the check-in page is a form: type the code under the QR code, read the answer.
With it (static/js/checkin.js), the device's camera reads badges, answers come without reloading,
the counts stay current, and scans made while the network is down are kept on the device and
sent once it is back. Either way the registration service decides and records the check-in
(once per badge), and audits each answer that shows someone's accessibility needs.
"""

from datetime import UTC, datetime
from functools import partial
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_datetime, gettext, lazy_gettext
from marshmallow import ValidationError

from gateway import upstream
from gateway.recent_answers import RecentAnswers
from gateway.web import events, signed_in
from gateway.web.i18n import current_language
from gateway.web.organiser import NEED_LABELS
from shared import badges, clock
from shared.contracts.registration import CheckInSchema

blueprint = Blueprint("checkin", __name__)

# how old the check-in counts shown at the door may be
COUNTS_SECONDS = 3.0
NOT_A_CODE = lazy_gettext("Enter the code under the QR code: 12 letters and digits, such as ABCD-EFGH-JKMN.")
# what the door is told for each outcome; checked_in and already_checked_in show the person
REFUSALS = {
    "unknown_badge": lazy_gettext(
        "No registration has this badge. Check the code; the badge may have been replaced, or the "
        "registration cancelled."
    ),
    "other_event": lazy_gettext("This badge is for another event: %(event)s."),
    "not_admitted": lazy_gettext(
        "This person has no place yet: they are on the waiting list, or have not confirmed the "
        "places offered to them."
    ),
}


@blueprint.app_template_global("badge_qr")
def badge_qr(code: str) -> str:
    """A badge's QR code as inline SVG, named for screen readers (the code is printed under it)."""
    return badges.qr_svg(
        code, title=gettext("QR code of your check-in code %(code)s", code=badges.display(code))
    )


@blueprint.app_template_filter("badge_code")
def badge_code(code: str) -> str:
    return badges.display(code)


@blueprint.context_processor
def labels() -> dict:
    return {"need_label": lambda need: str(NEED_LABELS.get(need, need))}


@blueprint.post("/my/<registration_id>/badge")
@signed_in.person_required
def new_badge(registration_id: str) -> Response:
    """A new badge for one of the signed-in person's registrations, in place of the old one."""
    registration = signed_in.my_registration(registration_id)
    upstream.call(
        "registration", "reissue_badge", registration["kind"], registration_id, signed_in.person_caller()
    )
    flash(gettext("Here is your new badge. The old code no longer works; we have e-mailed you the new one."))
    return redirect(url_for("account.registration", registration_id=registration_id) + "#badge-title")


@blueprint.record_once
def _keep_recent_counts(state: Any) -> None:
    state.app.extensions["checkin.counts"] = RecentAnswers(("counts",), COUNTS_SECONDS)


@blueprint.route("/organiser/events/<event_id>/check-in", methods=["GET", "POST"])
@signed_in.organiser_required
def door(event_id: str) -> Any:
    organiser = signed_in.organiser_caller()
    event = _event(event_id, organiser)
    answer, errors, typed = None, {}, ""
    if request.method == "POST":
        typed = request.form.get("code", "")
        try:
            code = CheckInSchema().load({"code": typed})["code"]
        except ValidationError:
            errors = {"code": str(NOT_A_CODE)}
        else:
            answer = upstream.call("registration", "check_in", event_id, code, organiser)
            typed = ""
    counts = _counts(event_id, organiser)
    if _wants_json():
        return _json_answer(event, answer, errors, counts)
    return render_template(
        "checkin/door.html",
        event=event,
        answer=answer,
        refusal=answer and _refusal(answer),
        errors=errors,
        typed=typed,
        counts=counts,
    ), (422 if errors else 200)


@blueprint.post("/organiser/events/<event_id>/check-in/<registration_id>/undo")
@signed_in.organiser_required
def undo(event_id: str, registration_id: str) -> Response:
    answer = upstream.call(
        "registration", "undo_check_in", event_id, registration_id, signed_in.organiser_caller()
    )
    if answer["outcome"] == "undone":
        flash(gettext("The check-in is undone: the badge checks its holder in again."))
    else:
        flash(gettext("That registration was not checked in."))
    return redirect(url_for("checkin.door", event_id=event_id))


@blueprint.get("/organiser/events/<event_id>/check-in/counts")
@signed_in.organiser_required
def counts(event_id: str) -> Response:
    """The counts shown on the check-in page and the dashboard, for them to stay current."""
    counted = _counts(event_id, signed_in.organiser_caller())
    return jsonify(text=counts_text(counted), **counted)


def _event(event_id: str, organiser: str) -> dict:
    """The event, without its counts: an organiser's event with its counts reads its
    registrations, too much for every badge scanned."""
    event = events.find_event(upstream.call("registration", "list_events", organiser, False), event_id)
    if event is None:
        abort(404)
    return event


def _counts(event_id: str, organiser: str) -> dict:
    """The event's check-in counts, read at most every COUNTS_SECONDS per gateway process: they
    count every registration for the event, and every door asks with every badge scanned."""
    recent: RecentAnswers = current_app.extensions["checkin.counts"]
    call = partial(upstream.call, "registration", "door_counts", event_id, organiser)
    return recent.get(event_id, call, wait=True)[1]


@blueprint.app_template_global("counts_text")
def counts_text(counts: dict) -> str:
    return gettext(
        "%(checked_in)s of %(total)s registrations checked in (%(people)s people with their companions)",
        checked_in=counts["checked_in"],
        total=counts["total"],
        people=counts["checked_in_people"],
    )


def on_today(event: dict, now: datetime) -> bool:
    """Whether the event is on today in Seoul: it starts today, or it is under way."""
    if not event.get("starts_at") or event.get("status") in ("draft", "cancelled"):
        return False
    starts = clock.in_seoul(event["starts_at"])
    ends = clock.in_seoul(event["ends_at"]) if event.get("ends_at") else starts
    today = now.astimezone(starts.tzinfo).date()
    return starts.date() <= today <= ends.date()


@blueprint.app_template_global("doors_today")
def doors_today(events: list[dict], now: datetime | None = None) -> list[dict]:
    """The events on today, for the dashboard's check-in counts."""
    moment = now or datetime.now(UTC)
    return [event for event in events if on_today(event, moment)]


def _refusal(answer: dict) -> str | None:
    if answer["outcome"] not in REFUSALS:
        return None
    other = answer.get("event") or {}
    name = other.get("name_ko" if current_language() == "ko" else "name_en") or gettext(
        "an event not shown here"
    )
    return str(REFUSALS[answer["outcome"]]) % {"event": name}


def _json_answer(event: dict, answer: dict | None, errors: dict, counted: dict) -> tuple[Response, int]:
    """The same answer as the page's, for the page's script: the part of the page that changes."""
    html = render_template(
        "checkin/_answer.html", event=event, answer=answer, refusal=answer and _refusal(answer), errors=errors
    )
    outcome = answer["outcome"] if answer else "not_a_code"
    return jsonify(
        outcome=outcome, summary=_summary(answer, errors), html=html, counts=counts_text(counted)
    ), (422 if errors else 200)


def _summary(answer: dict | None, errors: dict) -> str:
    """The answer in one line, for a scan sent after the network came back."""
    if errors or answer is None:
        return gettext("Not a check-in code")
    if answer["outcome"] == "checked_in":
        return gettext("Checked in: %(name)s", name=answer["name"])
    if answer["outcome"] == "already_checked_in":
        return gettext(
            "Already checked in at %(time)s: %(name)s",
            time=door_time(answer["checked_in_at"]),
            name=answer["name"],
        )
    return _refusal(answer) or ""


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


@blueprint.app_template_filter("door_time")
def door_time(value: str) -> str:
    """When someone was checked in, as the door reads it: Seoul's time of day."""
    return format_datetime(clock.parse_iso(value), "HH:mm")
