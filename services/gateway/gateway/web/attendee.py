"""Registering as an attendee, step by step: about you, accessibility needs (with their own
consent), check your answers, done."""

from flask import Blueprint

blueprint = Blueprint("attendee", __name__, url_prefix="/register/attendee")
