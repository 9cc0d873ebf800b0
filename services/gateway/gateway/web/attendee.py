"""Registering as an attendee, step by step: about you (and the event, when more than one takes
registrations), accessibility needs (with their own consent), check your answers, done.

One thing per page (the GOV.UK pattern): each step validates its own fields with the shared
``AttendeeSchema`` and keeps them in a draft in the session; the check page sends the whole
registration once, with an idempotency key made when it is first shown, so sending it twice (a
double click, a refresh, going back and sending again) answers the same registration.

``?easy=1`` switches these pages to easy read (쉬운 말): shorter sentences and simpler words.
The choice is remembered in the session; ``?easy=0`` switches back.
"""

import uuid
from collections.abc import Callable, Iterable
from typing import Any

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_babel import gettext, lazy_gettext, ngettext
from werkzeug.exceptions import HTTPException

from gateway.web import events, forms
from gateway.web.i18n import LANGUAGES, current_language
from gateway.web.labels import ATTENDEE_TYPE_LABELS, CATEGORY_LABELS, LANGUAGE_LABELS
from gateway.web.security import registrations_limit
from shared import taxonomy
from shared.contracts.registration import (
    ATTENDEE_TYPES,
    MAX_COMPANIONS,
    SENSITIVE_ATTENDEE_TYPES,
    AccessibilityNeedsSchema,
    AttendeeSchema,
)

blueprint = Blueprint("attendee", __name__, url_prefix="/register/attendee")

DRAFT = "attendee_draft"
DONE = "attendee_done"
EASY = "easy_read"
# every need the API knows, in the schema's order; "other" is free text
NEEDS = tuple(name for name in AccessibilityNeedsSchema().fields if name != "other")
ABOUT_FIELDS = (
    "event_id",
    "name",
    "email",
    "attendee_type",
    "interests",
    "language",
    "companions",
    "companion_names",
    "carer_name",
    "consents",
)
# the fields of the about-you page in the order they are shown (the error summary follows it)
ABOUT_ORDER = (
    "event_id",
    "name",
    "email",
    "on_behalf",
    "carer_name",
    "attendee_type",
    "companions",
    "companion_names",
    "language",
    "interests",
    "consents-privacy",
)
ACCESS_ORDER = ("accessibility_needs", "accessibility_needs-other", "consents-sensitive")
INTEREST_CATEGORIES = ("target_group", "digital_right", "technology")

NEED_LABELS = {
    "wheelchair_access": lazy_gettext("Wheelchair access"),
    "sign_language_interpreter": lazy_gettext("Sign language interpreter"),
    "live_captioning": lazy_gettext("Live captions"),
    "braille_or_large_print": lazy_gettext("Braille or large print"),
    "assistive_listening": lazy_gettext("Hearing loop (assistive listening)"),
    "easy_read": lazy_gettext("Easy read information"),
    "guide_dog": lazy_gettext("Guide dog or assistance dog"),
}
NEED_HINTS = {
    "wheelchair_access": lazy_gettext("Step-free routes, ramps, lifts and an accessible toilet."),
    "sign_language_interpreter": lazy_gettext("Korean Sign Language at talks and at the help desk."),
    "live_captioning": lazy_gettext("What speakers say, shown as text on a screen."),
    "braille_or_large_print": lazy_gettext("Programme and maps in braille or in large letters."),
    "assistive_listening": lazy_gettext("Sound sent straight to hearing aids and cochlear implants."),
    "easy_read": lazy_gettext("Information in short, simple sentences with pictures."),
    "guide_dog": lazy_gettext("Water and a place to rest for your dog."),
}

