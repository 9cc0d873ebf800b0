"""Who is calling: a registrant with its manage token, or an organiser with the organiser token.

``Authorization: Bearer <token>``. No or malformed credentials: 401. A token that does not
give access to the resource asked for: 403 (the same whether or not the resource exists).
"""

import hmac
from dataclasses import dataclass

from flask import current_app, request
from flask_smorest import abort

from gateway import upstream

MAX_TOKEN_LENGTH = 200


@dataclass(frozen=True)
class Caller:
    token: str
    organiser: bool

    def acting_for(self, registration_id: str) -> str:
        """How the caller is passed to a service that takes the gateway's word that it may act
        for ``registration_id`` (once ``require_party`` checked it): vouched for by the gateway."""
        return upstream.vouched(
            {"organiser": True} if self.organiser else {"registration_id": registration_id}
        )

    def as_rpc(self) -> str:
        """How the caller is passed to a service, which checks the token itself: vouched for by
        the gateway."""
        return upstream.vouched({"organiser": True} if self.organiser else {"token": self.token})


def caller() -> Caller:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_LENGTH or not token.isprintable():
        abort(
            401,
            message="Send your token as 'Authorization: Bearer <token>'.",
            headers={"WWW-Authenticate": 'Bearer realm="tech-companion-expo"'},
        )
    organiser_token = current_app.config["SETTINGS"].organiser_token
    is_organiser = bool(organiser_token) and hmac.compare_digest(token.encode(), organiser_token.encode())
    return Caller(token=token, organiser=is_organiser)


def require_organiser() -> Caller:
    who = caller()
    if not who.organiser:
        abort(403, message="Only organisers may see this.")
    return who


def require_party(kind: str, registration_id: str) -> Caller:
    """The caller, if it is the registrant ``registration_id`` of ``kind`` or an organiser."""
    who = caller()
    if who.organiser:
        return who
    identity = upstream.call("registration", "identify", who.token, who.as_rpc())
    if not identity or identity != {"registration_id": registration_id, "kind": kind}:
        abort(403, message="This token does not give access to that registration.")
    return who


def registrant_id() -> str | None:
    """The calling registrant's id; None for an organiser. 401 for an unknown token."""
    who = caller()
    if who.organiser:
        return None
    identity = upstream.call("registration", "identify", who.token, who.as_rpc())
    if not identity:
        abort(401, message="Unknown token.", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    return identity["registration_id"]
