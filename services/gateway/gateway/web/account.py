"""A signed-in person's own pages: their registrations, changes, cancellation and erasure, their
inbox of notifications and their e-mail preferences.

Every page needs a person signed in by an e-mailed link; the registration service checks again
on every call that the address may act on the registration (``signed_in.person_caller()``).
Changes are sent as PATCHes: only the fields that changed, and of the accessibility needs only
the needs that changed (the service keeps the others as they are).
"""

from typing import Any

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import format_date, format_time, gettext, lazy_gettext
from werkzeug.exceptions import HTTPException

from gateway import upstream
from gateway.web import attendee, events, forms, signed_in
from gateway.web.i18n import current_language
from gateway.web.labels import KIND_LABELS, LANGUAGE_LABELS
from gateway.web.signed_in import person_required
from shared import clock, taxonomy
from shared.contracts.registration import REGISTRATION_SCHEMAS

blueprint = Blueprint("account", __name__, url_prefix="/my")

MATCHABLE_KINDS = ("company", "investor")
SUGGESTION_EMAILS = ("immediate", "hourly", "daily", "off")
DEFAULT_SUGGESTION_EMAILS = "hourly"
INBOX_LIMIT = 50
STATUS_LABELS = {"active": lazy_gettext("Registered"), "cancelled": lazy_gettext("Cancelled")}
CHANGE_ORDER = (
    "name",
    "attendee_type",
    "companions",
    "companion_names",
    "carer_name",
    "language",
    "interests",
)


@blueprint.context_processor
def labels_for_pages() -> dict:
    return {
        "kind_label": lambda kind: str(KIND_LABELS.get(kind, kind)),
        "status_label": lambda status: str(STATUS_LABELS.get(status, status)),
        "attendee_type_options": attendee.attendee_type_options,
        "language_options": attendee.language_options,
        "need_options": attendee.need_options,
        "companion_options": attendee.companion_options,
        "interest_groups": attendee.interest_groups,
        "chosen_needs": attendee.chosen_needs,
        "when": when,
    }


def when(iso: str | None) -> str:
    """A moment as people read it, in Seoul time and the page's language."""
    if not iso:
        return ""
    try:
        moment = clock.parse_iso(iso)
    except ValueError:
        return iso
    return f"{format_date(moment, 'long')} {format_time(moment, 'short')}"


def _caller() -> str:
    return signed_in.person_caller()


def _forget_registrations() -> None:
    """After a change, the next read asks the service again."""
    g.pop("my_registrations", None)


# --- the list and one registration ----------------------------------------------------------


@blueprint.get("")
@person_required
def my_registrations() -> str:
    registrations = signed_in.my_registrations()
    has_parties = any(r["kind"] in MATCHABLE_KINDS and r["status"] == "active" for r in registrations)
    return render_template(
        "account/my_registrations.html",
        registrations=registrations,
        has_parties=has_parties,
        events=events.events_of(registrations),
    )


def _rows(registration: dict) -> list[tuple]:
    """Everything kept of a registration, as summary-list rows with links to change."""
    active = registration["status"] == "active"
    change_url = url_for("account.change", registration_id=registration["id"]) if active else None
    changeable = ("name", "language")
    if registration["kind"] == "attendee":
        changeable += CHANGE_ORDER

    def change(field: str) -> str | None:
        return f"{change_url}#{field}" if change_url and field in changeable else None

    if registration["kind"] == "attendee":
        return attendee.attendee_rows(registration, change)
    language = current_language()
    rows = [
        (gettext("Name"), registration.get("name", ""), change("name"), gettext("name")),
        (gettext("E-mail address"), registration.get("email", ""), None, ""),
        (
            gettext("Language for e-mails"),
            str(LANGUAGE_LABELS.get(registration.get("language"), "")),
            change("language"),
            gettext("language"),
        ),
    ]
    if registration.get("organisation"):
        rows.append((gettext("Organisation"), registration["organisation"], None, ""))
    if registration.get("description"):
        rows.append((gettext("Description"), registration["description"], None, ""))
    tags = registration.get("tags") or registration.get("interests") or []
    if tags:
        label = gettext("Tags") if registration["kind"] == "company" else gettext("Interests")
        rows.append(
            (label, ", ".join(taxonomy.label(t, language) for t in tags if t in taxonomy.TAGS), None, "")
        )
    stages = [registration["stage"]] if registration.get("stage") else registration.get("stages") or []
    if stages:
        rows.append(
            (
                gettext("Stage"),
                ", ".join(taxonomy.label(s, language) for s in stages if s in taxonomy.TAGS),
                None,
                "",
            )
        )
    return rows


