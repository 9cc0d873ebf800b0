"""Personal data stays where it is needed, and erasure leaves it nowhere: a registrant with
recognisable values registers, conflicts, fails and is erased, and every log file and every
collection of every service is searched for those values."""

import json
import uuid

import pytest
from pymongo import MongoClient

from tests.conftest import received_mail, wait_for

pytestmark = pytest.mark.e2e

SERVICES = ("registration", "matching", "notification")
# where a live registrant's values may be: registration's record of them, and notification's
# copy of the contact it writes to and of the e-mails it wrote (both destroyed on erasure)
NEEDED_AT = {
    ("registration", "registrations"),
    ("notification", "contacts"),
    ("notification", "notifications"),
}


def recognisable_registrant() -> dict:
    mark = uuid.uuid4().hex[:10]
    return {
        "name": f"Zyxqv{mark} 김비밀",
        "email": f"zyxqv.{mark}@example.kr",
        "attendee_type": "person_with_disability",
        "language": "ko",
        "consents": {"privacy": True, "sensitive": True},
        "companions": 1,
        "carer_name": f"Carer{mark} 박보호",
        "accessibility_needs": {"wheelchair_access": True, "other": f"Need{mark} 안내견 동반"},
    }


def needles(body: dict) -> set[str]:
    return {
        body["name"],
        body["email"],
        body["email"].split("@")[0],
        body["carer_name"],
        body["accessibility_needs"]["other"],
    }


def found_in_logs(platform, values: set[str]) -> dict[str, set[str]]:
    """Which of ``values`` each log file holds. The mail sink's log is left out: it stands for the
    relay outside the platform, which receives the e-mails."""
    found = {}
    for path in sorted((platform.var / "log").glob("*.log")):
        if path.name == "mailsink.log":
            continue
        text = path.read_text(errors="replace")
        hits = {value for value in values if value in text}
        if hits:
            found[path.name] = hits
    return found


def found_in_stores(platform, values: set[str]) -> dict[tuple[str, str], set[str]]:
    """Which of ``values`` each collection of each service's database holds, anywhere in any
    document."""
    found: dict[tuple[str, str], set[str]] = {}
    with MongoClient(platform.mongo_uri) as client:
        for service in SERVICES:
            database = client[service]
            for name in database.list_collection_names():
                for document in database[name].find():
                    text = json.dumps(document, ensure_ascii=False, default=str)
                    hits = {value for value in values if value in text}
                    if hits:
                        found.setdefault((service, name), set()).update(hits)
    return found


def test_a_registrants_values_reach_no_log_and_only_the_stores_that_need_them_and_none_after_erasure(
    platform,
):
    body = recognisable_registrant()
    values = needles(body)

    created = platform.call("POST", "/api/v1/attendees", json=body)
    assert created.status_code == 201
    registration = created.json()
    path, token = f"/api/v1/attendees/{registration['id']}", registration["manage_token"]
    # a conflict (the store refuses a second active registration: its error holds the document)
    assert platform.call("POST", "/api/v1/attendees", json=body).status_code == 409
    # failures: a change refused, a wrong token
    assert platform.call("PATCH", path, token, json={"name": body["name"] + "\x0bBcc: x"}).status_code == 422
    assert platform.call("GET", path, "tcx_not-the-token").status_code in (401, 403)
    wait_for(
        lambda: any(body["email"] in m["To"] for m in received_mail(platform.var / "mail")),
        30,
        message="the confirmation e-mail",
    )

    assert found_in_logs(platform, values) == {}
    live = found_in_stores(platform, values)
    assert set(live) <= NEEDED_AT, f"personal data outside where it is needed: {set(live) - NEEDED_AT}"
    assert ("registration", "registrations") in live

    erased = platform.call("DELETE", path + "?erase=true", token)
    assert erased.status_code == 200 and erased.json()["status"] == "erased"

    wait_for(
        lambda: found_in_stores(platform, values) == {}, 30, interval=0.5, message="nothing left in any store"
    )
    assert found_in_logs(platform, values) == {}
