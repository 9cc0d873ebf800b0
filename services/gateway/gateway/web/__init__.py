"""The web pages, served by the gateway next to the API: server-rendered, Korean first with English
everywhere, styled with KRDS, every form working without JavaScript.

``init(app)`` sets up languages, sessions, CSRF, security headers and rate limits, and adds the
pages of each part of the site (one blueprint per part).
"""

from datetime import timedelta

from flask import Flask, render_template, request
from werkzeug.exceptions import HTTPException

from gateway.web import (
    account,
    attendee,
    business,
    checkin,
    events,
    i18n,
    organiser,
    public,
    security,
    signed_in,
)
from shared.settings import Settings

BLUEPRINTS = (public, events, attendee, account, business, organiser, checkin)


def init(app: Flask, settings: Settings) -> None:
    if not settings.gateway_secret_key:
        raise RuntimeError("GATEWAY_SECRET_KEY must be set: it signs the pages' session cookies.")
    app.config.update(
        SECRET_KEY=settings.gateway_secret_key,
        SESSION_COOKIE_NAME="tcx_session",
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=settings.public_base_url.startswith("https://"),
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_hours),
        # a form stays valid as long as its session
        WTF_CSRF_TIME_LIMIT=None,
    )
    i18n.init(app)
    security.init(app)
    for part in BLUEPRINTS:
        app.register_blueprint(part.blueprint)

    @app.context_processor
    def page_context() -> dict:
        return {
            "language": i18n.current_language(),
            "signed_in_email": signed_in.email(),
            "is_organiser": signed_in.is_organiser(),
        }


def is_page_request() -> bool:
    return not request.path.startswith("/api/") and request.path not in ("/healthz", "/readyz")


def error_page(error: HTTPException) -> tuple[str, int, dict]:
    """An error on a page, as a page in the reader's language (with the error's headers, such as
    Retry-After)."""
    headers = (getattr(error, "data", None) or {}).get("headers", {})
    return render_template("public/error.html", code=error.code), error.code or 500, headers
