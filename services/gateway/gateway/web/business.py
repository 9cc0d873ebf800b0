"""Companies and investors: registering with tags, and their ranked suggestions, interest and
answers.

Registering is one form (``/register/company`` or ``/register/investor``; it starts with the
choice of the event when more than one takes registrations), then a page to check the answers,
then a confirmation. The form is validated with the shared ``CompanySchema`` or
``InvestorSchema`` and kept as a draft in the session; the check page sends it once, with an
idempotency key made when it is first shown, so that sending it twice (a double click, a
refresh, going back and sending again) answers the same registration.

A signed-in company or investor sees its suggestions at ``/my/<id>/suggestions``: matching's
ranked list joined with the counterparts' public profiles (one call for the whole list), with
filters by tag and stage and pages of ``PER_PAGE``. An investor says it is interested in a
company; the company accepts or declines; once accepted both see each other's contact card
(asked of registration in one call, only for the accepted counterparts). Every form works
without JavaScript, and every POST answers with a redirect back and a status message.
"""

import math
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext, lazy_gettext, ngettext
from werkzeug.exceptions import HTTPException

from gateway import upstream
from gateway.web import events, forms, signed_in
from gateway.web.i18n import LANGUAGES, current_language
from gateway.web.labels import CATEGORY_LABELS, LANGUAGE_LABELS
from gateway.web.recent_suggestions import RecentSuggestions, mark_changed
from gateway.web.security import registrations_limit
from shared import taxonomy
from shared.contracts.registration import CompanySchema, InvestorSchema

blueprint = Blueprint("business", __name__)

KINDS = ("company", "investor")
KIND_PATH = "<any(company, investor):kind>"
COUNTERPART = {"company": "investor", "investor": "company"}
SCHEMAS = {"company": CompanySchema, "investor": InvestorSchema}
# the field of a party's tags, and of the stages it is at or invests in
TAG_FIELD = {"company": "tags", "investor": "interests"}
DONE = "business_done"
PER_PAGE = 20
# as many suggestions as matching gives (it keeps MATCHING_TOP_N per party, 100 by default)
SUGGESTIONS_LIMIT = 200
# a cookie over about 4 KB is dropped by browsers: a draft that would make the session cookie
# larger than this is refused (only a long description can)
SESSION_COOKIE_BUDGET = 3800
TAG_CATEGORIES = ("target_group", "digital_right", "technology")
FLASH_STATUS, FLASH_PROBLEM = "status", "problem"
# how long a party's suggestions, once read, answer its next views (see recent_suggestions)
RECENT_SUGGESTIONS_SECONDS = 5.0
RECENT_SUGGESTIONS_PARTIES = 500


@blueprint.record_once
def _keep_recent_suggestions(state: Any) -> None:
    state.app.extensions["business.recent_suggestions"] = RecentSuggestions(
        RECENT_SUGGESTIONS_SECONDS, RECENT_SUGGESTIONS_PARTIES
    )


# the fields of each form in the order they are on the page (the error summary follows it)
FIELDS = {
    "company": (
        "event_id",
        "name",
        "description",
        "tags",
        "stage",
        "contact_name",
        "website",
        "business_number",
        "email",
        "language",
        "consents-privacy",
    ),
    "investor": (
        "event_id",
        "name",
        "organisation",
        "interests",
        "stages",
        "investor_type",
        "ticket_min_krw",
        "ticket_max_krw",
        "email",
        "language",
        "consents-privacy",
    ),
}
OPTIONAL = {"website", "business_number", "investor_type", "ticket_min_krw", "ticket_max_krw"}
LIST_FIELDS = {"tags", "interests", "stages"}

