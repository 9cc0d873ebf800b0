"""Organisers' pages: the dashboard, the registrant list and its export, the audit log of
sensitive reads, and dead letters."""

from flask import Blueprint

blueprint = Blueprint("organiser", __name__, url_prefix="/organiser")
