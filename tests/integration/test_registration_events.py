"""Events of the programme in the real registration service and store: organisers create, change,
open and close them; everyone sees what is not a draft; every registration is for one event, and
one that takes none is refused with the reason; registrations stored before there were events
move to the default expo when the service starts, once, however many instances start."""

import uuid

import pytest
from cryptography.fernet import Fernet

from registration import domain
from registration.sensitive import Sealer
from registration.store import RegistrationStore
from shared import clock, errors
from shared.contracts.registration import reference_of
from tests.conftest import at_once, service_env, vouched
from tests.integration.service_helpers import start_service
from tests.integration.test_registration_service import SENSITIVE_DATA_KEY, company


def organiser() -> str:
    """An organiser as the gateway vouches for them: afresh for each call, as an assertion lasts a
    minute and the module's tests may run long after it is imported."""
    return vouched({"organiser": True, "organiser_email": "organiser@expo.example.org"})


DEFAULT_EXPO = "expo-2026"


@pytest.fixture(scope="module")
def registration(amqp_uri, store_server, tmp_path_factory):
    env = service_env(amqp_uri, store_server["uri"], SENSITIVE_DATA_KEY=SENSITIVE_DATA_KEY)
    process, client = start_service("registration", env, tmp_path_factory.mktemp("logs"))
    yield client
    client.close()
    process.stop()


def town_hall(**fields) -> dict:
    return {
        "kind": "town_hall",
        "name_ko": "기술동행 타운홀",
        "name_en": "Tech Companion Town Hall",
        "starts_at": clock.iso_after(30 * 24 * 3600),
        "venue": {
            "name_ko": "서울시청 다목적홀",
            "address_ko": "서울 중구 세종대로 110",
            "step_free_entrance": True,
            "accessible_toilets": True,
            "hearing_loop": False,
            "subway_exit_ko": "시청역 5번 출구",
        },
        "capacity": 150,
        **fields,
    }


def attendee(**fields) -> dict:
    return {
        "name": "김민지",
        "email": f"{uuid.uuid4().hex[:8]}@example.kr",
        "attendee_type": "citizen",
        "consents": {"privacy": True},
        **fields,
    }


def test_the_default_expo_is_an_open_event_and_registrations_without_an_event_are_for_it(registration):
    listed = {event["id"]: event for event in registration.call("registration", "public_events")}
    assert listed[DEFAULT_EXPO]["kind"] == "expo" and listed[DEFAULT_EXPO]["registration_state"] == "open"
    assert listed[DEFAULT_EXPO]["starts_at"] is None
    created = registration.call("registration", "create", "company", company())
    assert created["event_id"] == DEFAULT_EXPO and "expo_id" not in created
    # the earlier name of the field still names the expo
    again = registration.call("registration", "create", "company", company(expo_id=DEFAULT_EXPO))
    assert again["event_id"] == DEFAULT_EXPO