TAG_HINTS = {
    "communication": lazy_gettext("Getting online: internet, phone and Wi-Fi access."),
    "mobility": lazy_gettext("Getting around: transport, routes and finding the way."),
    "education": lazy_gettext("Learning, including digital skills."),
    "health_safety": lazy_gettext("Care, health checks and keeping people safe."),
    "digital_use": lazy_gettext("Being able to use digital services, such as apps and kiosks."),
    "data_use": lazy_gettext("Using public and personal data for better services."),
    "developmental_disability": lazy_gettext("Including intellectual disability and autism."),
    "career_break_women": lazy_gettext("Women going back to work after a break, often for childcare."),
    "single_household": lazy_gettext("People who live alone."),
    "speech_to_text": lazy_gettext("Speech turned into text, such as live captions."),
    "voice_interface": lazy_gettext("Using a service by talking to it."),
    "iot": lazy_gettext("Connected sensors and devices."),
    "kiosk_accessibility": lazy_gettext("Self-service machines that everyone can use."),
    "wearables": lazy_gettext("Devices worn on the body, such as smart watches."),
    "metaverse": lazy_gettext("Shared virtual spaces."),
}
STAGE_HINTS = {
    "idea": lazy_gettext("Planning; no product yet."),
    "seed": lazy_gettext("A first product and first users."),
    "pre_a": lazy_gettext("A product in use; getting ready for a first large investment."),
    "series_a": lazy_gettext("Growing the business with a first large investment."),
    "series_b_plus": lazy_gettext("Expanding, after more than one large investment."),
    "growth": lazy_gettext("Established and scaling up."),
}

# what to say when a field is left empty: more helpful than "required"
CHOOSE_EVENT = lazy_gettext("Choose the event you are registering for.")
EMPTY_MESSAGES = {
    "company": {
        "event_id": CHOOSE_EVENT,
        "name": lazy_gettext("Enter the name of your company."),
        "description": lazy_gettext("Describe what your company makes and for whom, in a few sentences."),
        "tags": lazy_gettext("Choose at least one tag that describes your company."),
        "stage": lazy_gettext("Choose the stage your company is at."),
        "contact_name": lazy_gettext("Enter the name of the person investors should contact."),
    },
    "investor": {
        "event_id": CHOOSE_EVENT,
        "name": lazy_gettext("Enter your full name."),
        "organisation": lazy_gettext("Enter the name of your organisation."),
        "interests": lazy_gettext("Choose at least one tag you invest in."),
        "stages": lazy_gettext("Choose at least one stage you invest in."),
    },
}
EMPTY_EMAIL = lazy_gettext("Enter an e-mail address, such as name@example.com.")
EMPTY_CONSENT = lazy_gettext(
    "Tick the box to agree to the privacy notice. We cannot register you without it."
)
BETTER_MESSAGES = {
    "email": lazy_gettext("Enter an e-mail address in the right form, such as name@example.com."),
    "website": lazy_gettext("Enter the whole address of your website, such as https://example.com."),
    "business_number": lazy_gettext("Enter the 10-digit business registration number, such as 123-45-67890."),
    "ticket_min_krw": lazy_gettext("Enter an amount in won using digits, such as 50,000,000."),
    "ticket_max_krw": lazy_gettext("Enter an amount in won using digits, such as 50,000,000."),
}
TICKET_ORDER = lazy_gettext("The largest amount must not be smaller than the smallest amount.")
EVENT_CLOSED = lazy_gettext(
    "This event is no longer taking registrations. Choose another event, or come back later."
)
TOO_LONG_TO_KEEP = lazy_gettext(
    "This description is too long for us to keep while you check your answers. Please shorten it."
)


# --- the registration form -------------------------------------------------------------------


def _draft_key(kind: str) -> str:
    return f"business_{kind}_draft"


def _draft(kind: str) -> dict:
    return dict(session.get(_draft_key(kind)) or {})


def _save(kind: str, draft: dict) -> None:
    session[_draft_key(kind)] = draft


def values_from_form(kind: str) -> dict[str, Any]:
    """What was typed and ticked, by field id, as it is shown again."""
    values: dict[str, Any] = {}
    for field in FIELDS[kind]:
        if field in LIST_FIELDS:
            values[field] = request.form.getlist(field)
        elif field == "consents-privacy":
            values[field] = forms.checked(field)
        else:
            values[field] = forms.text(field)
    return values


