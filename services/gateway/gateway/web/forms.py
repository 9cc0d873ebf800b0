"""Forms on pages: validation messages placed by field, and service answers turned into them.

A field's id on the page is its path in the JSON body joined with ``-``
(``consents-privacy``), so an error from any layer lands next to its field and in the summary.
"""

from typing import Any

from flask import request
from marshmallow import Schema, ValidationError
from werkzeug.exceptions import HTTPException

from gateway import upstream
from gateway.web.i18n import translate_message


def field_errors(messages: Any, prefix: str = "") -> dict[str, str]:
    """Field id → the first message for it, translated; list positions collapse to the list."""
    found: dict[str, str] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            key = str(key)
            path = prefix if key.isdigit() else (f"{prefix}-{key}" if prefix else key)
            for field_id, message in field_errors(value, path).items():
                found.setdefault(field_id, message)
    elif isinstance(messages, list) and messages:
        first = messages[0]
        if isinstance(first, str):
            found[prefix or "form"] = translate_message(first)
        else:
            found.update(field_errors(first, prefix))
    elif isinstance(messages, str):
        found[prefix or "form"] = translate_message(messages)
    return found


def load(schema: Schema, data: dict) -> tuple[dict | None, dict[str, str]]:
    """The data as ``schema`` loads it, or None and the errors by field id."""
    try:
        return schema.load(data), {}
    except ValidationError as error:
        return None, field_errors(error.messages)


def call(service: str, method: str, *args: Any) -> tuple[Any, dict[str, str]]:
    """A service call made for a form: its answer, or None and the service's field errors.
    Any other failure stays an error page."""
    try:
        return upstream.call(service, method, *args), {}
    except HTTPException as error:
        data = getattr(error, "data", None) or {}
        if error.code == 422 and data.get("errors"):
            return None, field_errors(data["errors"].get("json", data["errors"]))
        raise


def checked(name: str) -> bool:
    """A checkbox of the submitted form: ticked or not (an unticked box is not sent at all)."""
    return request.form.get(name) in ("yes", "on", "true", "1")


def text(name: str) -> str:
    return request.form.get(name, "").strip()
