"""What every answer carries for safety, CSRF tokens on every form, and per-client rate limits.

Rate limits are counted by Flask-Limiter in each gunicorn worker's memory: with W workers a client
may get up to W times the limit. That is enough to stop a script hammering one replica; a shared
count across replicas would need a shared store (Flask-Limiter supports Redis) that this platform
does not otherwise need.
"""

import time
from functools import cache
from typing import Any

from flask import Flask, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

# no inline script or style anywhere: every script and style sheet is a file under /static
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
# answers that are the same for everyone and hold nothing personal may be cached
CACHEABLE_PATHS = ("/static/", "/api/v1/tags", "/api/openapi.json", "/healthz")

csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, storage_uri="memory://")


def init(app: Flask) -> None:
    csrf.init_app(app)
    limiter.init_app(app)

    @app.after_request
    def security_headers(response: Any) -> Any:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        if not request.path.startswith(CACHEABLE_PATHS):
            headers["Cache-Control"] = "no-store"
        return response


def retry_after_seconds() -> int:
    """How long the client must wait, when a rate limit refused its request."""
    current = limiter.current_limit
    if current is None:
        return 60
    return max(1, int(current.reset_at - time.time()) + 1)


def per_minute(setting: str) -> tuple[Any, Any]:
    """The arguments of ``limiter.limit`` for a per-client limit per minute read from the settings
    named ``setting`` (0 turns it off)."""

    def limit() -> str:
        return f"{max(getattr(current_app.config['SETTINGS'], setting), 1)}/minute"

    def off() -> bool:
        return getattr(current_app.config["SETTINGS"], setting) <= 0

    return limit, off


# one decorator object per limit: routes of the same name (the API's three registration routes)
# then share one count instead of counting a request once per route
@cache
def registrations_limit() -> Any:
    """Decorate a route that creates a registration."""
    limit, off = per_minute("registrations_per_client_per_minute")
    return limiter.limit(limit, exempt_when=off, methods=["POST"])


@cache
def sign_ins_limit() -> Any:
    """Decorate a route that e-mails a sign-in link."""
    limit, off = per_minute("sign_ins_per_client_per_minute")
    return limiter.limit(limit, exempt_when=off, methods=["POST"])