def values_from_data(kind: str, data: dict | None) -> dict[str, Any]:
    """A kept draft (or nothing yet) as the form shows it."""
    if not data:
        return {"language": current_language(), "investor_type": "", **{field: [] for field in LIST_FIELDS}}
    values: dict[str, Any] = {}
    for field in FIELDS[kind]:
        if field == "consents-privacy":
            values[field] = bool((data.get("consents") or {}).get("privacy"))
        elif field in ("ticket_min_krw", "ticket_max_krw"):
            values[field] = f"{data[field]:,}" if isinstance(data.get(field), int) else ""
        else:
            values[field] = data.get(field, [] if field in LIST_FIELDS else "")
    return values


def amount(text: str) -> Any:
    """A number of won as typed ("50,000,000", "50 000 000원", "₩5000") as a whole number; other
    text is left for the schema to refuse."""
    digits = text.replace(",", "").replace(" ", "").removeprefix("₩").removesuffix("원")
    return int(digits) if digits.isascii() and digits.isdigit() and len(digits) <= 15 else text


def website(text: str) -> str:
    """An address typed without its scheme ("example.com") is taken as https."""
    if text and "://" not in text and "." in text and " " not in text:
        return "https://" + text
    return text


def data_from_values(kind: str, values: Mapping[str, Any]) -> dict:
    """The registration as the schema reads it: optional fields left empty are left out."""
    data: dict[str, Any] = {"consents": {"privacy": bool(values["consents-privacy"])}}
    for field in FIELDS[kind]:
        value = values.get(field)
        if field == "consents-privacy" or (field in OPTIONAL and not value):
            continue
        if field in ("ticket_min_krw", "ticket_max_krw"):
            value = amount(value)
        elif field == "website":
            value = website(value)
        elif field == "language":
            value = value or current_language()
        data[field] = value
    if kind == "company" and not data.get("stage"):
        data.pop("stage", None)
    return data


def friendly(kind: str, errors: dict[str, str], values: Mapping[str, Any]) -> dict[str, str]:
    """Errors that say what to do, in the order of the fields on the page."""
    if kind == "company" and not values.get("contact_name"):
        # the contact card investors get once a company accepts them names this person
        errors.setdefault("contact_name", "")
    low, high = amount(values.get("ticket_min_krw") or ""), amount(values.get("ticket_max_krw") or "")
    if isinstance(low, int) and isinstance(high, int) and low > high:
        # the schema checks this only once every field is valid: say it now
        errors.setdefault("ticket_max_krw", "")
    empty = EMPTY_MESSAGES[kind]
    for field in list(errors):
        if not values.get(field) and field in empty:
            errors[field] = str(empty[field])
        elif field == "email" and not values.get("email"):
            errors[field] = str(EMPTY_EMAIL)
        elif field == "consents-privacy":
            errors[field] = str(EMPTY_CONSENT)
        elif field == "ticket_max_krw" and isinstance(amount(values.get(field) or ""), int):
            errors[field] = str(TICKET_ORDER)
        elif field in BETTER_MESSAGES:
            errors[field] = str(BETTER_MESSAGES[field])
    position = {field: index for index, field in enumerate(FIELDS[kind])}
    return dict(sorted(errors.items(), key=lambda item: position.get(item[0], len(position))))


def _session_fits() -> bool:
    """Whether the session cookie, as it is now, is small enough for every browser to keep."""
    serializer = current_app.session_interface.get_signing_serializer(current_app)
    return serializer is None or len(serializer.dumps(dict(session))) <= SESSION_COOKIE_BUDGET


def tag_groups(selected: Iterable[str] = ()) -> list[dict]:
    """The tag picker's groups: one per category, each tag with its label and a hint where one
    helps, in the page's language."""
    language = current_language()
    chosen = set(selected)
    groups = []
    for category in TAG_CATEGORIES:
        tags = [tag for tag in taxonomy.TAGS.values() if tag.category == category]
        groups.append(
            {
                "id": category,
                "label": str(CATEGORY_LABELS[category]),
                "options": [
                    {
                        "id": tag.id,
                        "label": taxonomy.label(tag.id, language),
                        "hint": str(TAG_HINTS[tag.id]) if tag.id in TAG_HINTS else "",
                        "checked": tag.id in chosen,
                    }
                    for tag in tags
                ],
            }
        )
    return groups