@blueprint.get("/<string:registration_id>")
@person_required
def registration(registration_id: str) -> str:
    found = signed_in.my_registration(registration_id)
    need_rows = []
    if found["kind"] == "attendee":
        active = found["status"] == "active"
        need_rows = [
            (
                gettext("Accessibility needs"),
                attendee.needs_text(found.get("accessibility_needs")),
                url_for("account.change_access", registration_id=registration_id) if active else None,
                gettext("accessibility needs"),
            )
        ]
    return render_template(
        "account/registration.html",
        registration=found,
        event=events.event_of(found.get("event_id")),
        rows=_rows(found),
        need_rows=need_rows,
        created=when(found.get("created_at")),
    )


# --- changes --------------------------------------------------------------------------------


def _change_values(found: dict) -> dict[str, Any]:
    return {
        "name": found.get("name", ""),
        "language": found.get("language", "ko"),
        "attendee_type": found.get("attendee_type", ""),
        "companions": str(found.get("companions") or 0),
        "companion_names": "\n".join(found.get("companion_names") or []),
        "carer_name": found.get("carer_name") or "",
        "interests": found.get("interests") or [],
    }


def _changes(found: dict, values: dict[str, Any]) -> dict:
    """Only what differs from the stored registration (a carer's name emptied is removed)."""
    fields = ("name", "language")
    if found["kind"] == "attendee":
        fields += ("attendee_type", "companions", "companion_names", "carer_name", "interests")
    changes: dict[str, Any] = {}
    for field in fields:
        new, old = values[field], found.get(field)
        if field == "companions":
            new = int(new) if new.isdigit() else new
            old = old or 0
        if field == "companion_names":
            # one name a line; the list as a whole replaces the stored one
            new = [line.strip() for line in new.splitlines() if line.strip()]
            old = old or []
        if field == "carer_name":
            old = old or ""
            if new == old:
                continue
            changes[field] = new or None
            continue
        if field == "attendee_type" and not new:
            continue
        if field == "interests" and set(new) == set(old or []):
            continue
        if new != old:
            changes[field] = new
    return changes


@blueprint.route("/<string:registration_id>/change", methods=["GET", "POST"])
@person_required
def change(registration_id: str) -> Any:
    found = signed_in.my_registration(registration_id)
    if found["status"] != "active":
        return redirect(url_for("account.registration", registration_id=registration_id), 303)
    if request.method == "GET":
        return render_template(
            "account/change.html", registration=found, values=_change_values(found), errors={}
        )
    values = {
        "name": forms.text("name"),
        "language": request.form.get("language", ""),
        "attendee_type": request.form.get("attendee_type", ""),
        "companions": request.form.get("companions", "0"),
        "companion_names": request.form.get("companion_names", ""),
        "carer_name": forms.text("carer_name"),
        "interests": request.form.getlist("interests"),
    }
    changes = _changes(found, values)
    schema = REGISTRATION_SCHEMAS[found["kind"]](partial=True, only=tuple(changes) or ("name",))
    loaded, errors = forms.load(schema, changes)
    if not errors and changes:
        _, errors = forms.call("registration", "update", found["kind"], registration_id, loaded, _caller())
    if errors:
        if "name" in errors and not values["name"]:
            errors["name"] = gettext("Enter your full name.")
        errors = attendee.ordered(errors, CHANGE_ORDER)
        return render_template("account/change.html", registration=found, values=values, errors=errors), 400
    _forget_registrations()
    flash(gettext("Your changes are saved.") if changes else gettext("You did not change anything."))
    return redirect(url_for("account.registration", registration_id=registration_id), 303)