def test_an_organiser_creates_opens_and_closes_an_event_and_registrations_follow(registration):
    event = registration.call("registration", "create_event", town_hall(), organiser())
    event_id = event["id"]
    assert event["status"] == "draft" and event["registrations"]["total"] == 0

    # a draft: nobody else sees it, nobody registers for it
    assert event_id not in {e["id"] for e in registration.call("registration", "public_events")}
    with pytest.raises(errors.NotFound):
        registration.call("registration", "public_event", event_id)
    with pytest.raises(errors.NotFound):
        registration.call("registration", "create", "attendee", attendee(event_id=event_id))

    opened = registration.call("registration", "update_event", event_id, {"status": "open"}, organiser())
    assert opened["status"] == "open" and opened["revision"] == 2
    public = registration.call("registration", "public_event", event_id)
    assert public["registration_state"] == "open" and public["venue"]["subway_exit_ko"] == "시청역 5번 출구"
    assert "capacity" not in public and "registrations" not in public

    made = registration.call("registration", "create", "attendee", attendee(event_id=event_id, companions=2))
    assert made["event_id"] == event_id
    # the same address may register for another event
    registration.call("registration", "create", "attendee", attendee(email=made["email"]))
    with pytest.raises(errors.Conflict):
        registration.call(
            "registration", "create", "attendee", attendee(email=made["email"], event_id=event_id)
        )
    counted = registration.call("registration", "get_event", event_id, organiser())["registrations"]
    assert counted == {
        "attendee": 1,
        "company": 0,
        "investor": 0,
        "companions": 2,
        "total": 1,
        "checked_in": 0,
        "checked_in_people": 0,
    }
    listed = {e["id"]: e for e in registration.call("registration", "list_events", organiser())}
    assert listed[event_id]["registrations"]["total"] == 1
    assert listed[event_id]["next_statuses"] == ["closed", "cancelled"]
    # only the names, for a filter: nothing counted
    names_only = {e["id"]: e for e in registration.call("registration", "list_events", organiser(), False)}
    assert names_only[event_id]["registrations"]["total"] == 0
    rows = registration.call("registration", "list_registrations", {"event_id": event_id}, organiser())
    assert [row["id"] for row in rows["items"]] == [made["id"]]

    registration.call("registration", "update_event", event_id, {"status": "closed"}, organiser())
    with pytest.raises(errors.Conflict) as refused:
        registration.call("registration", "create", "attendee", attendee(event_id=event_id))
    assert refused.value.message == "Registration for this event is closed."
    cancelled = registration.call(
        "registration", "update_event", event_id, {"status": "cancelled"}, organiser()
    )
    assert registration.call("registration", "public_event", event_id)["registration_state"] == "cancelled"
    with pytest.raises(errors.Invalid) as refused:
        registration.call("registration", "update_event", event_id, {"status": "open"}, organiser())
    assert list(refused.value.fields) == ["status"]
    assert cancelled["revision"] == 4


def test_a_registration_window_not_open_yet_is_said_with_its_time_in_seoul(registration):
    opens = "2099-01-02T01:00:00.000000Z"
    event = registration.call(
        "registration",
        "create_event",
        town_hall(status="open", starts_at="2099-03-01 10:00", registration_opens_at=opens),
        organiser(),
    )
    with pytest.raises(errors.Conflict) as refused:
        registration.call("registration", "create", "attendee", attendee(event_id=event["id"]))
    assert refused.value.message == "Registration for this event opens at 2099-01-02 10:00 (Seoul time)."
    assert (
        registration.call("registration", "public_event", event["id"])["registration_state"] == "not_yet_open"
    )


def test_a_repeated_registration_is_answered_even_once_its_event_closed(registration):
    event = registration.call("registration", "create_event", town_hall(status="open"), organiser())
    key, body = str(uuid.uuid4()), attendee(event_id=event["id"])
    first = registration.call("registration", "create", "attendee", body, key)
    registration.call("registration", "update_event", event["id"], {"status": "closed"}, organiser())
    again = registration.call("registration", "create", "attendee", body, key)
    assert again["id"] == first["id"] and again["repeated"] is True


def test_events_are_for_organisers_to_make_and_change_and_bad_input_is_refused(registration):
    created = registration.call("registration", "create_event", town_hall(), organiser())
    for caller in (vouched({}), vouched({"email": "someone@example.kr"}), "not an assertion"):
        with pytest.raises(errors.Forbidden):
            registration.call("registration", "create_event", town_hall(), caller)
        with pytest.raises(errors.Forbidden):
            registration.call("registration", "update_event", created["id"], {"status": "open"}, caller)
        with pytest.raises(errors.Forbidden):
            registration.call("registration", "list_events", caller)
    with pytest.raises(errors.Invalid) as refused:
        registration.call(
            "registration", "create_event", town_hall(name_ko={"$ne": None}, capacity=-1), organiser()
        )
    assert set(refused.value.fields) == {"name_ko", "capacity"}
    with pytest.raises(errors.Invalid) as refused:
        registration.call(
            "registration", "update_event", created["id"], {"ends_at": "2020-01-01 10:00"}, organiser()
        )
    assert list(refused.value.fields) == ["ends_at"]
    for unknown in ("no-such-event", {"$ne": None}, "x" * 500):
        with pytest.raises(errors.NotFound):
            registration.call("registration", "update_event", unknown, {"status": "open"}, organiser())
        with pytest.raises(errors.NotFound):
            registration.call("registration", "public_event", unknown)


