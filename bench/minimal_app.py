"""The ceiling of the HTTP layer: the smallest useful endpoint, served by gunicorn with the
gateway's own settings, that parses a JSON body and inserts it as one document. Registrations/s
are reported as a fraction of what this endpoint achieves on the same machine and store."""

import json
import os
import uuid
from collections.abc import Callable

from pymongo import MongoClient

_client: MongoClient | None = None


def _collection():
    global _client
    if _client is None:  # made in the worker, after gunicorn forks
        _client = MongoClient(os.environ["MONGO_URI"])
    return _client["bench"]["minimal"]


def app(environ: dict, start_response: Callable) -> list[bytes]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    document = json.loads(environ["wsgi.input"].read(length) or b"{}")
    document["_id"] = uuid.uuid4().hex
    _collection().insert_one(document)
    body = json.dumps({"id": document["_id"]}).encode()
    start_response("201 Created", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
