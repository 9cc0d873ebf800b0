"""What the store and the HTTP layer allow on this machine, measured in the same run: the store's
raw single-document insert rate, and a minimal gunicorn endpoint doing one insert a request."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import requests
from pymongo import MongoClient

from bench.load import closed_loop
from tests.conftest import ROOT, free_port, wait_for


def raw_insert_rate(mongo_uri: str, seconds: float) -> dict:
    client = MongoClient(mongo_uri)
    try:
        collection = client["bench"]["raw_inserts"]
        collection.insert_one({"_id": "warm-up"})
        inserted, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            collection.insert_one({"_id": uuid.uuid4().hex, "name": "Load Test", "tags": ["ai", "iot"]})
            inserted += 1
        elapsed = time.perf_counter() - started
        client.drop_database("bench")
        return {"inserts": inserted, "seconds": round(elapsed, 2), "per_second": round(inserted / elapsed, 1)}
    finally:
        client.close()


def minimal_endpoint(mongo_uri: str, seconds: float, clients: int, log_dir: Path) -> dict:
    """The minimal endpoint under the gateway's gunicorn settings, driven as hard as it goes."""
    port = free_port()
    env = {**os.environ, "MONGO_URI": mongo_uri, "GATEWAY_BIND": f"127.0.0.1:{port}"}
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    with (log_dir / "minimal-endpoint.log").open("wb") as log:
        server = subprocess.Popen(
            [gunicorn, "--config", "services/gateway/gunicorn.conf.py", "bench.minimal_app:app"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _answers(url), 30, interval=0.2, message="the minimal endpoint")
        step = closed_loop(url, clients, seconds, lambda i: ("POST", "/", {"name": "Load Test", "n": i}))
        summary = step.summary()
        return {"clients": clients, **summary}
    finally:
        server.terminate()
        server.wait(30)
        client = MongoClient(mongo_uri)
        client.drop_database("bench")
        client.close()


def _answers(url: str) -> bool:
    try:
        return requests.post(url, json={}, timeout=2).status_code == 201
    except requests.RequestException:
        return False