def stage_options(with_hints: bool = True) -> list[tuple[str, str, str]]:
    language = current_language()
    return [
        (stage, taxonomy.label(stage, language), str(STAGE_HINTS[stage]) if with_hints else "")
        for stage in taxonomy.STAGES
    ]


def investor_type_options() -> list[tuple[str, str]]:
    language = current_language()
    return [(kind, taxonomy.label(kind, language)) for kind in taxonomy.INVESTOR_TYPES] + [
        ("", gettext("Other, or I would rather not say"))
    ]


def language_options() -> list[tuple[str, str]]:
    return [(language, str(LANGUAGE_LABELS[language])) for language in LANGUAGES]


def _form(
    kind: str, values: dict, errors: dict[str, str], open_events: list[dict], status: int = 200
) -> tuple[str, int]:
    return (
        render_template(
            f"business/register_{kind}.html",
            kind=kind,
            values=values,
            errors=errors,
            events=open_events,
            tag_groups=tag_groups(values.get(TAG_FIELD[kind]) or ()),
            stage_options=stage_options(),
            investor_type_options=investor_type_options(),
            language_options=language_options(),
        ),
        status,
    )


@blueprint.route(f"/register/{KIND_PATH}", methods=["GET", "POST"])
def register(kind: str) -> Any:
    draft = _draft(kind)
    if draft.get("done"):
        # a registration was sent from this draft: what comes now is another one
        draft = {}
    open_events = events.taking_registrations()
    if not open_events:
        return render_template("events/none_open.html")
    if request.method == "GET":
        values = values_from_data(kind, draft.get("data"))
        # an event's page links here with ?event=
        values["event_id"] = events.chosen_event_id(
            open_events, request.args.get("event"), values.get("event_id")
        )
        return _form(kind, values, {}, open_events)
    values = values_from_form(kind)
    values["event_id"] = events.chosen_event_id(open_events, values["event_id"])
    loaded, errors = forms.load(SCHEMAS[kind](), data_from_values(kind, values))
    errors = friendly(kind, errors, values)
    if errors:
        return _form(kind, values, errors, open_events, 400)
    if loaded != draft.get("data"):
        # changed answers are another registration: a new key when they are next checked
        draft.pop("key", None)
    draft["data"] = loaded
    _save(kind, draft)
    if not _session_fits():
        session.pop(_draft_key(kind), None)
        return _form(kind, values, {"description": str(TOO_LONG_TO_KEEP)}, open_events, 400)
    return redirect(url_for("business.check", kind=kind), 303)


# --- check your answers, and send ------------------------------------------------------------


def tags_text(tags: Iterable[str]) -> str:
    language = current_language()
    return ", ".join(taxonomy.label(tag, language) for tag in tags if tag in taxonomy.TAGS)


def won(value: int | None) -> str:
    if value is None:
        return gettext("Not given")
    digits = f"{value:,}"
    return gettext("%(amount)s won", amount=digits)


