"""Who calls a service, as the gateway vouches: a signed, short-lived caller assertion.

The gateway signs the caller (``{"token": ...}``, ``{"email": ...}`` or ``{"organiser": true,
...}``) with ``CALLER_SIGNING_KEY``; a service takes a caller only with the gateway's signature,
made less than ``MAX_AGE_SECONDS`` ago. Whoever can publish on the broker, but does not hold the
key, cannot act as an organiser or as someone signed in; an assertion seen on the broker is no use
a minute later. Signing and checking are itsdangerous's (HMAC-SHA256 over a timestamped payload,
with a salt of this purpose only).
"""

import hashlib
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

from shared.errors import Forbidden

SALT = "tech-companion-expo/caller-assertion"
MAX_AGE_SECONDS = 60


class NotVouched(Exception):
    """No valid assertion: unsigned, signed with another key, altered or too old."""


def vouch(caller: dict, key: str) -> str:
    if not key:
        raise NotVouched("CALLER_SIGNING_KEY is not set")
    return _serializer(key).dumps(caller)


def vouched_caller(assertion: Any, key: str) -> dict:
    """The caller an assertion vouches for; raises NotVouched if it vouches for nobody."""
    if not key:
        raise NotVouched("CALLER_SIGNING_KEY is not set")
    if not isinstance(assertion, str) or len(assertion) > 2000:
        raise NotVouched("not a caller assertion")
    try:
        caller = _serializer(key).loads(assertion, max_age=MAX_AGE_SECONDS)
    except BadSignature as error:
        raise NotVouched("the caller assertion is not the gateway's, or is too old") from error
    if not isinstance(caller, dict):
        raise NotVouched("not a caller assertion")
    return caller


def _serializer(key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(key, salt=SALT, signer_kwargs={"digest_method": hashlib.sha256})


def acts_for_someone(caller: dict) -> bool:
    """Whether ``caller`` (as the gateway vouched for it) is an organiser or someone acting for a
    registration, whichever (``{"registration_id": ...}``, which the gateway vouches for once
    registration has told it so): not an anonymous caller, nor one the gateway knows only by a
    token or an address it has not checked against a registration."""
    if caller.get("organiser") is True:
        return True
    registration_id = caller.get("registration_id")
    return isinstance(registration_id, str) and registration_id != ""


def require_vouched(assertion: Any, key: str, registration_id: str | None = None) -> dict:
    """The caller, if the gateway vouches that it is an organiser or, when ``registration_id`` is
    given, someone acting for that registration (``{"registration_id": ...}``, which the gateway
    vouches for once registration has told it so); raises Forbidden otherwise."""
    try:
        caller = vouched_caller(assertion, key)
    except NotVouched as error:
        raise Forbidden("The gateway does not vouch for this caller.") from error
    if caller.get("organiser") is True:
        return caller
    if registration_id is not None and caller.get("registration_id") == registration_id:
        return caller
    raise Forbidden("This caller may not act for that registration.")
