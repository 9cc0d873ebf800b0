"""Under more load than the gateway can take, requests that waited too long for a thread are
refused at once with 503 and Retry-After; none of them is written, and every 201 is kept."""

import socket
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
import requests
from pymongo import MongoClient

from tests.platform import registration_body, running_platform

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def small_gateway(tmp_path_factory):
    # one worker with one thread, refusing what waited over 50 ms: a burst is sure to overflow it
    settings = {"GATEWAY_WORKERS": "1", "GATEWAY_THREADS": "1", "GATEWAY_MAX_QUEUE_SECONDS": "0.05"}
    with running_platform(tmp_path_factory.mktemp("var"), **settings) as platform:
        yield platform


def test_a_burst_beyond_capacity_is_shed_with_503_and_nothing_half_written(small_gateway):
    emails = [f"burst-{uuid.uuid4().hex[:12]}@example.kr" for _ in range(80)]

    def register(email: str) -> requests.Response:
        return requests.post(
            f"{small_gateway.url}/api/v1/attendees", json=registration_body("attendees", email), timeout=30
        )

    with ThreadPoolExecutor(max_workers=80) as pool:
        answers = dict(zip(emails, pool.map(register, emails), strict=True))

    statuses = sorted({answer.status_code for answer in answers.values()})
    assert statuses == [201, 503], statuses
    shed = [answer for answer in answers.values() if answer.status_code == 503]
    assert all(answer.headers["Retry-After"] == "2" for answer in shed)
    assert all("try again" in answer.json()["message"] for answer in shed)

    with MongoClient(small_gateway.mongo_uri) as client:
        stored = {doc["email"] for doc in client["registration"]["registrations"].find({}, {"email": 1})}
    assert {email for email, answer in answers.items() if answer.status_code == 201} <= stored
    assert not {email for email, answer in answers.items() if answer.status_code == 503} & stored


def test_probes_are_never_shed(small_gateway):
    """Liveness and readiness answer even while registrations around them are being shed."""
    url = small_gateway.url

    def call(number: int) -> tuple[str, int]:
        if number % 5 == 0:
            path = "/healthz" if number % 10 == 0 else "/readyz"
            return path, requests.get(url + path, timeout=30).status_code
        body = registration_body("attendees", f"probe-{uuid.uuid4().hex[:12]}@example.kr")
        return "register", requests.post(f"{url}/api/v1/attendees", json=body, timeout=30).status_code

    with ThreadPoolExecutor(max_workers=100) as pool:
        answers = list(pool.map(call, range(100)))

    assert 503 in {status for what, status in answers if what == "register"}
    assert {status for what, status in answers if what != "register"} == {200}


def test_a_slow_client_is_not_taken_for_a_queued_request(small_gateway):
    """Time spent waiting for a client's first bytes is not time queued for a thread."""
    address = urlsplit(small_gateway.url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as connection:
        time.sleep(0.5)  # ten times the gateway's limit, on an idle gateway
        connection.sendall(b"GET / HTTP/1.1\r\nHost: expo\r\nConnection: close\r\n\r\n")
        status_line = connection.makefile("rb").readline()
    assert status_line.split()[1] == b"200", status_line
