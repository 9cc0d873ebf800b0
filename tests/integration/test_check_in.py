"""Check-in at the door in the real registration service and store: a badge checks its holder in
once (scanned again, or by two doors at once, it says when), lets nobody in to another event, nor
anyone waiting, cancelled or holding a revoked badge; undo; counts; the reading of needs audited."""

import threading

import pytest

from shared import badges
from shared.errors import Forbidden, Invalid, NotFound
from shared.rpc import RpcClient
from tests.conftest import vouched
from tests.integration.test_registration_events import attendee, organiser, registration, town_hall

__all__ = ["registration"]


@pytest.fixture
def event(registration):
    return registration.call(
        "registration", "create_event", town_hall(status="open", capacity=3), organiser()
    )["id"]


def register(registration, event_id: str, **fields) -> dict:
    return registration.call("registration", "create", "attendee", attendee(event_id=event_id, **fields))


def test_a_badge_checks_its_holder_in_once_and_shows_them_to_the_door(registration, event, mongo):
    person = register(
        registration,
        event,
        companions=1,
        carer_name="박보호",
        accessibility_needs={"wheelchair_access": True},
        consents={"privacy": True, "sensitive": True},
    )
    code = person["checkin_code"]
    assert badges.normalise(code) == code

    first = registration.call("registration", "check_in", event, badges.display(code).lower(), organiser())
    assert first["outcome"] == "checked_in"
    assert (first["name"], first["companions"], first["carer_name"]) == ("김민지", 1, "박보호")
    assert first["accessibility_needs"]["wheelchair_access"] is True
    audit = registration.call("registration", "audit_log", organiser())
    assert {"action": "check_in", "registration_id": person["id"]}.items() <= audit[0].items()

    again = registration.call("registration", "check_in", event, code, organiser())
    assert again["outcome"] == "already_checked_in" and again["checked_in_at"] == first["checked_in_at"]
    stored = mongo["registration"]["registrations"].find_one({"_id": person["id"]})
    assert stored["checked_in_by"] == "organiser@expo.example.org"
    counts = registration.call("registration", "door_counts", event, organiser())
    assert (counts["total"], counts["checked_in"], counts["checked_in_people"]) == (1, 1, 2)

    undone = registration.call("registration", "undo_check_in", event, person["id"], organiser())
    assert undone["outcome"] == "undone"
    assert registration.call("registration", "undo_check_in", event, person["id"], organiser())[
        "outcome"
    ] == ("not_checked_in")
    assert registration.call("registration", "check_in", event, code, organiser())["outcome"] == "checked_in"


def test_two_doors_scanning_one_badge_at_once_check_it_in_once(registration, event, amqp_uri):
    code = register(registration, event)["checkin_code"]
    outcomes: list[str] = []
    start = threading.Barrier(6)

    def scan() -> None:
        client = RpcClient(amqp_uri, timeout=30)
        try:
            start.wait()
            outcomes.append(client.call("registration", "check_in", event, code, organiser())["outcome"])
        finally:
            client.close()

    threads = [threading.Thread(target=scan) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["already_checked_in"] * 5 + ["checked_in"]


def test_a_badge_lets_nobody_in_where_it_does_not_belong(registration, event):
    other = registration.call("registration", "create_event", town_hall(status="open"), organiser())["id"]
    elsewhere = register(registration, other)
    answer = registration.call("registration", "check_in", event, elsewhere["checkin_code"], organiser())
    assert answer["outcome"] == "other_event" and answer["event"]["id"] == other

    for _ in range(2):
        register(registration, event, companions=0)
    waiting = register(registration, event, companions=1)
    assert waiting["admission"] == "waiting" and "checkin_code" not in waiting
    stored_code = registration.call("registration", "get", "attendee", waiting["id"], organiser())
    assert "checkin_code" not in stored_code

    unknown = registration.call("registration", "check_in", event, badges.new_code(), organiser())
    assert unknown == {"outcome": "unknown_badge"}


def test_a_cancelled_registration_or_a_revoked_badge_lets_nobody_in(registration, event):
    person = register(registration, event)
    owner = vouched({"token": person["manage_token"]})
    reissued = registration.call("registration", "reissue_badge", "attendee", person["id"], owner)
    assert (
        reissued["checkin_code"] != person["checkin_code"] and reissued["revision"] == person["revision"] + 1
    )
    assert registration.call("registration", "check_in", event, person["checkin_code"], organiser()) == {
        "outcome": "unknown_badge"
    }
    registration.call("registration", "cancel", "attendee", person["id"], owner)
    assert registration.call("registration", "check_in", event, reissued["checkin_code"], organiser()) == {
        "outcome": "unknown_badge"
    }


def test_only_organisers_check_in_and_only_codes_are_read(registration, event):
    code = register(registration, event)["checkin_code"]
    with pytest.raises(Forbidden):
        registration.call("registration", "check_in", event, code, vouched({"token": "tcx_nobody"}))
    with pytest.raises(Invalid):
        registration.call("registration", "check_in", event, "TCX-ABCD-EFGH", organiser())
    with pytest.raises(NotFound):
        registration.call("registration", "check_in", "no-such-event", code, organiser())


def test_the_doors_tally_follows_check_ins_and_a_recount_puts_it_right(mongo):
    import uuid

    from registration import domain
    from tests.integration.test_registration_events import store_of

    database = mongo[f"door_{uuid.uuid4().hex[:8]}"]
    try:
        store = store_of(database)
        store.prepare()
        documents = []
        for number in range(3):
            document, _ = domain.register(
                "attendee",
                {**attendee(companions=number), "language": "ko"},
                "th",
                f"hash-{number}",
                "2026-12-01T00:00:00.000000Z",
            )
            documents.append(store.add(document, []))
        at = "2026-12-01T01:00:00.000000Z"
        assert store.record_check_in(documents[0], at, "door") and store.record_check_in(
            documents[2], at, "door"
        )
        assert not store.record_check_in(documents[2], at, "door"), "once"
        assert store.door_tally("th") == {"checked_in": 2, "checked_in_people": 4}
        assert store.undo_check_in(documents[2]["_id"]) and not store.undo_check_in(documents[2]["_id"])
        assert store.door_tally("th") == {"checked_in": 1, "checked_in_people": 1}

        # a process that died between its two writes left the tally one short
        database["registrations"].update_one({"_id": documents[1]["_id"]}, {"$set": {"checked_in_at": at}})
        counted = store.recount_door("th")
        assert (counted["total"], counted["checked_in"]) == (3, 2)
        assert store.door_tally("th") == {"checked_in": 2, "checked_in_people": 3}
        assert store.recount_door("th")["checked_in_people"] == 3

        # a check-in while the recount reads the registrations: the tally it made is kept
        database["registrations"].update_one({"_id": documents[1]["_id"]}, {"$unset": {"checked_in_at": ""}})
        read_census = store.census_of_event

        def census_while_someone_checks_in(event_id: str) -> list[dict]:
            census = read_census(event_id)
            store.record_check_in(documents[2], at, "door")
            return census

        store.census_of_event = census_while_someone_checks_in
        store.recount_door("th")
        assert store.door_tally("th") == {"checked_in": 3, "checked_in_people": 6}, (
            "not set from the old census"
        )
    finally:
        mongo.drop_database(database.name)