# what to say when a field is left empty (standard, easy read): more helpful than "required"
EMPTY_MESSAGES = {
    "event_id": (
        lazy_gettext("Choose the event you are registering for."),
        lazy_gettext("Choose the event you come to."),
    ),
    "name": (
        lazy_gettext("Enter the full name of the person who is coming."),
        lazy_gettext("Write the name of the person who comes."),
    ),
    "email": (
        lazy_gettext("Enter an e-mail address, such as name@example.com."),
        lazy_gettext("Write an e-mail address."),
    ),
    "attendee_type": (
        lazy_gettext("Choose what describes the person who is coming best."),
        lazy_gettext("Choose one answer."),
    ),
    "carer_name": (
        lazy_gettext("Enter your own name, as you register for someone else."),
        lazy_gettext("Write your own name."),
    ),
    "consents-privacy": (
        lazy_gettext("Tick the box to agree to the privacy notice. We cannot register you without it."),
        lazy_gettext("Tick the box to say yes. We need this to register you."),
    ),
}
NEEDS_WITHOUT_CONSENT = (
    lazy_gettext("Tick the box to let us keep your needs, or untick the needs you do not want us to keep."),
    lazy_gettext("Tick the box to say yes. Or untick what you need."),
)
EVENT_CLOSED = (
    lazy_gettext("This event is no longer taking registrations. Choose another event, or come back later."),
    lazy_gettext("You cannot register for this event any more."),
)
TYPE_WITHOUT_CONSENT = (
    lazy_gettext(
        "Tick the box to let us keep your visitor type, or go back and choose another visitor type."
    ),
    lazy_gettext("Tick the box to say yes. Or go back and choose another type."),
)


# --- easy read and the draft ----------------------------------------------------------------


@blueprint.before_request
def remember_easy_read() -> None:
    """``?easy=1`` / ``?easy=0`` turns easy read on or off for the session."""
    choice = request.args.get("easy")
    if choice in ("0", "1"):
        session[EASY] = choice == "1"


def easy_read() -> bool:
    return bool(session.get(EASY))


def pick(messages: tuple[Any, Any]) -> str:
    """The standard or the easy-read version of a message."""
    return str(messages[1] if easy_read() else messages[0])


def _draft() -> dict:
    return dict(session.get(DRAFT) or {})


def _save(draft: dict) -> None:
    session[DRAFT] = draft