# --- registrations stored before there were events -------------------------------------------


def test_an_organiser_asks_to_destroy_an_events_personal_data_once_nobody_is_still_to_come(registration):
    event = registration.call("registration", "create_event", town_hall(status="open"), organiser())
    made = registration.call("registration", "create", "attendee", attendee(event_id=event["id"]))
    with pytest.raises(errors.Conflict):
        registration.call("registration", "request_event_purge", event["id"], organiser())
    with pytest.raises(errors.Forbidden):
        registration.call(
            "registration", "request_event_purge", event["id"], vouched({"registration_id": made["id"]})
        )
    registration.call("registration", "update_event", event["id"], {"status": "cancelled"}, organiser())
    asked = registration.call("registration", "request_event_purge", event["id"], organiser())
    assert asked["purge_requested_at"] and asked["purged_at"] is None
    assert asked["registrations"]["total"] == 1  # erased within a minute, by the sweep


@pytest.fixture
def database(mongo):
    name = f"events_{uuid.uuid4().hex[:8]}"
    yield mongo[name]
    mongo.drop_database(name)


def store_of(database) -> RegistrationStore:
    default = domain.default_event(
        DEFAULT_EXPO, "2026 기술동행 박람회", "Tech Companion Expo 2026", clock.now_iso()
    )
    return RegistrationStore(database, Sealer(Fernet.generate_key().decode()), default)


def legacy_registration(number: int, status: str = "active") -> dict:
    """A registration as a version before events stored it: with expo_id and no event_id."""
    return {
        "_id": f"legacy-{number}",
        "_v": 1,
        "kind": "attendee",
        "expo_id": DEFAULT_EXPO,
        "reference": reference_of(f"legacy-{number}"),
        "status": status,
        "revision": 1,
        "created_at": "2026-03-01T00:00:00.000000Z",
        "outbox": [],
        "outbox_pending": 0,
    }


def test_registrations_stored_before_events_move_to_the_default_expo_once(database):
    database["expos"].insert_one({"_id": DEFAULT_EXPO, "name_ko": "옛 이름", "name_en": "Earlier name"})
    legacy = [legacy_registration(number) for number in range(2500)] + [legacy_registration(9999, "erased")]
    database["registrations"].insert_many(legacy)

    store_of(database).prepare()
    assert database["registrations"].count_documents({"event_id": DEFAULT_EXPO}) == len(legacy)
    assert database["registrations"].count_documents({"expo_id": {"$exists": True}}) == 0
    moved = database["registrations"].find_one({"_id": "legacy-7"})
    # moved to its event, then given a badge: one write each
    assert moved["_v"] == 3 and moved["checkin_code"]
    assert "checkin_code" not in database["registrations"].find_one({"_id": "legacy-9999"})
    (expo,) = database["events"].find()
    # the default expo is made from the settings; the earlier copy of it is forgotten
    assert (expo["_id"], expo["status"], expo["name_en"]) == (
        DEFAULT_EXPO,
        "open",
        "Tech Companion Expo 2026",
    )
    assert "expos" not in database.list_collection_names()

    # a second start moves nothing and changes no event
    again = store_of(database)
    again.prepare()
    assert again.move_to_events() == 0 and again.give_badges() == 0
    assert database["registrations"].find_one({"_id": "legacy-7"}) == moved
    assert database["events"].count_documents({}) == 1


def test_instances_starting_at_once_make_one_default_expo(database):
    database["registrations"].insert_many([legacy_registration(number) for number in range(300)])
    at_once(lambda: store_of(database).prepare())
    assert database["events"].count_documents({}) == 1
    assert database["registrations"].count_documents({"event_id": DEFAULT_EXPO}) == 300