def answer_rows(kind: str, data: dict, change: Callable[[str], str | None], event: dict) -> list[tuple]:
    """Summary-list rows of the answers: (label, value, change address, what the link changes),
    starting with the event they are for."""
    language = current_language()
    not_given = gettext("Not given")

    def row(field: str, label: str, value: str, what: str) -> tuple:
        return (label, value, change(field), what)

    when = f"{events.name_of(event)} ({events.when_text(event)})"
    rows = [row("event_id", gettext("Event"), when, gettext("event"))]
    if kind == "company":
        rows += [
            row("name", gettext("Company name"), data["name"], gettext("company name")),
            row(
                "description", gettext("What your company does"), data["description"], gettext("description")
            ),
            row("tags", gettext("Tags"), tags_text(data["tags"]), gettext("tags")),
            row("stage", gettext("Stage"), taxonomy.label(data["stage"], language), gettext("stage")),
            row(
                "contact_name",
                gettext("Contact person"),
                data.get("contact_name", ""),
                gettext("contact person"),
            ),
            row("website", gettext("Website"), data.get("website") or not_given, gettext("website")),
            row(
                "business_number",
                gettext("Business registration number"),
                data.get("business_number") or not_given,
                gettext("business registration number"),
            ),
        ]
    else:
        investor_type = data.get("investor_type")
        rows += [
            row("name", gettext("Your name"), data["name"], gettext("your name")),
            row("organisation", gettext("Organisation"), data["organisation"], gettext("organisation")),
            row("interests", gettext("Interests"), tags_text(data["interests"]), gettext("interests")),
            row(
                "stages",
                gettext("Stages you invest in"),
                ", ".join(taxonomy.label(stage, language) for stage in data["stages"]),
                gettext("stages"),
            ),
            row(
                "investor_type",
                gettext("Type of investor"),
                taxonomy.label(investor_type, language) if investor_type else not_given,
                gettext("type of investor"),
            ),
            row(
                "ticket_min_krw",
                gettext("Smallest investment"),
                won(data.get("ticket_min_krw")),
                gettext("smallest investment"),
            ),
            row(
                "ticket_max_krw",
                gettext("Largest investment"),
                won(data.get("ticket_max_krw")),
                gettext("largest investment"),
            ),
        ]
    rows += [
        row("email", gettext("E-mail address"), data["email"], gettext("e-mail address")),
        row(
            "language",
            gettext("Language for e-mails"),
            str(LANGUAGE_LABELS.get(data.get("language", "ko"), "")),
            gettext("language for e-mails"),
        ),
        (gettext("Privacy notice"), gettext("You agreed"), None, ""),
    ]
    return rows


def _check_page(kind: str, draft: dict, event: dict) -> str:
    def change(field: str) -> str:
        return url_for("business.register", kind=kind, _anchor=field)

    rows = answer_rows(kind, draft["data"], change, event)
    return render_template("business/check.html", kind=kind, rows=rows)


def _event_gone(kind: str, draft: dict) -> Any:
    """The answers' event takes no registrations any more (or none was chosen, in a draft kept
    from before there were events): the form again, to choose another, or the page saying there
    is none. Everything else stays as answered."""
    open_events = events.taking_registrations()
    if not open_events:
        return render_template("events/none_open.html"), 409
    values = {**values_from_data(kind, draft["data"]), "event_id": events.chosen_event_id(open_events)}
    message = EVENT_CLOSED if draft["data"].get("event_id") else CHOOSE_EVENT
    return _form(kind, values, {"event_id": str(message)}, open_events, 409)


@blueprint.route(f"/register/{KIND_PATH}/check", methods=["GET", "POST"])
@registrations_limit()
def check(kind: str) -> Any:
    draft = _draft(kind)
    if "data" not in draft:
        return redirect(url_for("business.register", kind=kind), 303)
    if draft.get("done"):
        return redirect(url_for("business.done", kind=kind), 303)
    if "key" not in draft:
        # made once, when the answers are first shown: every sending of these answers carries it
        draft["key"] = str(uuid.uuid4())
        _save(kind, draft)
    data = draft["data"]
    event = events.event_of(data.get("event_id"))
    if not events.takes_registrations(event):
        return _event_gone(kind, draft)
    if request.method == "GET":
        return _check_page(kind, draft, event)
    try:
        answer, errors = forms.call("registration", "create", kind, data, draft["key"])
    except HTTPException as error:
        if error.code not in (404, 409):
            raise
        if error.code == 409 and events.takes_registrations(events.event_of(data["event_id"])):
            return render_template("business/already_registered.html", kind=kind, email=data["email"]), 409
        # it stopped taking registrations since the answers were shown
        return _event_gone(kind, draft)
    if errors:
        values = values_from_data(kind, data)
        return _form(kind, values, friendly(kind, errors, values), events.taking_registrations(), 400)
    # what the confirmation shows; never the manage token
    session[DONE] = {
        "kind": kind,
        "id": answer["id"],
        "reference": answer["reference"],
        "email": answer["email"],
        # admitted, or waiting with its place in line
        "admission": answer.get("admission"),
        "waiting_position": answer.get("waiting_position"),
        # both names: the confirmation may be read in the other language
        "event": {key: event[key] for key in ("name_ko", "name_en")},
    }
    draft["done"] = True
    _save(kind, draft)
    return redirect(url_for("business.done", kind=kind), 303)