def needs_changes(stored: dict, consented: bool, needs: dict, sensitive: bool) -> dict:
    """The PATCH for a needs form: only the needs that changed, with the sensitive consent; or,
    when the consent is withdrawn, only that (the service destroys the needs with it)."""
    if consented and not sensitive:
        return {"consents": {"sensitive": False}}
    changed = {
        need: value
        for need, value in needs.items()
        if value != stored.get(need, "" if need == "other" else False)
    }
    changes: dict[str, Any] = {}
    if changed:
        changes["accessibility_needs"] = changed
    if changed and sensitive:
        changes["consents"] = {"sensitive": True}
    return changes


@blueprint.route("/<string:registration_id>/access", methods=["GET", "POST"])
@person_required
def change_access(registration_id: str) -> Any:
    found = signed_in.my_registration(registration_id, "attendee")
    if found["status"] != "active":
        return redirect(url_for("account.registration", registration_id=registration_id), 303)
    stored = found.get("accessibility_needs") or {}
    consented = bool((found.get("consents") or {}).get("sensitive"))
    if request.method == "GET":
        return render_template(
            "account/change_access.html", registration=found, needs=stored, sensitive=consented, errors={}
        )
    needs, sensitive = attendee.needs_from_form()
    # withdrawing the consent is always allowed here: a sensitive visitor type goes with it
    errors = attendee.check_needs(needs, sensitive, {}, {})
    changes = needs_changes(stored, consented, needs, sensitive)
    if not errors and changes:
        schema = REGISTRATION_SCHEMAS["attendee"](partial=True, only=tuple(changes))
        loaded, errors = forms.load(schema, changes)
        if not errors:
            _, errors = forms.call("registration", "update", "attendee", registration_id, loaded, _caller())
    if errors:
        errors = attendee.check_needs(needs, sensitive, {}, errors)
        return (
            render_template(
                "account/change_access.html",
                registration=found,
                needs=needs,
                sensitive=sensitive,
                errors=errors,
            ),
            400,
        )
    _forget_registrations()
    flash(
        gettext("Your accessibility needs are saved.") if changes else gettext("You did not change anything.")
    )
    return redirect(url_for("account.registration", registration_id=registration_id), 303)


# --- confirming a place offered -------------------------------------------------------------


@blueprint.post("/<string:registration_id>/confirm")
@person_required
def confirm(registration_id: str) -> Any:
    found = signed_in.my_registration(registration_id)
    if found.get("admission") == "offered":
        forms.call("registration", "confirm", found["kind"], registration_id, _caller())
        _forget_registrations()
        flash(gettext("Your place is confirmed. See you there!"))
    return redirect(url_for("account.registration", registration_id=registration_id), 303)


# --- cancelling and erasing -----------------------------------------------------------------


@blueprint.route("/<string:registration_id>/cancel", methods=["GET", "POST"])
@person_required
def cancel(registration_id: str) -> Any:
    found = signed_in.my_registration(registration_id)
    if found["status"] != "active":
        return redirect(url_for("account.registration", registration_id=registration_id), 303)
    if request.method == "GET":
        return render_template("account/cancel.html", registration=found)
    forms.call("registration", "cancel", found["kind"], registration_id, _caller())
    _forget_registrations()
    flash(gettext("Your registration %(reference)s is cancelled.", reference=found.get("reference", "")))
    return redirect(url_for("account.registration", registration_id=registration_id), 303)


