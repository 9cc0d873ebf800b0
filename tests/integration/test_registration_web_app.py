"""The registration service's side of the web app, as a real process over the real broker and
store: sign-in by one-time link, callers signed in by e-mail, contact cards, organisers' lists,
exports and audit log, companions and registrations stored by an earlier version."""

import uuid

import pytest

from registration.domain import hash_token
from registration.sensitive import Sealer
from shared import clock, errors
from shared.contracts.registration import REGISTRATION_ROW_FIELDS, reference_of
from tests.conftest import service_env, vouched
from tests.integration.service_helpers import start_service
from tests.integration.test_outbox_and_inbox import drain
from tests.integration.test_registration_events import town_hall
from tests.integration.test_registration_service import SENSITIVE_DATA_KEY as KEY

ORGANISER = "boss@expo.example.org"
# an organiser without the permission to see names with accessibility needs
COLLEAGUE = "colleague@expo.example.org"
LEGACY_ID = str(uuid.uuid4())


def organiser_caller() -> str:
    return vouched({"organiser": True, "organiser_email": ORGANISER})


@pytest.fixture(scope="module")
def registration(amqp_uri, store_server, tmp_path_factory, mongo):
    # a registration as the version before the web app stored it: companions among its sealed
    # needs, no number, no address key; the service brings it up to date when it starts
    mongo["registration"]["registrations"].insert_one(legacy_attendee())
    env = service_env(
        amqp_uri,
        store_server["uri"],
        SENSITIVE_DATA_KEY=KEY,
        ORGANISER_EMAILS=f"{ORGANISER.upper()},{COLLEAGUE}",
        ORGANISER_SENSITIVE_EMAILS=ORGANISER,
    )
    process, client = start_service("registration", env, tmp_path_factory.mktemp("logs"))
    yield client
    client.close()
    process.stop()


@pytest.fixture(scope="module")
def mongo(store_server):
    from pymongo import MongoClient

    client = MongoClient(store_server["uri"])
    yield client
    client.close()


def legacy_attendee():
    now = clock.now_iso()
    return {
        "_id": LEGACY_ID,
        "_v": 1,
        "kind": "attendee",
        "expo_id": "expo-2026",
        "status": "active",
        "revision": 1,
        "created_at": now,
        "updated_at": now,
        "token_hash": hash_token(f"tcx_{LEGACY_ID}"),
        "active_key": f"expo-2026/attendee/legacy-{LEGACY_ID}@example.kr",
        "consents": {"privacy_at": now, "sensitive_at": now},
        "name": "Legacy Lee",
        "email": f"Legacy-{LEGACY_ID}@example.kr",
        "language": "en",
        "attendee_type": "senior",
        "interests": [],
        "accessibility_needs_sealed": Sealer(KEY).seal(
            {"wheelchair_access": True, "companions": 2, "other": "ramp"}
        ),
        "outbox": [],
        "outbox_pending": 0,
    }