def _render(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    return render_template(template, easy=easy_read(), **context), status


@blueprint.context_processor
def choices_for_pages() -> dict:
    return {
        "attendee_type_options": attendee_type_options,
        "language_options": language_options,
        "need_options": need_options,
        "companion_options": companion_options,
        "interest_groups": interest_groups,
        "chosen_needs": chosen_needs,
    }


def ordered(errors: dict[str, str], order: Iterable[str]) -> dict[str, str]:
    """The errors in the order their fields are on the page (the summary follows the page)."""
    position = {field_id: index for index, field_id in enumerate(order)}
    return dict(sorted(errors.items(), key=lambda item: position.get(item[0], len(position))))


def friendly(errors: dict[str, str], values: dict[str, Any]) -> dict[str, str]:
    """An empty field's error says what to enter; an address in the wrong form shows an example."""
    for field_id in errors:
        if field_id in EMPTY_MESSAGES and not values.get(field_id):
            errors[field_id] = pick(EMPTY_MESSAGES[field_id])
    if errors.get("email") == gettext("Not a valid email address."):
        errors["email"] = gettext("Enter an e-mail address in the right form, such as name@example.com.")
    return errors


# --- choices shown on the pages -------------------------------------------------------------


def attendee_type_options() -> list[tuple[str, str]]:
    return [(kind, str(ATTENDEE_TYPE_LABELS[kind])) for kind in ATTENDEE_TYPES]


def language_options() -> list[tuple[str, str]]:
    return [(language, str(LANGUAGE_LABELS[language])) for language in LANGUAGES]


def need_options() -> list[tuple[str, str, str]]:
    return [(need, str(NEED_LABELS[need]), str(NEED_HINTS[need])) for need in NEEDS]


def companion_options() -> list[tuple[str, str]]:
    return [(str(number), companions_text(number)) for number in range(MAX_COMPANIONS + 1)]


def interest_groups() -> list[dict]:
    """The tags people may be interested in, grouped by category, in the page's language."""
    language = current_language()
    groups = []
    for category in INTEREST_CATEGORIES:
        tags = [tag for tag in taxonomy.TAGS.values() if tag.category == category]
        groups.append(
            {
                "id": category,
                "label": str(CATEGORY_LABELS[category]),
                "options": [(tag.id, taxonomy.label(tag.id, language)) for tag in tags],
            }
        )
    return groups


def companions_text(number: int) -> str:
    if not number:
        return gettext("None")
    return ngettext("%(num)d companion or carer", "%(num)d companions or carers", number)


def interests_text(interests: list[str]) -> str:
    language = current_language()
    return ", ".join(taxonomy.label(tag, language) for tag in interests if tag in taxonomy.TAGS) or gettext(
        "None"
    )


def needs_text(needs: dict | None) -> str:
    """The needs as a sentence-like list; "None" when there are none."""
    needs = needs or {}
    chosen = [str(NEED_LABELS[need]) for need in NEEDS if needs.get(need)]
    if needs.get("other"):
        chosen.append(gettext("Other: %(text)s", text=needs["other"]))
    return ", ".join(chosen) or gettext("None")


def attendee_rows(registration: dict, change: Callable[[str], str | None]) -> list[tuple]:
    """Summary-list rows of an attendee's answers (without the needs); ``change(field)`` is the
    address of the page that changes a field, or None."""
    # someone registered by a carer: the name is theirs, the address the carer's, who is the contact
    email_label = (
        gettext("The carer's e-mail address (every e-mail goes here)")
        if registration.get("carer_name")
        else gettext("E-mail address")
    )
    rows = [
        (gettext("Name"), registration.get("name", ""), change("name"), gettext("name")),
        (email_label, registration.get("email", ""), change("email"), gettext("e-mail address")),
    ]
    if registration.get("carer_name"):
        rows.append(
            (
                gettext("Registered by (carer)"),
                registration["carer_name"],
                change("carer_name"),
                gettext("carer's name"),
            )
        )
    kind = registration.get("attendee_type")
    rows += [
        (
            gettext("Visitor type"),
            str(ATTENDEE_TYPE_LABELS.get(kind, kind or "")),
            change("attendee_type"),
            gettext("visitor type"),
        ),
        (
            gettext("Companions or carers"),
            companions_text(registration.get("companions") or 0),
            change("companions"),
            gettext("companions or carers"),
        ),
    ]
    if registration.get("companion_names"):
        rows.append(
            (
                gettext("Companions' names"),
                ", ".join(registration["companion_names"]),
                change("companion_names"),
                gettext("companions' names"),
            )
        )
    rows += [
        (
            gettext("Language for e-mails"),
            str(LANGUAGE_LABELS.get(registration.get("language"), "")),
            change("language"),
            gettext("language"),
        ),
        (
            gettext("Interests"),
            interests_text(registration.get("interests") or []),
            change("interests"),
            gettext("interests"),
        ),
    ]
    return rows


# --- step 1: about you ----------------------------------------------------------------------


def _about_values_from_form() -> dict[str, Any]:
    carer_name = forms.text("carer_name")
    return {
        "name": forms.text("name"),
        "email": forms.text("email"),
        "attendee_type": request.form.get("attendee_type", ""),
        "interests": request.form.getlist("interests"),
        "language": request.form.get("language", ""),
        "companions": request.form.get("companions", "0"),
        "companion_names": request.form.get("companion_names", ""),
        # a carer's name given is registering for someone else, ticked or not
        "on_behalf": forms.checked("on_behalf") or bool(carer_name),
        "carer_name": carer_name,
        "consents-privacy": forms.checked("consents-privacy"),
    }


def _about_values_from_draft(about: dict | None) -> dict[str, Any]:
    if not about:
        return {"language": current_language(), "companions": "0", "interests": []}
    return {
        **about,
        "companions": str(about.get("companions", 0)),
        "companion_names": "\n".join(about.get("companion_names") or []),
        "on_behalf": bool(about.get("carer_name")),
        "carer_name": about.get("carer_name", ""),
        "consents-privacy": True,
    }


def _about_data(values: dict[str, Any]) -> dict:
    companions = values["companions"]
    data = {
        "event_id": values["event_id"],
        "name": values["name"],
        "email": values["email"],
        "language": values["language"] or current_language(),
        "interests": values["interests"],
        "companions": int(companions) if companions.isdigit() else companions,
        # one name a line (naming them is optional; they may change later on the person's page)
        "companion_names": [line.strip() for line in values["companion_names"].splitlines() if line.strip()],
        "consents": {"privacy": values["consents-privacy"]},
    }
    if values["attendee_type"]:
        data["attendee_type"] = values["attendee_type"]
    if values["on_behalf"]:
        data["carer_name"] = values["carer_name"]
    return data


def _about_page(values: dict, errors: dict, back: bool, open_events: list[dict], status: int = 200) -> Any:
    return _render(
        "attendee/about_you.html", status, values=values, errors=errors, back=back, events=open_events
    )


@blueprint.route("", methods=["GET", "POST"])
def about_you() -> Any:
    back_to_check = request.values.get("back") == "check"
    draft = _draft()
    if draft.get("done"):
        # a registration was sent from this draft: what comes now is someone else's
        draft = {}
    open_events = events.taking_registrations()
    if not open_events:
        return _render("events/none_open.html")
    if request.method == "GET":
        about = draft.get("about") or {}
        values = _about_values_from_draft(about)
        # an event's page links here with ?event=
        values["event_id"] = events.chosen_event_id(
            open_events, request.args.get("event"), about.get("event_id")
        )
        return _about_page(values, {}, back_to_check, open_events)
    values = _about_values_from_form()
    values["event_id"] = events.chosen_event_id(open_events, request.form.get("event_id"))
    # the consent to sensitive information (which a visitor type may need) is asked on the next
    # step: the schema's checks across the whole registration wait for it (partial)
    loaded, errors = forms.load(AttendeeSchema(only=ABOUT_FIELDS, partial=("consents",)), _about_data(values))
    if errors:
        errors = ordered(friendly(errors, values), ABOUT_ORDER)
        return _about_page(values, errors, back_to_check, open_events, 400)
    loaded.pop("consents")
    draft["about"] = loaded
    _save(draft)
    consent_missing = sensitive_type(loaded) and not (draft.get("access") or {}).get("sensitive")
    if back_to_check and "access" in draft and not consent_missing:
        return redirect(url_for("attendee.check"), 303)
    return redirect(url_for("attendee.access", back="check" if back_to_check else None), 303)


# --- step 2: accessibility needs, with their own consent -------------------------------------


def needs_from_form() -> tuple[dict, bool]:
    """The needs ticked on a needs form (every need named, "other" as text) and the consent."""
    ticked = request.form.getlist("accessibility_needs")
    needs: dict[str, Any] = {need: need in ticked for need in NEEDS}
    needs["other"] = forms.text("accessibility_needs-other")
    return needs, forms.checked("consents-sensitive")


def chosen_needs(needs: dict | None) -> list[str]:
    return [need for need in NEEDS if (needs or {}).get(need)]


def has_needs(needs: dict | None) -> bool:
    return bool(needs) and any(needs.values())


def sensitive_type(about: dict) -> bool:
    """Whether the visitor type chosen tells of a disability or a need for care, and so needs
    the consent asked on the needs page."""
    return about.get("attendee_type") in SENSITIVE_ATTENDEE_TYPES


def sensitive_type_label(about: dict) -> str | None:
    """The visitor type's name, if it is one the needs page asks consent for."""
    return str(ATTENDEE_TYPE_LABELS[about["attendee_type"]]) if sensitive_type(about) else None


def check_needs(needs: dict, sensitive: bool, about: dict, errors: dict[str, str]) -> dict[str, str]:
    """Needs, or a sensitive visitor type, without the sensitive consent are an error on the
    consent, which is what to fix."""
    errors.pop("accessibility_needs", None)
    if has_needs(needs) and not sensitive:
        errors["consents-sensitive"] = pick(NEEDS_WITHOUT_CONSENT)
    elif sensitive_type(about) and not sensitive:
        errors["consents-sensitive"] = pick(TYPE_WITHOUT_CONSENT)
    return ordered(errors, ACCESS_ORDER)


@blueprint.route("/access", methods=["GET", "POST"])
def access() -> Any:
    draft = _draft()
    if "about" not in draft or draft.get("done"):
        return redirect(url_for("attendee.about_you"), 303)
    back_to_check = request.values.get("back") == "check"
    if request.method == "GET":
        kept = draft.get("access") or {}
        return _render(
            "attendee/access.html",
            needs=kept.get("needs") or {},
            sensitive=kept.get("sensitive", False),
            errors={},
            back=back_to_check,
            type_label=sensitive_type_label(draft["about"]),
        )
    needs, sensitive = needs_from_form()
    data: dict[str, Any] = {"consents": {"privacy": True, "sensitive": sensitive}}
    if has_needs(needs):
        data["accessibility_needs"] = needs
    loaded, errors = forms.load(AttendeeSchema(only=("accessibility_needs", "consents")), data)
    errors = check_needs(needs, sensitive, draft["about"], errors)
    if errors:
        return _render(
            "attendee/access.html",
            400,
            needs=needs,
            sensitive=sensitive,
            errors=errors,
            back=back_to_check,
            type_label=sensitive_type_label(draft["about"]),
        )
    kept_needs = loaded.get("accessibility_needs") if sensitive else None
    draft["access"] = {"needs": kept_needs if has_needs(kept_needs) else None, "sensitive": sensitive}
    _save(draft)
    return redirect(url_for("attendee.check"), 303)


# --- step 3: check your answers, and send ----------------------------------------------------


def registration_data(draft: dict) -> dict:
    """The registration to send, from the draft's steps."""
    about, kept = draft["about"], draft["access"]
    needs = kept.get("needs")
    sensitive = bool(kept.get("sensitive") and (has_needs(needs) or sensitive_type(about)))
    data = {**about, "consents": {"privacy": True, "sensitive": sensitive}}
    if sensitive and has_needs(needs):
        data["accessibility_needs"] = needs
    return data


def _check_page(
    draft: dict, errors: dict[str, str], event: dict | None, status: int = 200
) -> tuple[str, int]:
    done = draft.get("done")

    def change(field: str) -> str | None:
        if done:
            return None
        return url_for("attendee.about_you", back="check", _anchor=field)

    about = draft["about"]
    kept = draft["access"]
    event_rows = []
    if event is not None:
        event_rows.append(
            (
                gettext("Event"),
                f"{events.name_of(event)} ({events.when_text(event)})",
                change("event_id"),
                gettext("event"),
            )
        )
    need_rows = [
        (
            gettext("Accessibility needs"),
            needs_text(kept.get("needs")),
            None if done else url_for("attendee.access", back="check"),
            gettext("accessibility needs"),
        )
    ]
    return _render(
        "attendee/check.html",
        status,
        about_rows=event_rows + attendee_rows(about, change),
        need_rows=need_rows,
        done=done,
        errors=errors,
    )


@blueprint.route("/check", methods=["GET", "POST"])
@registrations_limit()
def check() -> Any:
    draft = _draft()
    if "about" not in draft:
        return redirect(url_for("attendee.about_you"), 303)
    if "access" not in draft:
        return redirect(url_for("attendee.access"), 303)
    if "key" not in draft:
        # made once, when the answers are first shown: every sending of this draft carries it
        draft["key"] = str(uuid.uuid4())
        _save(draft)
    event = events.event_of(draft["about"].get("event_id"))
    if not draft.get("done") and not events.takes_registrations(event):
        return _event_gone(draft, events.taking_registrations())
    if request.method == "GET":
        return _check_page(draft, {}, event)
    data, errors = forms.load(AttendeeSchema(), registration_data(draft))
    if errors:
        return _check_page(draft, errors, event, 400)
    try:
        answer, errors = forms.call("registration", "create", "attendee", data, draft["key"])
    except HTTPException as error:
        if error.code not in (404, 409):
            raise
        if error.code == 409 and events.takes_registrations(events.event_of(data.get("event_id"))):
            return _render("attendee/already_registered.html", 409, email=data["email"])
        # it stopped taking registrations since the answers were shown
        return _event_gone(draft, events.taking_registrations())
    if errors:
        return _check_page(draft, errors, event, 400)
    # what the confirmation shows; never the manage token
    session[DONE] = {
        "reference": answer["reference"],
        "email": answer["email"],
        "name": answer["name"],
        "carer_name": answer.get("carer_name"),
        # admitted, or waiting with its place in line
        "admission": answer.get("admission"),
        "waiting_position": answer.get("waiting_position"),
        # both names: the confirmation may be read in the other language
        "event": {key: event[key] for key in ("name_ko", "name_en")} if event else None,
    }
    draft["done"] = answer["reference"]
    _save(draft)
    return redirect(url_for("attendee.done"), 303)


def _event_gone(draft: dict, open_events: list[dict]) -> Any:
    """The answers' event takes no registrations any more (or none was chosen, in a draft kept
    from before there were events): the first page again, to choose another or learn there is
    none. Everything else stays as answered."""
    if not open_events:
        return _render("events/none_open.html", 409)
    about = draft["about"]
    values = {**_about_values_from_draft(about), "event_id": events.chosen_event_id(open_events)}
    message = EVENT_CLOSED if about.get("event_id") else EMPTY_MESSAGES["event_id"]
    return _about_page(values, {"event_id": pick(message)}, True, open_events, 409)


# --- done -----------------------------------------------------------------------------------


@blueprint.get("/done")
def done() -> Any:
    result = session.get(DONE)
    if not result:
        return redirect(url_for("attendee.about_you"), 303)
    return _render("attendee/done.html", result=result)