@blueprint.route("/<string:registration_id>/erase", methods=["GET", "POST"])
@person_required
def erase(registration_id: str) -> Any:
    found = signed_in.my_registration(registration_id)
    if request.method == "GET":
        return render_template("account/erase.html", registration=found, errors={})
    if not forms.checked("confirm"):
        errors = {
            "confirm": gettext("Tick the box to confirm that you want to erase this registration for good.")
        }
        return render_template("account/erase.html", registration=found, errors=errors), 400
    forms.call("registration", "erase", found["kind"], registration_id, _caller())
    _forget_registrations()
    if not signed_in.my_registrations():
        # nothing is left to sign in for
        signed_in.sign_out()
        return redirect(url_for("account.erased"), 303)
    flash(gettext("Your registration %(reference)s is erased.", reference=found.get("reference", "")))
    return redirect(url_for("account.my_registrations"), 303)


@blueprint.get("/erased")
def erased() -> str:
    return render_template("account/erased.html")


# --- inbox and preferences ------------------------------------------------------------------


@blueprint.get("/inbox")
@person_required
def inbox() -> str:
    items = []
    for found in signed_in.my_registrations():
        caller = signed_in.acting_for(found["id"])
        for item in upstream.call("notification", "inbox_of", found["id"], caller, INBOX_LIMIT):
            items.append({**item, "registration": found})
    items.sort(key=lambda item: item.get("created_at") or "", reverse=True)
    return render_template("account/inbox.html", items=items)


def _parties() -> list[dict]:
    return [
        r for r in signed_in.my_registrations() if r["kind"] in MATCHABLE_KINDS and r["status"] == "active"
    ]


def _preference(recipient_id: str) -> str:
    try:
        caller = signed_in.acting_for(recipient_id)
        return upstream.call("notification", "preferences", recipient_id, caller)["suggestion_emails"]
    except HTTPException as error:
        if error.code == 404:
            return DEFAULT_SUGGESTION_EMAILS
        raise


def preference_options() -> list[tuple[str, str, str]]:
    hour = current_app.config["SETTINGS"].suggestion_daily_hour
    return [
        (
            "immediate",
            gettext("Right away"),
            gettext("One e-mail each time we find new suggestions for you."),
        ),
        (
            "hourly",
            gettext("At most once an hour (recommended)"),
            gettext("One e-mail with every new suggestion of the past hour."),
        ),
        (
            "daily",
            gettext("Once a day"),
            gettext(
                "One e-mail a day at %(hour)s:00, Seoul time, with the day's new suggestions.", hour=hour
            ),
        ),
        (
            "off",
            gettext("No suggestion e-mails"),
            gettext("You still see new suggestions on your page."),
        ),
    ]


@blueprint.route("/preferences", methods=["GET", "POST"])
@person_required
def preferences() -> Any:
    parties = _parties()
    current = {party["id"]: _preference(party["id"]) for party in parties}
    if request.method == "GET":
        return render_template(
            "account/preferences.html",
            parties=parties,
            chosen=current,
            options=preference_options(),
            errors={},
        )
    chosen = {party["id"]: request.form.get(f"suggestion_emails-{party['id']}", "") for party in parties}
    errors: dict[str, str] = {}
    changed = False
    for party in parties:
        field_id = f"suggestion_emails-{party['id']}"
        value = chosen[party["id"]]
        if value not in SUGGESTION_EMAILS:
            errors[field_id] = gettext("Choose how often we e-mail you about new suggestions.")
            continue
        if value != current[party["id"]]:
            caller = signed_in.acting_for(party["id"])
            _, failed = forms.call(
                "notification", "set_preferences", party["id"], {"suggestion_emails": value}, caller, True
            )
            if failed:
                errors[field_id] = next(iter(failed.values()))
            changed = True
    if errors:
        return (
            render_template(
                "account/preferences.html",
                parties=parties,
                chosen=chosen,
                options=preference_options(),
                errors=errors,
            ),
            400,
        )
    flash(gettext("Your choices are saved.") if changed else gettext("You did not change anything."))
    return redirect(url_for("account.preferences"), 303)
