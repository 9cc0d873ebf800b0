"""Who is signed in to the pages: a session cookie set by a one-time link e-mailed to the person.

The session (Flask's signed cookie: HttpOnly, SameSite=Lax, Secure over HTTPS, expiring after
SESSION_HOURS) holds the address the link proved, and whether it is an organiser's. A person
may act on every registration made with that address; the registration service checks this
again on every call (the ``{"email": ...}`` caller).
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort, g, redirect, request, session, url_for

from gateway import upstream
from shared import clock


def sign_in(email: str, organiser: bool, names_with_needs: bool = False) -> None:
    # a new session for a new identity: nothing from before the sign-in is carried over
    session.clear()
    session.permanent = True
    session.update(email=email, organiser=organiser, names_with_needs=names_with_needs, since=clock.now_iso())


def sign_out() -> None:
    session.clear()


def email() -> str | None:
    return session.get("email")


def is_organiser() -> bool:
    return bool(session.get("email") and session.get("organiser"))


def may_download_names_with_needs() -> bool:
    """Whether the organiser was given the permission to download names with accessibility needs
    (ORGANISER_SENSITIVE_EMAILS) when signing in: the pages offer it; the registration service
    checks it again on every download."""
    return is_organiser() and bool(session.get("names_with_needs"))


def person_caller() -> str:
    return upstream.vouched({"email": session["email"]})


def acting_for(registration_id: str) -> str:
    """The signed-in person acting for one of their registrations (found by ``my_registration``),
    as the gateway vouches to the services that take its word for it."""
    return upstream.vouched({"registration_id": registration_id})


def organiser_caller() -> str:
    return upstream.vouched({"organiser": True, "organiser_email": session["email"]})


def safe_next(target: str | None, default: str = "/my") -> str:
    """Only a path on this site (never ``//elsewhere`` or a full address) is followed after sign-in."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return default


def person_required(view: Callable) -> Callable:
    """The page needs a signed-in person; otherwise sign in first and come back."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not email():
            return redirect(url_for("public.sign_in", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapper


def organiser_required(view: Callable) -> Callable:
    """The page is for organisers (ORGANISER_EMAILS) only."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not email():
            return redirect(url_for("public.sign_in", next=request.full_path.rstrip("?")))
        if not is_organiser():
            abort(403)
        return view(*args, **kwargs)

    return wrapper


def my_registrations() -> list[dict]:
    """The signed-in person's registrations (not erased), newest first; asked once per request."""
    if "my_registrations" not in g:
        g.my_registrations = upstream.call("registration", "registrations_of", person_caller())
    return g.my_registrations


def my_registration(registration_id: str, kind: str | None = None) -> dict:
    """One of the signed-in person's registrations (of ``kind`` if given), or a 404 page."""
    for registration in my_registrations():
        if registration["id"] == registration_id and kind in (None, registration["kind"]):
            return registration
    abort(404)
