"""A signed-in person's own pages: their registrations, changes, cancellation and erasure, their
inbox of notifications and their e-mail preferences."""

from flask import Blueprint

blueprint = Blueprint("account", __name__, url_prefix="/my")
