"""Which language a page or an API answer speaks, and the translation of validation messages.

Korean first: ``?lang=`` (remembered in a cookie), then that cookie, then the browser's
``Accept-Language``, then Korean. Messages are English gettext ids with Korean catalogs, one
catalog folder per part of the site under ``gateway/translations/`` (compiled by ``make
translations``), so the parts can be translated independently.
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

# marshmallow and our own fields put numbers into some messages; these are translated by pattern,
# with the number kept (every other message is looked up as it is)
_NUMBERED_MESSAGES = (
    (re.compile(r"Longer than maximum length (\d+)\."), "Longer than maximum length %(number)s."),
    (re.compile(r"Shorter than minimum length (\d+)\."), "Shorter than minimum length %(number)s."),
    (re.compile(r"Must be greater than or equal to (\d+) and less than or equal to (\d+)\."),
     "Must be between %(number)s and %(other)s."),
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
    for choice in (request.args.get("lang"), request.cookies.get(LANGUAGE_COOKIE)):
        if choice in LANGUAGES:
            return choice
    return request.accept_languages.best_match(LANGUAGES) or DEFAULT_LANGUAGE


def current_language() -> str:
    return str(get_locale() or DEFAULT_LANGUAGE)


def translate_message(message: str) -> str:
    for pattern, message_id in _NUMBERED_MESSAGES:
        found = pattern.fullmatch(message)
        if found:
            numbers = found.groups() + ("",)
            return gettext(message_id, number=numbers[0], other=numbers[1])
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
