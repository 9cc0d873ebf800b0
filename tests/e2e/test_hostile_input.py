"""Named hostile inputs: each gets a clear 4xx in JSON and leaves nothing half-written."""

import json
import uuid

import pytest

from tests.platform import ORGANISER_TOKEN

pytestmark = pytest.mark.e2e

OPERATORS = [{"$ne": None}, {"$where": "sleep(1000)"}, {"$gt": ""}, {"a.b": 1}, ["$ne"], 1e308]


def company(**overrides):
    return {
        "name": "Hostile Test",
        "email": f"h-{uuid.uuid4().hex[:8]}@example.kr",
        "consents": {"privacy": True},
        "description": "d",
        "tags": ["ai"],
        "stage": "seed",
        **overrides,
    }


def investor(**overrides):
    return {
        "name": "H",
        "organisation": "O",
        "email": f"i-{uuid.uuid4().hex[:8]}@example.kr",
        "consents": {"privacy": True},
        "interests": ["ai"],
        "stages": ["seed"],
        **overrides,
    }


def attendee(**overrides):
    return {
        "name": "H",
        "email": f"a-{uuid.uuid4().hex[:8]}@example.kr",
        "attendee_type": "citizen",
        "consents": {"privacy": True, "sensitive": True},
        **overrides,
    }


def registered(platform) -> int:
    counts = platform.call("GET", "/api/v1/organiser/summary", ORGANISER_TOKEN).json()["registrations"]
    return sum(sum(by_status.values()) for by_status in counts.values())


@pytest.fixture
def nothing_written(platform):
    before = registered(platform)
    yield
    assert registered(platform) == before, "a refused request wrote a registration"


def assert_refused(response, status):
    assert response.status_code == status, response.text[:500]
    body = response.json()
    assert body["code"] == status and (body.get("message") or body.get("errors"))
    return body


@pytest.mark.parametrize(
    "kind, make, fields",
    [
        (
            "companies",
            company,
            [
                "name",
                "email",
                "description",
                "tags",
                "stage",
                "website",
                "contact_name",
                "business_number",
                "language",
                "event_id",
                "expo_id",
            ],
        ),
        (
            "investors",
            investor,
            ["name", "organisation", "interests", "stages", "ticket_min_krw", "investor_type"],
        ),
        ("attendees", attendee, ["name", "attendee_type", "interests", "accessibility_needs"]),
    ],
)
def test_operator_objects_in_every_field_are_refused(platform, nothing_written, kind, make, fields):
    for field in fields:
        for operator in OPERATORS:
            body = assert_refused(
                platform.call("POST", f"/api/v1/{kind}", json=make(**{field: operator})), 422
            )
            assert field in body["errors"]["json"], (field, operator, body)


@pytest.mark.parametrize("key", ["$where", "$ne", "a.b", "consents.privacy", "__proto__"])
def test_unknown_and_operator_keys_are_refused(platform, nothing_written, key):
    body = assert_refused(platform.call("POST", "/api/v1/companies", json={**company(), key: 1}), 422)
    assert key in body["errors"]["json"]
    nested = company(consents={"privacy": True, key: True})
    assert_refused(platform.call("POST", "/api/v1/companies", json=nested), 422)
    needs = attendee(accessibility_needs={"other": "x", key: 1})
    assert_refused(platform.call("POST", "/api/v1/attendees", json=needs), 422)


def test_oversized_and_deeply_nested_bodies(platform, nothing_written):
    big = json.dumps(company(description="x" * 70_000))
    assert_refused(
        platform.call(
            "POST",
            "/api/v1/companies",
            data=big,
            headers={"Content-Type": "application/json", "Connection": "close"},
        ),
        413,
    )
    deep = '{"name": ' + "[" * 20_000 + "]" * 20_000 + "}"  # 40 KB, under the size limit
    assert_refused(
        platform.call("POST", "/api/v1/companies", data=deep, headers={"Content-Type": "application/json"}),
        400,
    )
    moderately_deep = company(name=json.loads("[" * 500 + "]" * 500))
    assert_refused(platform.call("POST", "/api/v1/companies", json=moderately_deep), 422)


def test_addresses_too_long_are_refused_in_json(platform):
    for length in (5_000, 8_000):
        answer = platform.call("GET", "/api/v1/notifications?limit=" + "9" * length, "x")
        assert answer.status_code == 414, answer.text
        assert answer.headers["Content-Type"].startswith("application/json")
        assert "longer than" in answer.json()["message"]


def test_huge_lists_and_absurd_numbers(platform, nothing_written):
    assert_refused(platform.call("POST", "/api/v1/companies", json=company(tags=["ai"] * 10_000)), 422)
    assert_refused(platform.call("POST", "/api/v1/investors", json=investor(stages=["x"] * 10_000)), 422)
    for number in (10**400, -1, 1e308, 2.5, "1000", True):
        assert_refused(platform.call("POST", "/api/v1/investors", json=investor(ticket_min_krw=number)), 422)
    for literal in ("NaN", "Infinity", "-Infinity", "1e99999"):
        raw = json.dumps(investor()).replace('"stages"', f'"ticket_max_krw": {literal}, "stages"')
        assert_refused(
            platform.call(
                "POST", "/api/v1/investors", data=raw, headers={"Content-Type": "application/json"}
            ),
            422,
        )
    needs = attendee(accessibility_needs={"companions": 10**30})
    assert_refused(platform.call("POST", "/api/v1/attendees", json=needs), 422)


def test_invalid_utf8_and_wrong_content_types(platform, nothing_written):
    raw = json.dumps(company()).encode().replace(b"Hostile", b"Host\xff\xfeile")
    assert_refused(
        platform.call("POST", "/api/v1/companies", data=raw, headers={"Content-Type": "application/json"}),
        400,
    )
    lone_surrogate = json.dumps(company()).replace("Hostile", "Host\\ud800ile")
    assert_refused(
        platform.call(
            "POST", "/api/v1/companies", data=lone_surrogate, headers={"Content-Type": "application/json"}
        ),
        422,
    )
    for content_type in (
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
    ):
        assert_refused(
            platform.call(
                "POST",
                "/api/v1/companies",
                data=json.dumps(company()),
                headers={"Content-Type": content_type},
            ),
            415,
        )
    for body in ("[]", "null", '"string"', "42"):
        assert_refused(
            platform.call(
                "POST", "/api/v1/companies", data=body, headers={"Content-Type": "application/json"}
            ),
            422,
        )


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "bearer\t",
        "Basic dXNlcjpwYXNz",
        "Bearer " + "x" * 5000,
        "Bearer a\x01b",
        'Bearer {"$ne": null}',
        "Bearer ../../etc/passwd",
        "Token abc",
        "Bearer tcx_" + "\u2603" * 10,
    ],
)
def test_header_and_token_garbage(platform, header):
    response = platform.call(
        "GET", "/api/v1/notifications", headers={"Authorization": header.encode("utf-8")}
    )
    assert response.status_code in (400, 401), response.text[:300]
    if response.status_code == 401:
        assert response.json()["code"] == 401


def test_path_garbage(platform):
    for path in (
        "/api/v1/companies/%00",
        "/api/v1/companies/" + "x" * 3000,
        "/api/v1/companies/$ne",
        "/api/v1/companies/..%2F..%2Fadmin",
        "/api/v1/companies/%ff%fe",
    ):
        response = platform.call("GET", path, ORGANISER_TOKEN)
        assert 400 <= response.status_code < 500, (path, response.status_code)