@blueprint.get(f"/register/{KIND_PATH}/done")
def done(kind: str) -> Any:
    result = session.get(DONE)
    if not result or result.get("kind") != kind:
        return redirect(url_for("business.register", kind=kind), 303)
    suggestions = url_for("business.suggestions", registration_id=result["id"])
    return render_template(
        "business/done.html",
        kind=kind,
        result=result,
        sign_in_url=url_for("public.sign_in", next=suggestions),
    )


# --- suggestions -----------------------------------------------------------------------------

FIT_BANDS = (
    (75, "excellent", lazy_gettext("Very good fit")),
    (50, "good", lazy_gettext("Good fit")),
    (25, "fair", lazy_gettext("Some fit")),
    (0, "weak", lazy_gettext("Weak fit")),
)


def fit(score: float, bands: list[tuple[float, str, str]] | None = None) -> dict:
    """The score in plain words: its band, and the number out of 100 (``bands``: FIT_BANDS with
    their labels translated, when the caller has them already)."""
    number = max(1, round(score))
    bands = bands or [(floor, band, str(label)) for floor, band, label in FIT_BANDS]
    # the first band the score reaches; the last band's floor is 0, so one always is
    _, band, label = next((row for row in bands if score >= row[0]), bands[-1])
    text = gettext("%(fit)s: score %(score)s out of 100", fit=label, score=number)
    return {"band": band, "label": str(label), "score": number, "text": text}


def reason_texts(reasons: Iterable[Mapping], language: str) -> list[str]:
    texts = []
    for reason in reasons:
        text = reason.get("text") or {}
        if text.get(language) or text.get("en"):
            texts.append(text.get(language) or text["en"])
    return texts


def counterpart_tags(profile: Mapping) -> list[str]:
    return [tag for tag in (profile.get("tags") or profile.get("interests") or []) if tag in taxonomy.TAGS]


def counterpart_stages(profile: Mapping) -> list[str]:
    if profile.get("stage"):
        return [profile["stage"]]
    return list(profile.get("stages") or [])


def read_filters(args: Mapping) -> dict:
    """The filters of the query string; unknown values are no filter."""
    tag = args.get("tag", "")
    stages = [stage for stage in args.getlist("stage") if stage in taxonomy.STAGES]
    page = args.get("page", "1")
    return {
        "tag": tag if tag in taxonomy.MATCHING_TAGS else "",
        "stage": list(dict.fromkeys(stages)),
        "page": int(page) if page.isascii() and page.isdigit() and len(page) < 6 else 1,
    }


def query_of(filters: Mapping, page: int | None = None) -> dict:
    """The query string that keeps ``filters`` (and goes to ``page``)."""
    query: dict[str, Any] = {}
    if filters.get("tag"):
        query["tag"] = filters["tag"]
    if filters.get("stage"):
        query["stage"] = filters["stage"]
    page = filters.get("page", 1) if page is None else page
    if page > 1:
        query["page"] = page
    return query


def load_suggestions(kind: str, party_id: str, caller: str) -> list[dict]:
    """The party's suggestions, best first, each joined with its counterpart's public profile
    (one call for them all); a counterpart no longer registered is left out. Only what filtering
    needs is worked out here: the words of a card are for the cards shown (``described``).
    ``caller``: the party, as the gateway vouches for it (``signed_in.acting_for``)."""
    counterpart = COUNTERPART[kind]
    id_field = f"{counterpart}_id"
    items = upstream.call("matching", "suggestions", kind, party_id, caller, SUGGESTIONS_LIMIT)
    if not items:
        return []
    profiles = upstream.call("registration", "public_profiles", [item[id_field] for item in items], caller)
    entries = []
    for item in items:
        profile = profiles.get(item[id_field])
        if profile:
            entries.append(
                {
                    "id": item[id_field],
                    "kind": counterpart,
                    "profile": profile,
                    "tags": counterpart_tags(profile),
                    "stages": counterpart_stages(profile),
                    "score": float(item.get("score") or 0),
                    "reasons": item.get("reasons") or [],
                    "interest": item.get("interest"),
                }
            )
    return entries


