"""Companies and investors: registering with tags, and their ranked suggestions, interest and
answers."""

from flask import Blueprint

blueprint = Blueprint("business", __name__)