def unique_email(prefix="p"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.kr"


def attendee(**fields):
    return {
        "name": "Park Minji",
        "email": unique_email(),
        "attendee_type": "person_with_disability",
        "consents": {"privacy": True, "sensitive": True},
        "accessibility_needs": {"wheelchair_access": True, "other": "a quiet room"},
        "companions": 1,
        **fields,
    }


def company(**fields):
    return {
        "name": "Sori AI",
        "email": unique_email("ceo"),
        "consents": {"privacy": True},
        "description": "AI captions for deaf people",
        "tags": ["hearing_impairment", "ai"],
        "stage": "seed",
        **fields,
    }


def investor(**fields):
    return {
        "name": "Kim Sujin",
        "organisation": "Seoul Impact Partners",
        "email": unique_email("kim"),
        "consents": {"privacy": True},
        "interests": ["elderly"],
        "stages": ["seed"],
        **fields,
    }


def create(registration, kind, data):
    return registration.call("registration", "create", kind, data)


def sign_in_events(amqp_uri, email):
    return [e for e in drain(amqp_uri, "notification", "sign_in") if e["payload"]["email"] == email]


def links_of(mongo, email):
    return list(mongo["registration"]["sign_in_links"].find({"email": email.lower()}))


def sign_in(registration, amqp_uri, email):
    """The link token e-mailed to ``email`` after asking for one."""
    drain(amqp_uri, "notification", "sign_in")
    assert registration.call("registration", "request_sign_in", email, "ko") == {"status": "sent"}
    (event,) = sign_in_events(amqp_uri, email)
    return event["payload"]["link_token"]


# --- sign-in by one-time link -------------------------------------------------------------


def test_a_registrant_signs_in_with_a_one_time_link(registration, amqp_uri, mongo):
    data = attendee(language="en")
    created = create(registration, "attendee", data)
    shouted = data["email"].upper()
    drain(amqp_uri, "notification", "sign_in")
    assert registration.call("registration", "request_sign_in", shouted, "ko") == {"status": "sent"}

    # the link goes to the address as typed (its domain lower-cased, as every address is)
    (event,) = sign_in_events(amqp_uri, shouted.replace("EXAMPLE.KR", "example.kr"))
    assert event["type"] == "registration.sign_in_link_requested"
    assert event["payload"]["language"] == "en"  # the one the person registered in
    token = event["payload"]["link_token"]
    (link,) = links_of(mongo, data["email"])
    assert link["_id"] == hash_token(token) and link["used_at"] is None
    assert token not in str(link)  # published: the outbox holding it is empty
    assert link["expires_at"] > clock.iso_after(14 * 60) and link["outbox"] == []
    assert "email_verified_at" not in created

    assert registration.call("registration", "complete_sign_in", token) == {
        "email": data["email"].lower(),
        "organiser": False,
        "names_with_needs": False,
    }
    assert registration.call("registration", "complete_sign_in", token) is None  # one time only
    (mine,) = registration.call("registration", "registrations_of", vouched({"email": data["email"]}))
    assert mine["id"] == created["id"] and mine["reference"] == reference_of(created["id"])
    assert mine["email_verified_at"] and mine["accessibility_needs"]["other"] == "a quiet room"
    assert "manage_token" not in mine and "email_key" not in mine


def test_links_unknown_expired_or_malformed_sign_in_nobody(registration, amqp_uri, mongo):
    data = company()
    create(registration, "company", data)
    token = sign_in(registration, amqp_uri, data["email"])
    mongo["registration"]["sign_in_links"].update_one(
        {"_id": hash_token(token)}, {"$set": {"expires_at": clock.iso_after(-1)}}
    )
    assert registration.call("registration", "complete_sign_in", token) is None
    for nonsense in ("x" * 43, "", None, 123, {"$ne": None}, ["a"], "y" * 5000):
        assert registration.call("registration", "complete_sign_in", nonsense) is None


def test_an_unknown_or_erased_address_is_told_the_same_and_sent_nothing(registration, amqp_uri, mongo):
    drain(amqp_uri, "notification", "sign_in")
    unknown = unique_email("nobody")
    assert registration.call("registration", "request_sign_in", unknown, "en") == {"status": "sent"}
    data = attendee()
    created = create(registration, "attendee", data)
    registration.call(
        "registration", "erase", "attendee", created["id"], vouched({"token": created["manage_token"]})
    )
    assert registration.call("registration", "request_sign_in", data["email"], "en") == {"status": "sent"}
    assert sign_in_events(amqp_uri, unknown) == [] and sign_in_events(amqp_uri, data["email"]) == []
    assert links_of(mongo, unknown) == [] and links_of(mongo, data["email"]) == []
    assert registration.call("registration", "registrations_of", vouched({"email": data["email"]})) == []


def test_a_cancelled_registration_may_still_sign_in(registration, amqp_uri):
    data = investor()
    created = create(registration, "investor", data)
    registration.call(
        "registration", "cancel", "investor", created["id"], vouched({"token": created["manage_token"]})
    )
    token = sign_in(registration, amqp_uri, data["email"])
    assert registration.call("registration", "complete_sign_in", token)["email"] == data["email"]


def test_at_most_three_unexpired_links_per_address(registration, amqp_uri, mongo):
    data = company()
    create(registration, "company", data)
    drain(amqp_uri, "notification", "sign_in")
    for _ in range(5):
        assert registration.call("registration", "request_sign_in", data["email"], "ko") == {"status": "sent"}
    assert len(sign_in_events(amqp_uri, data["email"])) == 3
    assert len(links_of(mongo, data["email"])) == 3
    # an expired link makes room for a new one
    expired = links_of(mongo, data["email"])[0]["_id"]
    mongo["registration"]["sign_in_links"].update_one(
        {"_id": expired}, {"$set": {"expires_at": clock.iso_after(-1)}}
    )
    registration.call("registration", "request_sign_in", data["email"], "ko")
    assert len(sign_in_events(amqp_uri, data["email"])) == 1
    links = links_of(mongo, data["email"])
    assert len(links) == 3 and expired not in {link["_id"] for link in links}


def test_an_organiser_signs_in_by_link_too(registration, amqp_uri):
    token = sign_in(registration, amqp_uri, ORGANISER)
    assert registration.call("registration", "complete_sign_in", token) == {
        "email": ORGANISER,
        "organiser": True,
        "names_with_needs": True,
    }
    token = sign_in(registration, amqp_uri, COLLEAGUE)
    assert registration.call("registration", "complete_sign_in", token) == {
        "email": COLLEAGUE,
        "organiser": True,
        "names_with_needs": False,
    }


def test_a_sign_in_request_is_validated(registration):
    with pytest.raises(errors.Invalid) as raised:
        registration.call("registration", "request_sign_in", {"$ne": None}, "fr")
    assert set(raised.value.fields) == {"email", "language"}
    # someone's registrations are listed only for a caller the gateway signed in by e-mail
    for caller in ("someone@example.kr", {"email": "someone@example.kr"}, vouched({"organiser": True})):
        with pytest.raises(errors.Forbidden):
            registration.call("registration", "registrations_of", caller)


# --- callers signed in by e-mail ----------------------------------------------------------


def test_someone_signed_in_acts_on_every_registration_of_their_address(registration):
    data = company()
    as_company = create(registration, "company", data)
    as_investor = create(registration, "investor", investor(email=data["email"]))
    other = create(registration, "company", company())
    me = vouched({"email": data["email"].upper()})
    assert registration.call("registration", "get", "company", as_company["id"], me)["name"] == "Sori AI"
    changed = registration.call(
        "registration", "update", "investor", as_investor["id"], {"stages": ["pre_a"]}, me
    )
    assert changed["stages"] == ["pre_a"]
    mine = registration.call("registration", "registrations_of", vouched({"email": data["email"]}))
    assert [view["id"] for view in mine] == [as_investor["id"], as_company["id"]]  # newest first
    refusals = []
    for kind, registration_id in (
        ("company", other["id"]),
        ("company", "no-such-id"),
        ("investor", as_company["id"]),
    ):
        with pytest.raises(errors.Forbidden) as refused:
            registration.call("registration", "get", kind, registration_id, me)
        refusals.append(refused.value.message)
    assert len(set(refusals)) == 1  # the same whether it exists or not
    with pytest.raises(errors.Forbidden):
        registration.call(
            "registration", "get", "company", as_company["id"], vouched({"email": {"$ne": None}})
        )
    assert (
        registration.call("registration", "cancel", "company", as_company["id"], me)["status"] == "cancelled"
    )
    registration.call("registration", "erase", "company", as_company["id"], me)
    with pytest.raises(errors.Forbidden):
        registration.call("registration", "get", "company", as_company["id"], me)


def test_changing_the_address_asks_for_it_to_be_proved_again(registration, amqp_uri):
    data = attendee()
    created = create(registration, "attendee", data)
    token = sign_in(registration, amqp_uri, data["email"])
    registration.call("registration", "complete_sign_in", token)
    me = vouched({"email": data["email"]})
    assert registration.call("registration", "get", "attendee", created["id"], me)["email_verified_at"]
    new = unique_email("new")
    changed = registration.call("registration", "update", "attendee", created["id"], {"email": new}, me)
    assert changed.get("email_verified_at") is None
    with pytest.raises(errors.Forbidden):
        registration.call("registration", "get", "attendee", created["id"], me)
    assert (
        registration.call("registration", "get", "attendee", created["id"], vouched({"email": new}))["email"]
        == new
    )


# --- attendee fields, companions, and what an earlier version stored ------------------------


def test_a_carer_registers_someone_with_companions(registration):
    created = create(registration, "attendee", attendee(carer_name="Park Jimin", companions=3))
    assert (created["carer_name"], created["companions"]) == ("Park Jimin", 3)
    assert "companions" not in created["accessibility_needs"]
    with pytest.raises(errors.Invalid) as raised:
        create(registration, "attendee", attendee(accessibility_needs={"companions": 1}))
    assert set(raised.value.fields) == {"accessibility_needs"}


def test_a_companion_is_named_and_renamed_without_registering_again_and_told_to_nobody(
    registration, amqp_uri, mongo
):
    drain(amqp_uri, "matching")
    drain(amqp_uri, "notification")
    created = create(
        registration,
        "attendee",
        attendee(carer_name="Park Jimin", companions=1, companion_names=["Lee Minho"]),
    )
    assert created["companion_names"] == ["Lee Minho"]
    caller = vouched({"token": created["manage_token"]})
    renamed = registration.call(
        "registration", "update", "attendee", created["id"], {"companion_names": ["Choi Yuna"]}, caller
    )
    assert (renamed["id"], renamed["companion_names"], renamed["revision"]) == (
        created["id"],
        ["Choi Yuna"],
        2,
    )
    with pytest.raises(errors.Invalid) as raised:
        registration.call(
            "registration", "update", "attendee", created["id"], {"companion_names": ["A", "B"]}, caller
        )
    assert set(raised.value.fields) == {"companion_names"}
    both = registration.call(
        "registration",
        "update",
        "attendee",
        created["id"],
        {"companions": 2, "companion_names": ["Choi Yuna", "Kim Haneul"]},
        caller,
    )
    assert (both["companions"], both["companion_names"]) == (2, ["Choi Yuna", "Kim Haneul"])
    told = drain(amqp_uri, "notification") + drain(amqp_uri, "matching")
    mine = [event for event in told if event["payload"].get("registration_id") == created["id"]]
    assert len(mine) == 3 and all(event["payload"]["contact"]["carer_name"] == "Park Jimin" for event in mine)
    assert "Minho" not in str(told) and "Yuna" not in str(told), "companions' names stay here"
    registration.call("registration", "cancel", "attendee", created["id"], caller)
    stored = mongo["registration"]["registrations"].find_one({"_id": created["id"]})
    assert "companion_names" not in stored, "forgotten once the person does not come"


def test_registrations_stored_before_are_brought_up_to_date_at_start(registration, mongo):
    raw = mongo["registration"]["registrations"].find_one({"_id": LEGACY_ID})
    assert raw["reference"] == reference_of(LEGACY_ID) and raw["companions"] == 2
    assert raw["email_key"] == f"legacy-{LEGACY_ID}@example.kr"
    assert Sealer(KEY).open(raw["accessibility_needs_sealed"]) == {"wheelchair_access": True, "other": "ramp"}
    # a senior's visitor type, stored in plain text before, is sealed now
    assert "attendee_type" not in raw and Sealer(KEY).open(raw["attendee_type_sealed"]) == "senior"
    view = registration.call(
        "registration", "get", "attendee", LEGACY_ID, vouched({"token": f"tcx_{LEGACY_ID}"})
    )
    assert view["attendee_type"] == "senior"
    assert view["companions"] == 2 and view["accessibility_needs"] == {
        "wheelchair_access": True,
        "other": "ramp",
    }


def test_stats_count_companions_apart_from_needs(registration):
    before = registration.call("registration", "stats")
    create(registration, "attendee", attendee(companions=4, accessibility_needs={"guide_dog": True}))
    create(registration, "attendee", attendee(companions=2, accessibility_needs=None))
    create(registration, "attendee", attendee(companions=0, accessibility_needs=None))
    cancelled = create(registration, "attendee", attendee(companions=5))
    registration.call("registration", "cancel", "attendee", cancelled["id"], vouched({"organiser": True}))
    after = registration.call("registration", "stats")
    assert "companions" not in after["accessibility_needs"]
    assert (
        after["companions"]["attendees_with_companions"]
        == before["companions"]["attendees_with_companions"] + 2
    )
    assert after["companions"]["companions"] == before["companions"]["companions"] + 6
    assert after["accessibility_needs"]["guide_dog"] == before["accessibility_needs"].get("guide_dog", 0) + 1
    assert set(after) >= {"registrations", "accessibility_needs", "companions", "outbox_pending"}


# --- contact cards ------------------------------------------------------------------------


def test_contact_cards_of_active_companies_and_investors_only(registration, amqp_uri):
    drain(amqp_uri, "notification")
    a_company = create(
        registration, "company", company(contact_name="Lee Sora", website="https://sori.example")
    )
    an_investor = create(registration, "investor", investor())
    an_attendee = create(registration, "attendee", attendee())
    gone = create(registration, "company", company())
    registration.call(
        "registration", "cancel", "company", gone["id"], vouched({"token": gone["manage_token"]})
    )
    ids = [a_company["id"], an_investor["id"], an_attendee["id"], gone["id"], "no-such-id"]
    cards = registration.call(
        "registration", "contact_cards", ids, vouched({"registration_id": an_investor["id"]})
    )
    assert cards == {
        a_company["id"]: {
            "kind": "company",
            "organisation": "Sori AI",
            "contact_person": "Lee Sora",
            "email": a_company["email"],
            "website": "https://sori.example",
        },
        an_investor["id"]: {
            "kind": "investor",
            "organisation": "Seoul Impact Partners",
            "contact_person": "Kim Sujin",
            "email": an_investor["email"],
            "website": "",
        },
    }
    for bad in ("not a list", [{"$ne": None}], ["x"] * 501, None):
        with pytest.raises(errors.Invalid):
            registration.call("registration", "contact_cards", bad, vouched({"organiser": True}))
    contacts = {
        event["payload"]["registration_id"]: event["payload"]["contact"]
        for event in drain(amqp_uri, "notification")
        if event["type"] == "registration.created"
    }
    assert contacts[a_company["id"]]["contact_person"] == "Lee Sora"
    assert contacts[an_investor["id"]]["organisation"] == "Seoul Impact Partners"
    assert "organisation" not in contacts[an_attendee["id"]]


# --- organisers: lists, exports, audit log ------------------------------------------------


@pytest.fixture(scope="module")
def listed(registration):
    """Registrations sharing a marker of their own in their names, oldest first."""
    marker = uuid.uuid4().hex[:8]
    made = [
        create(registration, "attendee", attendee(name=f"Attendee {marker} One", attendee_type="senior")),
        create(registration, "company", company(name=f"Company {marker}")),
        create(
            registration, "investor", investor(name=f"Investor {marker}", organisation=f"Fund {marker} KR")
        ),
        create(
            registration,
            "attendee",
            attendee(name=f"Attendee {marker} Two", attendee_type="student", accessibility_needs=None),
        ),
        create(registration, "attendee", attendee(name=f"Attendee {marker} Gone")),
    ]
    registration.call("registration", "cancel", "company", made[1]["id"], vouched({"organiser": True}))
    registration.call("registration", "erase", "attendee", made[4]["id"], vouched({"organiser": True}))
    return marker, made[:4]


def listing(registration, **query):
    return registration.call("registration", "list_registrations", query, vouched({"organiser": True}))


def test_an_organiser_lists_registrations_newest_first_without_needs(registration, listed):
    marker, made = listed
    page = listing(registration, q=marker.upper())
    assert (page["total"], page["page"], page["per_page"]) == (4, 1, 25)
    assert [row["id"] for row in page["items"]] == [r["id"] for r in reversed(made)]
    first = page["items"][-1]
    assert tuple(first) == REGISTRATION_ROW_FIELDS
    assert first["reference"] == reference_of(made[0]["id"]) and first["companions"] == 1
    # a senior's visitor type tells of a need for care: sealed, it is in no list
    assert first["has_accessibility_needs"] is True and first["attendee_type"] is None
    assert page["items"][0]["attendee_type"] == "student"
    assert page["items"][0]["has_accessibility_needs"] is False
    assert "quiet room" not in str(page)
    assert page["items"][1]["organisation"] == f"Fund {marker} KR"


def test_an_organiser_filters_searches_and_pages(registration, listed):
    marker, made = listed
    ids = lambda page: [row["id"] for row in page["items"]]  # noqa: E731
    assert ids(listing(registration, q=marker, kind="attendee")) == [made[3]["id"], made[0]["id"]]
    assert ids(listing(registration, q=marker, status="cancelled")) == [made[1]["id"]]
    assert ids(listing(registration, q=marker, attendee_type="student")) == [made[3]["id"]]
    assert ids(listing(registration, q=f"fund {marker} kr")) == [made[2]["id"]]
    assert ids(listing(registration, q=made[1]["email"].split("@")[0].upper())) == [made[1]["id"]]
    assert ids(listing(registration, q=made[3]["reference"].lower())) == [made[3]["id"]]
    assert ids(listing(registration, q=made[3]["reference"][:8])) == []  # a number is found whole
    assert listing(registration, q=f"{marker}.*")["total"] == 0  # the text is literal, not a pattern
    second = listing(registration, q=marker, per_page="3", page="2", kind="", status="")
    assert ids(second) == [made[0]["id"]] and second["total"] == 4 and second["page"] == 2
    assert listing(registration, q=marker, page=9)["items"] == []


def test_only_organisers_list_and_bad_queries_are_refused(registration, listed):
    marker, made = listed
    callers = (
        vouched({"token": made[0]["manage_token"]}),
        vouched({"email": made[0]["email"]}),
        vouched({}),
        vouched({"organiser": "yes"}),
        # the broker-trust case: a message on the broker that the gateway did not sign
        {"organiser": True},
    )
    for caller in callers:
        for method in ("list_registrations", "export_registrations"):
            with pytest.raises(errors.Forbidden):
                registration.call("registration", method, {"q": marker}, caller)
        with pytest.raises(errors.Forbidden):
            registration.call("registration", "audit_log", caller)
    with pytest.raises(errors.Invalid) as raised:
        listing(registration, kind="robot", status="erased", per_page=1000, page=0, q={"$regex": ".*"})
    assert set(raised.value.fields) == {"kind", "status", "per_page", "page", "q"}
    with pytest.raises(errors.Invalid):
        registration.call("registration", "list_registrations", "kind=attendee", vouched({"organiser": True}))


def test_exports_and_reads_of_needs_are_audited(registration, listed):
    marker, made = listed
    rows = registration.call(
        "registration", "export_registrations", {"q": marker, "page": 1}, organiser_caller()
    )
    assert [row["id"] for row in rows] == [r["id"] for r in reversed(made)]
    assert all(tuple(row) == REGISTRATION_ROW_FIELDS for row in rows) and "quiet room" not in str(rows)
    read = registration.call("registration", "get", "attendee", made[0]["id"], organiser_caller())
    assert read["accessibility_needs"]["other"] == "a quiet room"
    registration.call("registration", "get", "attendee", made[0]["id"], vouched({"organiser": True}))
    # nothing sensitive read here: no needs, or the registrant's own token
    registration.call("registration", "get", "attendee", made[3]["id"], organiser_caller())
    registration.call(
        "registration", "get", "attendee", made[0]["id"], vouched({"token": made[0]["manage_token"]})
    )
    log = registration.call("registration", "audit_log", vouched({"organiser": True}), 3)
    assert [(entry["action"], entry["organiser"], entry["registration_id"]) for entry in log] == [
        ("read_accessibility_needs", "organiser token", made[0]["id"]),
        ("read_accessibility_needs", ORGANISER, made[0]["id"]),
        ("export_registrations", ORGANISER, None),
    ]
    assert log[0]["at"] >= log[1]["at"] >= log[2]["at"]
    for limit in (0, 1001, "3", True):
        with pytest.raises(errors.Invalid):
            registration.call("registration", "audit_log", vouched({"organiser": True}), limit)


def test_expired_links_are_deleted(registration, mongo):
    from registration.store import RegistrationStore

    store = RegistrationStore(mongo["registration"], Sealer(KEY), {"_id": "expo-2026"})
    links = mongo["registration"]["sign_in_links"]
    address = unique_email("old")
    links.insert_many(
        [
            {
                "_id": f"{address}-{n}",
                "email": address,
                "slot_key": f"{address}/{n}",
                "expires_at": expires_at,
            }
            for n, expires_at in enumerate([clock.iso_after(-60), clock.iso_after(-1), clock.iso_after(60)])
        ]
    )
    assert store.forget_expired_sign_in_links(clock.now_iso()) >= 2
    assert [link["_id"] for link in links.find({"email": address})] == [f"{address}-2"]


# --- an event's exports -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_event(registration, mongo):
    """An event with places for two: a party of two admitted (needs, companion, checked in at the
    door), two waiting in line (one with needs), one cancelled; and a registration elsewhere."""
    event = registration.call(
        "registration", "create_event", town_hall(status="open", capacity=2), organiser_caller()
    )
    made = {
        "admitted": create(registration, "attendee", attendee(event_id=event["id"], name="Ahn Admitted")),
        "first": create(
            registration,
            "attendee",
            attendee(
                event_id=event["id"],
                name="Baek First",
                companions=0,
                accessibility_needs={"live_captioning": True},
            ),
        ),
        "second": create(
            registration,
            "attendee",
            attendee(event_id=event["id"], name="Cho Second", attendee_type="citizen", companions=0)
            | {"accessibility_needs": None, "consents": {"privacy": True}},
        ),
        "gone": create(registration, "attendee", attendee(event_id=event["id"], name="Gone Cancelled")),
    }
    registration.call("registration", "cancel", "attendee", made["gone"]["id"], organiser_caller())
    create(registration, "attendee", attendee(name="Elsewhere Expo"))
    # checked in at the door (check-in writes these fields)
    mongo["registration"]["registrations"].update_one(
        {"_id": made["admitted"]["id"]},
        {
            "$set": {"checked_in_at": clock.now_iso(), "checked_in_by": "door@expo.example.org"},
            "$inc": {"_v": 1},
        },
    )
    return event["id"], made


def export(registration, event_id, export, caller=None, **query):
    return registration.call(
        "registration",
        "export_event",
        {"event_id": event_id, "export": export, **query},
        caller or organiser_caller(),
    )


def test_an_events_registrants_waiting_list_and_check_ins(registration, small_event):
    event_id, made = small_event
    registrants = export(registration, event_id, "registrants")
    assert {row["name"]: row["admission"] for row in registrants} == {
        "Ahn Admitted": "admitted",
        "Baek First": "waiting",
        "Cho Second": "waiting",
    }, "the event's active registrations only, with their place"
    assert all(tuple(row) == REGISTRATION_ROW_FIELDS for row in registrants)
    assert "quiet room" not in str(registrants) and "person_with_disability" not in str(registrants)

    waiting = export(registration, event_id, "waiting_list")
    assert [(row["position"], row["id"], row["party_size"]) for row in waiting] == [
        (1, made["first"]["id"], 1),
        (2, made["second"]["id"], 1),
    ]
    assert "captioning" not in str(waiting)

    check_ins = export(registration, event_id, "check_ins")
    assert [(row["id"], row["checked_in_by"]) for row in check_ins] == [
        (made["admitted"]["id"], "door@expo.example.org")
    ]
    assert check_ins[0]["checked_in_at"]


def test_accessibility_preparation_is_counts_unless_an_organiser_with_the_permission_asks(
    registration, small_event
):
    event_id, made = small_event
    for caller in (vouched({"organiser": True}), vouched({"organiser": True, "organiser_email": COLLEAGUE})):
        counts = {
            row["item"]: (row["coming"], row["waiting"])
            for row in export(registration, event_id, "accessibility", caller)
        }
        assert counts["wheelchair_access"] == (1, 0) and counts["live_captioning"] == (0, 1)
        assert (counts["attendees_with_companions"], counts["companions"]) == ((1, 0), (1, 0))
        # names: refused to the shared token and to an organiser without the permission
        with pytest.raises(errors.Forbidden):
            export(registration, event_id, "accessibility", caller, names=True)
    named = export(registration, event_id, "accessibility", names=True)
    assert [(row["name"], row["wheelchair_access"], row["live_captioning"]) for row in named] == [
        ("Ahn Admitted", True, False),
        ("Baek First", False, True),
    ]
    assert named[0]["other_needs"] == "a quiet room"


def test_an_events_exports_are_audited_with_the_event_and_counts_are_not(registration, small_event):
    event_id, _ = small_event
    for name in ("registrants", "waiting_list", "check_ins"):
        export(registration, event_id, name)
    export(registration, event_id, "accessibility")
    export(registration, event_id, "accessibility", names=True)
    log = registration.call("registration", "audit_log", vouched({"organiser": True}), 4)
    assert [(entry["action"], entry["organiser"], entry.get("event_id")) for entry in log] == [
        ("export_accessibility_names", ORGANISER, event_id),
        ("export_check_ins", ORGANISER, event_id),
        ("export_waiting_list", ORGANISER, event_id),
        ("export_registrants", ORGANISER, event_id),
    ]


def test_event_exports_are_for_organisers_and_validated(registration, small_event):
    event_id, made = small_event
    for caller in (vouched({"token": made["first"]["manage_token"]}), {"organiser": True}):
        with pytest.raises(errors.Forbidden):
            export(registration, event_id, "registrants", caller)
    with pytest.raises(errors.NotFound):
        export(registration, "no-such-event", "registrants")
    with pytest.raises(errors.Invalid) as raised:
        registration.call(
            "registration",
            "export_event",
            {"event_id": {"$ne": None}, "export": "everyone", "names": "yes"},
            organiser_caller(),
        )
    assert set(raised.value.fields) == {"event_id", "export", "names"}
    with pytest.raises(errors.Invalid) as raised:
        export(registration, event_id, "waiting_list", names=True)
    assert set(raised.value.fields) == {"names"}