def described(entries: Iterable[dict]) -> list[dict]:
    """Suggestions as their cards show them, in the page's language: name, fit in words,
    reasons, tags and stages."""
    language = current_language()
    bands = [(floor, band, str(label)) for floor, band, label in FIT_BANDS]
    cards = []
    for entry in entries:
        profile = entry["profile"]
        investor_type = profile.get("investor_type")
        cards.append(
            {
                **entry,
                "name": profile.get("name") or profile.get("organisation") or "",
                "description": profile.get("description", ""),
                "website": profile.get("website", ""),
                "investor_type": taxonomy.label(investor_type, language)
                if investor_type in taxonomy.TAGS
                else "",
                "tag_labels": [taxonomy.label(tag, language) for tag in entry["tags"]],
                "stage_labels": [
                    taxonomy.label(stage, language) for stage in entry["stages"] if stage in taxonomy.TAGS
                ],
                "fit": fit(entry["score"], bands),
                "reasons": reason_texts(entry["reasons"], language),
            }
        )
    return cards


def matches(entry: Mapping, filters: Mapping) -> bool:
    if filters["tag"] and filters["tag"] not in entry["tags"]:
        return False
    return not filters["stage"] or bool(set(filters["stage"]) & set(entry["stages"]))


def tag_filter_groups(entries: list[dict], chosen: str) -> list[dict]:
    """The tags the suggestions carry, by category, with how many carry each; and the chosen one
    even if none does."""
    counts: dict[str, int] = {}
    for entry in entries:
        for tag in entry["tags"]:
            counts[tag] = counts.get(tag, 0) + 1
    if chosen:
        counts.setdefault(chosen, 0)
    language = current_language()
    groups = []
    for category in TAG_CATEGORIES:
        options = [
            (tag.id, f"{taxonomy.label(tag.id, language)} ({counts[tag.id]})")
            for tag in taxonomy.TAGS.values()
            if tag.category == category and tag.id in counts
        ]
        if options:
            groups.append({"label": str(CATEGORY_LABELS[category]), "options": options})
    return groups


INTEREST_ORDER = {"pending": 0, "accepted": 1, "declined": 2}


def read_suggestions(kind: str, party_id: str) -> tuple[list[dict], dict]:
    """The party's suggestions and the contact cards of the accepted counterparts. Three calls
    at most, whatever the number of suggestions: matching's list, the public profiles, and the
    contact cards, each for the party as the gateway vouches (the signed-in person acting for
    one of their registrations, found by ``signed_in.my_registration``)."""
    caller = signed_in.acting_for(party_id)
    entries = load_suggestions(kind, party_id, caller)
    accepted = [entry["id"] for entry in entries if entry["interest"] == "accepted"]
    cards = upstream.call("registration", "contact_cards", accepted, caller) if accepted else {}
    return entries, cards


def suggestions_view(registration: Mapping, args: Mapping) -> dict:
    """Everything the suggestions page shows, from the party's suggestions as recently read."""
    kind = registration["kind"]
    recent: RecentSuggestions = current_app.extensions["business.recent_suggestions"]
    entries, cards = recent.get(registration["id"], lambda: read_suggestions(kind, registration["id"]))
    interested = sorted(
        (entry for entry in entries if entry["interest"]),
        key=lambda entry: INTEREST_ORDER.get(entry["interest"], 3),
    )
    filters = read_filters(args)
    shown = [entry for entry in entries if matches(entry, filters)]
    pages = max(1, math.ceil(len(shown) / PER_PAGE))
    page = min(filters["page"], pages)
    filters["page"] = page
    first = (page - 1) * PER_PAGE
    return {
        "registration": registration,
        "kind": kind,
        "title_name": registration.get("organisation") if kind == "investor" else registration.get("name"),
        "total": len(entries),
        "interested": described(interested),
        "cards": cards,
        "filtered": bool(filters["tag"] or filters["stage"]),
        "filters": filters,
        "tag_groups": tag_filter_groups(entries, filters["tag"]),
        "stage_options": stage_options(with_hints=False),
        "shown_count": len(shown),
        "items": described(shown[first : first + PER_PAGE]),
        "first_number": first + 1,
        "page": page,
        "pages": pages,
        "page_links": [
            (
                number,
                url_for(
                    "business.suggestions", registration_id=registration["id"], **query_of(filters, number)
                ),
            )
            for number in range(1, pages + 1)
        ],
        "here": query_of(filters),
    }


