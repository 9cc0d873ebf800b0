"""The gateway's WSGI application, served by gunicorn: ``gateway.app:create_app()``."""

import json
import logging

from flask import Flask, jsonify, request
from flask_smorest import Api, abort
from werkzeug.exceptions import HTTPException

from gateway import upstream, web
from gateway.api import api
from gateway.recent_answers import RecentAnswers
from gateway.shedding import seconds_queued
from gateway.web.i18n import translate_errors
from gateway.web.security import csrf, retry_after_seconds
from shared import logs
from shared.messaging import broker_reachable
from shared.settings import Settings

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
# the longest request line (method, path and query) the API takes
MAX_REQUEST_LINE = 4094
TOO_LARGE = f"The body is larger than {MAX_BODY_BYTES // 1024} KiB."
SERVICES = ("registration", "matching", "notification")
PROBES = ("/healthz", "/readyz")
RETRY_AFTER_SECONDS = 2
READINESS_SECONDS = 1.0
# an organiser token shorter than this is guessable
MIN_TOKEN_LENGTH = 16
# the only API paths that take a form body instead of JSON
FORM_PATHS = ("/api/v1/unsubscribe",)


class JsonErrorsApi(Api):
    """Errors as pages on pages; on the API, flask-smorest's JSON errors in the caller's language
    (``Accept-Language``), with a message also for errors raised by Werkzeug itself."""

    def handle_http_exception(self, error: HTTPException) -> object:
        if error.code == 429 and not getattr(error, "data", None):
            # refused by a per-client rate limit (Flask-Limiter), which says nothing of when to retry
            error.data = {
                "message": "Too many requests from this client; try again later.",
                "headers": {"Retry-After": str(retry_after_seconds())},
            }
        if web.is_page_request():
            return web.error_page(error)
        if not getattr(error, "data", None):
            message = TOO_LARGE if error.code == 413 else error.description
            error.data = {"message": message}
        error.data = translate_errors(error.data)
        return super().handle_http_exception(error)


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    logs.configure("gateway", settings.log_level, settings.log_format)
    if not settings.caller_signing_key:
        raise RuntimeError("CALLER_SIGNING_KEY must be set: services take only callers the gateway signs.")
    for name, value in (
        ("ORGANISER_TOKEN", settings.organiser_token),
        ("GATEWAY_SECRET_KEY", settings.gateway_secret_key),
        ("CALLER_SIGNING_KEY", settings.caller_signing_key),
    ):
        too_short = name == "ORGANISER_TOKEN" and value and len(value) < MIN_TOKEN_LENGTH
        if value.startswith("change-me") or too_short:
            raise RuntimeError(f"{name} is a placeholder or too short: generate a real one (see the README).")
    app = Flask(__name__)
    app.config.update(
        SETTINGS=settings,
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        JSON_SORT_KEYS=False,
        API_TITLE="Tech Companion Expo",
        API_VERSION="1.0.0",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        # served from here (make assets), started by a script file: nothing from a CDN, no inline script
        OPENAPI_SWAGGER_UI_URL="/static/vendor/swagger-ui/",
        API_SPEC_OPTIONS={
            "info": {
                "description": "Registration, matching and notifications for Seoul's "
                "Tech Companion Network and Expo (기술동행 네트워크 · 박람회)."
            },
            "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
        },
    )
    app.json.ensure_ascii = False
    rest = JsonErrorsApi(app)
    rest.register_blueprint(api)
    # the API authenticates with Bearer tokens, never with the pages' cookie: no CSRF to guard against
    csrf.exempt(api)
    web.init(app, settings)
    _add_load_shedding(app, settings.gateway_max_queue_seconds)
    _add_input_guards(app)
    _add_probes(app, settings)
    return app


def _add_load_shedding(app: Flask, max_queue_seconds: float) -> None:
    """Refuse at once what waited too long for a thread (0 turns this off); see ``shedding``."""
    if max_queue_seconds <= 0:
        return

    @app.before_request
    def refuse_when_overloaded() -> None:
        if request.path not in PROBES and seconds_queued() > max_queue_seconds:
            abort(
                503,
                message="Too many requests at once; please try again in a few seconds.",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
            )


def _add_input_guards(app: Flask) -> None:
    @app.before_request
    def refuse_long_addresses() -> None:
        line = len(request.method) + len(request.full_path.encode()) + len(" HTTP/1.1 ")
        if line > MAX_REQUEST_LINE:
            abort(414, message=f"The address is longer than {MAX_REQUEST_LINE} bytes.")

    @app.before_request
    def require_json_bodies() -> None:
        if request.method in ("POST", "PATCH", "PUT") and request.path.startswith("/api/"):
            # a one-click unsubscribe comes as a form, as mail clients send it (RFC 8058)
            one_click = request.path in FORM_PATHS and request.mimetype == "application/x-www-form-urlencoded"
            if request.content_length and not request.is_json and not one_click:
                abort(415, message="Send the body as application/json.")
            if request.is_json:
                raw = request.get_data(cache=True)
                try:
                    raw.decode("utf-8")
                    json.loads(raw or b"null")
                except (UnicodeDecodeError, ValueError, RecursionError):
                    abort(400, message="The body is not valid JSON (UTF-8), or is nested too deeply.")


def _add_probes(app: Flask, settings: Settings) -> None:
    """``/healthz``: the process answers. ``/readyz``: the broker and every service answer,
    as last checked: a check is made at most every READINESS_SECONDS per gateway process, in the
    background, whatever the number of probes (anyone can ask, and probes are never shed)."""
    readiness = RecentAnswers(("readiness",), READINESS_SECONDS)

    def check() -> dict[str, bool]:
        checks = {"broker": broker_reachable(settings.amqp_uri)}
        for service in SERVICES:
            checks[service] = checks["broker"] and _service_ready(service)
        return checks

    @app.get("/healthz")
    def healthz() -> tuple:
        return jsonify(status="ok"), 200

    @app.get("/readyz")
    def readyz() -> tuple:
        checked_at, checks = readiness.get("readiness", check, wait=True)
        ready = all(checks.values())
        status = "ready" if ready else "not ready"
        return jsonify(status=status, checks=checks, checked_at=checked_at.isoformat()), 200 if ready else 503


def _service_ready(service: str) -> bool:
    """The service answers, which includes a query on its own store."""
    try:
        upstream.call(service, "health", timeout=2.0)
        return True
    except HTTPException:
        return False
