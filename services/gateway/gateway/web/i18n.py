"""Which language a page or an API answer speaks, and the translation of validation messages.

Pages are Korean first: ``?lang=`` (remembered in a cookie), then that cookie, then the
browser's ``Accept-Language``, then Korean. The API follows ``Accept-Language``, else English.
Messages are English gettext ids with Korean catalogs, one catalog folder per part of the site
under ``gateway/translations/`` (compiled by ``make translations``), so that the parts can be
translated independently.
"""

import re
from pathlib import Path
from typing import Any

from flask import Flask, request
from flask_babel import Babel, get_locale, gettext

LANGUAGES = ("ko", "en")
DEFAULT_LANGUAGE = "ko"
LANGUAGE_COOKIE = "lang"
TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"


def N_(message: str) -> str:  # noqa: N802 - the name gettext tools look for
    """Mark a message for the catalogs without translating it here."""
    return message


# marshmallow and our own fields put values into some messages; these are translated by pattern,
# keeping the values
_MESSAGES_WITH_VALUES = (
    (re.compile(r"Longer than maximum length (\d+)\."), N_("Use at most %(a)s characters.")),
    (re.compile(r"Shorter than minimum length (\d+)\."), N_("Use at least %(a)s characters.")),
    (
        re.compile(r"Length must be between 1 and (\d+)\."),
        N_("Fill this in: 1 to %(a)s characters or choices."),
    ),
    (re.compile(r"Length must be between (\d+) and (\d+)\."), N_("Use between %(a)s and %(b)s.")),
    (
        re.compile(r"Must be greater than or equal to (\d+) and less than or equal to (\d+)\."),
        N_("Enter a number from %(a)s to %(b)s."),
    ),
    (re.compile(r"Must be one of: .*\."), N_("Choose one of the options.")),
    (re.compile(r"Unknown tag (.*); see GET /api/v1/tags\."), N_("Unknown tag %(a)s.")),
    (
        re.compile(r"Registration for this event opens at (.*) \(Seoul time\)\."),
        N_("Registration for this event opens at %(a)s (Seoul time)."),
    ),
    (re.compile(r"No event (.*)\."), N_("There is no event %(a)s.")),
)
# the messages without values that the shared schemas and the services give, so that extraction
# puts them in the catalog
VALIDATION_MESSAGES = (
    N_("Missing data for required field."),
    N_("Field may not be null."),
    N_("Invalid value."),
    N_("Invalid input type."),
    N_("Unknown field."),
    N_("Not a valid string."),
    N_("Not a valid email address."),
    N_("Not a valid integer."),
    N_("Not a valid boolean."),
    N_("Not a valid list."),
    N_("Not a valid URL."),
    N_("Too many items."),
    N_("Must not contain control characters or line breaks."),
    N_("Must not contain control characters, direction overrides or line breaks."),
    N_("The part after @ must be a domain name such as example.kr."),
    N_("That domain is reserved and receives no e-mail."),
    N_("Must be valid Unicode text."),
    N_("The part before @ must use Latin letters, digits and . _ + -"),
    N_("Not a valid e-mail domain."),
    N_("Use the form 123-45-67890."),
    N_("Must not be below ticket_min_krw."),
    N_("Consent to the privacy notice is required."),
    N_(
        "Accessibility needs are kept only with consent to sensitive information "
        '("consents": {"sensitive": true}).'
    ),
    N_(
        "This visitor type is sensitive information, kept only with consent to sensitive information "
        '("consents": {"sensitive": true}).'
    ),
    N_("Some fields are invalid."),
    N_("Name at most as many companions as come along (companions)."),
    N_("Only the accessibility export lists names with needs."),
    # the events of the programme
    N_("Enter a date and time such as 2026-06-21 14:00."),
    N_("Enter a date between the years 2000 and 2100."),
    N_("Give the start time too."),
    N_("Must be after the start."),
    N_("Must be after registration opens."),
    N_("Must not be after the event ends."),
    N_("An event is opened only with its start time."),
    N_("A new event is a draft or open."),
    N_("A cancelled event stays cancelled."),
    N_("An event that has been open never goes back to being a draft."),
    N_("A draft is opened before it is closed."),
    N_("Registration for this event is closed."),
    N_("This event is cancelled, so it takes no registrations."),
    N_("No such event."),
    N_(
        "Personal data is destroyed only when nobody is still to come: once the event is over or "
        "cancelled, or closed without a date."
    ),
)


def init(app: Flask) -> None:
    app.config["BABEL_DEFAULT_LOCALE"] = DEFAULT_LANGUAGE
    app.config["BABEL_DEFAULT_TIMEZONE"] = "Asia/Seoul"
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(
        str(folder) for folder in sorted(TRANSLATIONS.iterdir()) if folder.is_dir()
    )
    Babel(app, locale_selector=select_language)
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    app.jinja_env.add_extension("jinja2.ext.do")

    @app.after_request
    def remember_language(response: Any) -> Any:
        chosen = request.args.get("lang")
        if chosen in LANGUAGES and request.cookies.get(LANGUAGE_COOKIE) != chosen:
            response.set_cookie(LANGUAGE_COOKIE, chosen, max_age=365 * 24 * 3600, samesite="Lax")
        return response


def select_language() -> str:
    if request.path.startswith("/api/"):
        # programs say what they want with Accept-Language; without it they get English
        return request.accept_languages.best_match(LANGUAGES) or "en"
    for choice in (request.args.get("lang"), request.cookies.get(LANGUAGE_COOKIE)):
        if choice in LANGUAGES:
            return choice
    return request.accept_languages.best_match(LANGUAGES) or DEFAULT_LANGUAGE


def current_language() -> str:
    return str(get_locale() or DEFAULT_LANGUAGE)


def translate_message(message: str) -> str:
    for pattern, message_id in _MESSAGES_WITH_VALUES:
        found = pattern.fullmatch(message)
        if found:
            values = found.groups() + ("", "")
            return gettext(message_id, a=values[0], b=values[1])
    return gettext(message)


def translate_errors(errors: Any) -> Any:
    """The same field-keyed structure of validation messages, each in the request's language."""
    if isinstance(errors, dict):
        return {key: translate_errors(value) for key, value in errors.items()}
    if isinstance(errors, list):
        return [translate_errors(value) for value in errors]
    if isinstance(errors, str):
        return translate_message(errors)
    return errors
