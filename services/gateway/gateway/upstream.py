"""Calls to the services, with their answers turned into HTTP errors where they are errors."""

import logging
from typing import Any

from flask import current_app
from flask_smorest import abort

from shared import errors  # noqa: F401 - registers the service errors for deserialisation
from shared.caller_assertions import vouch
from shared.errors import Invalid, ServiceError, TooManyRequests
from shared.rpc import ServiceUnavailable, thread_client

log = logging.getLogger(__name__)


def call(service: str, method: str, *args: Any, timeout: float | None = None, **kwargs: Any) -> Any:
    settings = current_app.config["SETTINGS"]
    client = thread_client(settings.amqp_uri, settings.rpc_timeout)
    try:
        return client.call(service, method, *args, timeout=timeout, **kwargs)
    except Invalid as error:
        abort(422, message=error.message, errors={"json": error.fields})
    except TooManyRequests as error:
        abort(429, message=error.message, headers={"Retry-After": str(error.retry_after)})
    except ServiceError as error:
        abort(error.http_status, message=error.message)
    except ServiceUnavailable as error:
        log.warning("service unavailable", extra={"target": service, "method": method, "error": str(error)})
        abort(503, message=f"The {service} service is not available right now; try again shortly.")
    except Exception:
        log.exception("unexpected error from a service", extra={"target": service, "method": method})
        abort(502, message=f"The {service} service failed to answer this request.")


def vouched(caller: dict) -> str:
    """``caller`` as the gateway vouches for it to a service: a signed, short-lived assertion
    (shared/caller_assertions.py)."""
    return vouch(caller, current_app.config["SETTINGS"].caller_signing_key)
