"""Pages for everyone: home, privacy notice, signing in and out."""

from flask import Blueprint, abort, current_app, redirect, render_template, request, session, url_for
from marshmallow import Schema
from werkzeug.exceptions import NotFound

from gateway import upstream
from gateway.schemas import UNSUBSCRIBE_TOKEN
from gateway.web import forms, signed_in
from gateway.web.i18n import current_language
from gateway.web.security import sign_ins_limit
from shared import taxonomy
from shared.contracts.fields import Email

blueprint = Blueprint("public", __name__)
# for pages whose address holds a token: it is never sent on, not even to this site's own files
NO_REFERRER = {"Referrer-Policy": "no-referrer"}


class SignInSchema(Schema):
    email = Email(required=True)


@blueprint.get("/")
def home() -> str:
    return render_template("public/home.html", categories=taxonomy.as_document()["categories"])


@blueprint.get("/privacy")
def privacy() -> str:
    settings = current_app.config["SETTINGS"]
    return render_template(
        "public/privacy.html",
        cancelled_retention_days=f"{settings.cancelled_retention_days:g}",
        notification_retention_days=f"{settings.notification_retention_days:g}",
    )


@blueprint.route("/sign-in", methods=["GET", "POST"])
@sign_ins_limit()
def sign_in() -> object:
    if request.method == "GET":
        if request.args.get("next"):
            session["next"] = signed_in.safe_next(request.args["next"])
        return render_template("public/sign_in.html", errors={}, email="")
    data, errors = forms.load(SignInSchema(), {"email": forms.text("email")})
    if errors:
        return render_template("public/sign_in.html", errors=errors, email=forms.text("email")), 400
    forms.call("registration", "request_sign_in", data["email"], current_language())
    return render_template("public/sign_in_sent.html", email=data["email"])


@blueprint.route("/sign-in/<string:link_token>", methods=["GET", "POST"])
def use_sign_in_link(link_token: str) -> object:
    # opening the link changes nothing (mail scanners follow links); the button signs in
    if request.method == "GET":
        return render_template("public/sign_in_link.html", link_token=link_token), 200, NO_REFERRER
    identity = None
    if len(link_token) <= 200:
        identity, _ = forms.call("registration", "complete_sign_in", link_token)
    if not identity:
        return render_template("public/sign_in_expired.html"), 410, NO_REFERRER
    default = url_for("organiser.dashboard") if identity["organiser"] else url_for("account.my_registrations")
    target = signed_in.safe_next(session.get("next"), default)
    signed_in.sign_in(identity["email"], identity["organiser"], identity.get("names_with_needs", False))
    return redirect(target, 303)


@blueprint.post("/sign-out")
def sign_out() -> object:
    signed_in.sign_out()
    return redirect(url_for("public.home", signed_out="yes"), 303)


@blueprint.route("/unsubscribe", methods=["GET", "POST"])
def unsubscribe() -> object:
    """The link of a suggestions e-mail: asks first (opening it changes nothing), then turns
    suggestion e-mails off and nothing else. Works without signing in: the link is the proof."""
    token = request.values.get("token", "")
    if not UNSUBSCRIBE_TOKEN.fullmatch(token):
        abort(400)
    if request.method == "GET":
        return render_template("public/unsubscribe.html", token=token), 200, NO_REFERRER
    try:
        upstream.call("notification", "unsubscribe", token)
    except NotFound:
        return render_template("public/unsubscribe_invalid.html"), 404, NO_REFERRER
    return render_template("public/unsubscribed.html"), 200, NO_REFERRER