def suggestions_count_text(count: int) -> str:
    return ngettext("%(num)d suggestion", "%(num)d suggestions", count)


def shown_count_text(count: int) -> str:
    return ngettext(
        "%(num)d suggestion matches your filters.", "%(num)d suggestions match your filters.", count
    )


def investors_interested_text(count: int) -> str:
    return ngettext(
        "%(num)d investor is waiting for your answer.",
        "%(num)d investors are waiting for your answer.",
        count,
    )


@blueprint.get("/my/<string:registration_id>/suggestions")
@signed_in.person_required
def suggestions(registration_id: str) -> Any:
    registration = signed_in.my_registration(registration_id)
    if registration["kind"] not in KINDS:
        abort(404)
    return render_template(
        "business/suggestions.html",
        suggestions_count_text=suggestions_count_text,
        shown_count_text=shown_count_text,
        investors_interested_text=investors_interested_text,
        **suggestions_view(registration, request.args),
    )


def _back_to_suggestions(registration_id: str) -> Any:
    """To the suggestions page as it was (same filters and page)."""
    return redirect(
        url_for(
            "business.suggestions", registration_id=registration_id, **query_of(read_filters(request.args))
        ),
        303,
    )


def _name_of(counterpart_id: str, party_id: str) -> str:
    """The counterpart's name, as ``party_id`` (the signed-in person's) sees its public profile."""
    profiles = upstream.call(
        "registration", "public_profiles", [counterpart_id], signed_in.acting_for(party_id)
    )
    profile = profiles.get(counterpart_id) or {}
    return profile.get("name") or profile.get("organisation") or ""


@blueprint.post("/my/<string:investor_id>/suggestions/<string:company_id>/interest")
@signed_in.person_required
def express_interest(investor_id: str, company_id: str) -> Any:
    signed_in.my_registration(investor_id, "investor")
    try:
        upstream.call(
            "matching", "express_interest", investor_id, company_id, signed_in.acting_for(investor_id)
        )
        mark_changed()
    except HTTPException as error:
        if error.code != 404:
            raise
        flash(gettext("That company is no longer registered, so we could not tell them."), FLASH_PROBLEM)
        return _back_to_suggestions(investor_id)
    flash(
        gettext(
            "We told %(company)s that you are interested. "
            "Their answer will show here, and we will e-mail you.",
            company=_name_of(company_id, investor_id),
        ),
        FLASH_STATUS,
    )
    return _back_to_suggestions(investor_id)


@blueprint.post("/my/<string:company_id>/interests/<string:investor_id>")
@signed_in.person_required
def answer_interest(company_id: str, investor_id: str) -> Any:
    signed_in.my_registration(company_id, "company")
    choice = request.form.get("accept")
    if choice not in ("yes", "no"):
        abort(400)
    accept = choice == "yes"
    try:
        caller = signed_in.acting_for(company_id)
        upstream.call("matching", "answer_interest", company_id, investor_id, accept, caller)
        mark_changed()
    except HTTPException as error:
        if error.code == 404:
            flash(gettext("We could not find that investor's interest any more."), FLASH_PROBLEM)
        elif error.code == 409:
            flash(
                gettext("You already answered this investor, and an answer cannot be changed."), FLASH_PROBLEM
            )
        else:
            raise
        return _back_to_suggestions(company_id)
    name = _name_of(investor_id, company_id)
    if accept:
        message = gettext(
            "You accepted the interest of %(investor)s. You can now see each other's contact details, "
            "and we have e-mailed them to you both.",
            investor=name,
        )
    else:
        message = gettext("You declined the interest of %(investor)s. We will let them know.", investor=name)
    flash(message, FLASH_STATUS)
    return _back_to_suggestions(company_id)
