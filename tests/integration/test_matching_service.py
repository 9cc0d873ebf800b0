"""The matching service as a real process: events in, suggestions and their events out."""

import json
import os
import subprocess
import sys
import uuid

import pytest
from kombu import Connection, Producer, Queue

from matching.domain import Profile, explained, score
from matching.store import MatchingStore
from shared import errors
from shared.contracts.events import new_event
from shared.inbox import Inbox
from shared.messaging import EVENTS_EXCHANGE, SUBJECTS_HEADER, EventPublisher
from tests.conftest import CALLER_SIGNING_KEY, ROOT, acting_for, service_env, vouched, wait_for
from tests.integration.service_helpers import new_id, start_service
from tests.integration.test_outbox_and_inbox import drain


@pytest.fixture(scope="module")
def matching(amqp_uri, store_server, tmp_path_factory):
    env = service_env(amqp_uri, store_server["uri"], MATCHING_TOP_N="3")
    process, client = start_service("matching", env, tmp_path_factory.mktemp("logs"))
    yield client
    client.close()
    process.stop()


def profile(party_id, kind, tags, stages, revision=1, active=True):
    return new_event(
        "registration.profile_changed",
        {
            "registration_id": party_id,
            "kind": kind,
            "revision": revision,
            "active": active,
            "tags": tags,
            "stages": stages,
        },
    )


def suggestions_of(matching, kind, party_id, count=1):
    return wait_for(
        lambda: (
            (found := matching.call("matching", "suggestions", kind, party_id, acting_for(party_id)))
            and len(found) >= count
            and found
        ),
        message=f"{count} suggestion(s) for {party_id}",
    )


def handled(mongo, events):
    """Wait until matching has handled every one of ``events`` (its inbox marks them done)."""
    done = {"_id": {"$in": [event["event_id"] for event in events]}, "status": "done"}
    wait_for(
        lambda: mongo["matching"]["inbox"].count_documents(done) == len(events),
        30,
        message=f"matching to handle {len(events)} events",
    )


def floor_of(mongo, party_id):
    """The party's floor, once recorded in its ``party_tags`` entries."""
    # not {"$ne": None}: the embedded store counts a missing field as not equal to None
    entry = wait_for(
        lambda: mongo["matching"]["party_tags"].find_one({"party_id": party_id, "floor": {"$gt": 0}}),
        message=f"the floor of {party_id}",
    )
    return entry["floor"]


def recipients(events):
    """Who the suggestion events among ``events`` tell of a new suggestion."""
    return {
        suggestion["recipient_id"]
        for event in events
        if event["type"] == "matching.suggested"
        for suggestion in event["payload"]["suggestions"]
    }


def test_company_then_investor_gives_ranked_explained_suggestions_both_ways(matching, publish, amqp_uri):
    drain(amqp_uri, "notification", "matches")
    company, investor = new_id("c"), new_id("i")
    publish(profile(company, "company", ["dementia", "vr_ar", "health_safety"], ["seed"]))
    publish(profile(investor, "investor", ["dementia", "vr_ar"], ["seed", "pre_a"]))
    (item,) = suggestions_of(matching, "investor", investor)
    assert item["company_id"] == company and 0 < item["score"] <= 100
    assert {reason["tag"] for reason in item["reasons"] if reason["kind"] == "shared_tag"} == {
        "dementia",
        "vr_ar",
    }
    (back,) = suggestions_of(matching, "company", company)
    assert back["investor_id"] == investor and back["score"] == item["score"]

    told = set()

    def suggested():
        told.update(recipients(drain(amqp_uri, "notification", "matches")))
        return {company, investor} <= told

    wait_for(suggested, message="a suggestion for each side")


def test_duplicate_and_stale_events_change_nothing(matching, publish, amqp_uri, mongo):
    company, investor = new_id("c"), new_id("i")
    publish(profile(company, "company", ["elderly"], ["seed"]))
    investor_event = profile(investor, "investor", ["elderly"], ["seed"], revision=2)
    publish(investor_event)
    suggestions_of(matching, "investor", investor)
    told = set()

    def investor_told():
        told.update(recipients(drain(amqp_uri, "notification", "matches")))
        return investor in told

    wait_for(investor_told, message="the investor's own suggestion event")
    companies = matching.call("matching", "stats")["active_companies"]
    publish(investor_event)  # the same event again
    older = profile(investor, "investor", ["dementia"], ["seed"], revision=1)
    publish(older)
    publish(profile(new_id("c"), "company", ["children_youth"], ["idea"]))  # a marker, published last
    wait_for(
        lambda: (
            matching.call("matching", "stats")["active_companies"] > companies
            and mongo["matching"]["inbox"].find_one({"_id": older["event_id"], "status": "done"})
        ),
        message="the older revision and the marker to be handled",
    )
    assert len(matching.call("matching", "suggestions", "investor", investor, acting_for(investor))) == 1
    assert investor not in recipients(drain(amqp_uri, "notification", "matches"))


def test_changes_and_cancellations_update_the_suggestions(matching, publish):
    company, investor = new_id("c"), new_id("i")
    publish(profile(company, "company", ["low_income", "education"], ["seed"]))
    publish(profile(investor, "investor", ["low_income"], ["seed"]))
    suggestions_of(matching, "investor", investor)
    publish(profile(investor, "investor", ["robotics"], ["seed"], revision=2))
    wait_for(
        lambda: matching.call("matching", "suggestions", "investor", investor, acting_for(investor)) == [],
        message="the suggestion to go when tags no longer overlap",
    )
    publish(profile(investor, "investor", ["education"], ["seed"], revision=3))
    suggestions_of(matching, "investor", investor)
    publish(profile(company, "company", ["low_income", "education"], ["seed"], revision=2, active=False))
    wait_for(
        lambda: matching.call("matching", "suggestions", "investor", investor, acting_for(investor)) == [],
        message="a cancelled company to leave the suggestions",
    )


def test_interest_is_expressed_once_and_answered_once(matching, publish, amqp_uri):
    company, investor = new_id("c"), new_id("i")
    publish(profile(company, "company", ["iot"], ["growth"]))
    publish(profile(investor, "investor", ["iot"], ["growth"]))
    suggestions_of(matching, "investor", investor)
    drain(amqp_uri, "notification", "matches")
    first = matching.call("matching", "express_interest", investor, company, acting_for(investor))
    again = matching.call("matching", "express_interest", investor, company, acting_for(investor))
    assert first["created"] and not again["created"] and first["status"] == "pending"
    answered = matching.call("matching", "answer_interest", company, investor, True, acting_for(company))
    assert answered["status"] == "accepted"
    assert (
        matching.call("matching", "answer_interest", company, investor, True, acting_for(company))["status"]
        == "accepted"
    )
    with pytest.raises(errors.Conflict):
        matching.call("matching", "answer_interest", company, investor, False, acting_for(company))
    with pytest.raises(errors.NotFound):
        matching.call("matching", "answer_interest", company, new_id("i"), True, acting_for(company))
    with pytest.raises(errors.NotFound):
        matching.call("matching", "express_interest", investor, new_id("c"), acting_for(investor))
    events = []

    def both_interest_events():
        events.extend(
            e["type"]
            for e in drain(amqp_uri, "notification", "matches")
            if e["type"].startswith("matching.interest")
        )
        return len(events) >= 2

    wait_for(both_interest_events, message="interest events")
    assert events == ["matching.interest_expressed", "matching.interest_answered"]
    assert (
        matching.call("matching", "suggestions", "investor", investor, acting_for(investor))[0]["interest"]
        == "accepted"
    )


def test_a_poison_message_is_parked_and_the_service_keeps_consuming(matching, publish, amqp_uri):
    before = matching.call("matching", "stats")["dead_letters"]
    with Connection(amqp_uri) as connection:
        producer = Producer(connection.default_channel, exchange=EVENTS_EXCHANGE)
        producer.publish(
            {
                "event_id": str(uuid.uuid4()),
                "type": "registration.profile_changed",
                "version": 7,
                "occurred_at": "2026-01-01T00:00:00.000000Z",
                "payload": {},
            },
            routing_key="registration.profile_changed",
            serializer="json",
        )
    wait_for(
        lambda: matching.call("matching", "stats")["dead_letters"] == before + 1, message="a dead letter"
    )
    company, investor = new_id("c"), new_id("i")
    publish(profile(company, "company", ["wearables"], ["seed"]))
    publish(profile(investor, "investor", ["wearables"], ["seed"]))
    suggestions_of(matching, "investor", investor)


def test_parked_messages_can_be_listed_inspected_and_replayed_once(matching, publish, amqp_uri, mongo):
    """A valid event parked after failures is replayed by an organiser (here with the command
    line tool): it is handled once, and a second replay is refused."""
    company, investor = new_id("c"), new_id("i")
    publish(profile(company, "company", ["metaverse"], ["seed"]))
    event = profile(investor, "investor", ["metaverse"], ["seed"])
    # parked as the inbox parks after the last failed attempt, without ever being handled
    Inbox(mongo["matching"]).park(event["event_id"], event, reason="RuntimeError: test", attempts=5)
    letters = matching.call("matching", "dead_letters", vouched({"organiser": True}))
    assert letters[0]["id"] == event["event_id"] and letters[0]["status"] == "parked"
    assert (
        matching.call("matching", "dead_letter", event["event_id"], vouched({"organiser": True}))["body"]
        == event
    )

    env = {
        "AMQP_URI": amqp_uri,
        "CALLER_SIGNING_KEY": CALLER_SIGNING_KEY,
        "PYTHONWARNINGS": "ignore",
        "PATH": os.environ["PATH"],
    }
    replay = [sys.executable, "-m", "shared.deadletters", "replay", "matching", event["event_id"]]
    first = subprocess.run(replay, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["status"] == "replayed"
    second = subprocess.run(replay, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert second.returncode == 1 and "replayed already" in second.stderr
    (match,) = suggestions_of(matching, "company", company)
    assert match["investor_id"] == investor
    with pytest.raises(errors.NotFound):
        matching.call("matching", "replay_dead_letter", "no-such-letter", vouched({"organiser": True}))


def test_erasing_a_person_forgets_the_messages_about_them_that_matching_parked(matching, publish, mongo):
    for kind in ("investor", "attendee"):
        person = new_id("erased")
        parked = profile(person, "investor", ["robotics"], ["seed"])
        Inbox(mongo["matching"]).park(parked["event_id"], parked, reason="RuntimeError: test", attempts=5)
        assert matching.call("matching", "dead_letter", parked["event_id"], vouched({"organiser": True}))
        publish(new_event("registration.erased", {"registration_id": person, "kind": kind, "revision": 2}))
        wait_for(
            lambda event_id=parked["event_id"]: (
                mongo["matching"]["dead_letters"].find_one({"_id": event_id}) is None
            ),
            message=f"the dead letter about an erased {kind} to go",
        )


def test_a_change_is_announced_in_one_event_whatever_the_number_of_pairs(matching, publish, amqp_uri, mongo):
    """MATCHING_TOP_N is 3 here: the company keeps its 3 best investors for itself, and every
    investor (none has a floor yet) keeps the company too; all in one event."""
    variety = ["hearing_impairment", "speech_to_text", "communication", "ai"]
    investors = [new_id("i") for _ in range(8)]
    events = [
        profile(investor, "investor", ["sign_language", *variety[: number % 4]], ["seed"])
        for number, investor in enumerate(investors)
    ]
    for event in events:
        publish(event)
    handled(mongo, events)
    drain(amqp_uri, "notification", "matches")
    before = matching.call("matching", "io_counts")
    company = new_id("c")
    publish(profile(company, "company", ["sign_language", "hearing_impairment", "speech_to_text"], ["seed"]))
    stored = suggestions_of(matching, "company", company, count=8)
    events = []

    def announced():
        found = drain(amqp_uri, "notification", "matches")
        events.extend(
            e for e in found if e["type"] == "matching.suggested" and e["payload"]["party_id"] == company
        )
        return events

    wait_for(announced, message="the company's announcement")
    (event,) = events
    assert event["version"] == 2 and event["payload"]["party_id"] == company
    after = matching.call("matching", "io_counts")
    assert after["events_handled"] - before["events_handled"] == 1
    assert after["events_published"] - before["events_published"] == 1
    told = event["payload"]["suggestions"]
    to_company = [s for s in told if s["recipient_id"] == company]
    assert [s["counterpart_id"] for s in to_company] == [item["investor_id"] for item in stored[:3]]
    assert sorted(s["recipient_id"] for s in told if s["recipient_id"] != company) == sorted(investors)
    assert all(s["shared_tags"] and 0 < s["score"] <= 100 for s in told)


def test_a_party_records_its_floor_and_pairs_below_both_cut_offs_are_not_kept(matching, publish, mongo):
    companies = [new_id("c") for _ in range(5)]
    extra = ["digital_use", "education", "children_youth", "mobile_app", "big_data"]
    for number, company in enumerate(companies):
        publish(profile(company, "company", ["kiosk_accessibility", *extra[:number]], ["seed"]))
    wait_for(
        lambda: mongo["matching"]["party_tags"].count_documents({"party_id": {"$in": companies}}) >= 15,
        message="the companies to be entered",
    )
    investor = new_id("i")
    publish(profile(investor, "investor", ["kiosk_accessibility", "digital_use", "education"], ["seed"]))
    items = suggestions_of(matching, "investor", investor, count=5)
    floor = floor_of(mongo, investor)
    # no company had an investor when it registered, so none has a floor: all 5 pairs are kept,
    # the investor's 3 best for its own sake and the other 2 for the companies'
    assert len(items) == 5
    assert floor == items[2]["score"]


def test_a_list_filling_from_the_other_side_raises_its_floor(matching, publish, mongo):
    """MATCHING_TOP_N is 3. Four investors share the companies' tags; ties go to the lowest
    pair id, so no company counts the last investor among its own best 3. Its list fills from
    the companies' side; once it holds 3, its floor is raised, and a company merely tying with
    its floor is no longer stored for it, while a better one is."""
    tags = ["career_break_women", "multicultural"]
    investors = sorted(new_id("i") for _ in range(4))
    last = investors[-1]
    events = [profile(investor, "investor", tags, ["seed"]) for investor in investors]
    for event in events:
        publish(event)
    handled(mongo, events)
    pairs = mongo["matching"]["suggestions"]

    def company_event(stage):
        return profile(new_id("c"), "company", tags, [stage])

    first = [company_event("pre_a") for _ in range(3)]  # next to the investors' stage: 90 points
    for event in first:
        publish(event)
    handled(mongo, first)
    assert pairs.count_documents({"investor_id": last}) == 3
    floor = floor_of(mongo, last)
    tied = [company_event("pre_a") for _ in range(2)]
    for event in tied:
        publish(event)
    handled(mongo, tied)
    assert pairs.count_documents({"investor_id": last}) == 3
    better = company_event("seed")
    publish(better)
    handled(mongo, [better])
    stored = pairs.find_one({"_id": f"{last}:{better['payload']['registration_id']}"})
    assert stored is not None and stored["score"] > floor


def test_the_rematch_brings_stale_scores_up_to_date_and_announces_nothing(
    matching, publish, amqp_uri, mongo, store_server
):
    company, investor = new_id("c"), new_id("i")
    publish(profile(company, "company", ["single_household", "data_use"], ["pre_a"]))
    publish(profile(investor, "investor", ["single_household", "data_use", "mobility"], ["pre_a"]))
    (before,) = suggestions_of(matching, "investor", investor)
    # many others now carry data_use: it is no longer rare, so the pair's stored score is stale
    others = [profile(new_id("c"), "company", ["data_use", "robotics"], ["growth"]) for _ in range(12)]
    for other in others:
        publish(other)
    handled(mongo, others)
    drain(amqp_uri, "notification", "matches")
    env = {**os.environ, "MONGO_URI": store_server["uri"], "MATCHING_TOP_N": "3", "PYTHONWARNINGS": "ignore"}
    run = subprocess.run(
        [sys.executable, "-m", "matching.rematch"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["updated"] >= 1
    (after,) = [
        i
        for i in matching.call("matching", "suggestions", "investor", investor, acting_for(investor))
        if i["company_id"] == company
    ]
    assert after["score"] != before["score"]
    weights = MatchingStore(mongo["matching"]).tag_weights()
    expected = score(
        Profile(investor, "investor", ("single_household", "data_use", "mobility"), ("pre_a",)),
        Profile(company, "company", ("single_household", "data_use"), ("pre_a",)),
        weights,
    )
    assert after["score"] == expected.score
    assert after["reasons"] == [explained(reason) for reason in expected.reasons]
    assert not [e for e in drain(amqp_uri, "notification", "matches") if e["type"] == "matching.suggested"]


def test_a_dead_letter_whose_body_names_no_one_is_erased_with_the_registration_its_publisher_named(
    matching, publish, amqp_uri, mongo
):
    """A message that cannot be read as an event (here plain text, as a broken publisher might
    send, holding someone's e-mail address) is parked at once; the registration named in its
    headers when it was published is kept beside it, so erasing that registration erases it."""
    person = new_id("erased")
    body = f"profile of {person}: jimin@example.kr"
    EventPublisher(amqp_uri).publish_to_queue(body, "matching", [person])
    letters = mongo["matching"]["dead_letters"]
    (letter,) = wait_for(lambda: list(letters.find({"about": person})), message="the dead letter")
    assert "jimin@example.kr" in letter["body"]
    publish(new_event("registration.erased", {"registration_id": person, "kind": "investor", "revision": 2}))
    wait_for(lambda: letters.find_one({"_id": letter["_id"]}) is None, message="the dead letter to go")


def test_a_published_event_names_its_registrations_in_its_headers(amqp_uri):
    """What the test above relies on: every event leaves with the registrations it is about in a
    header, whatever its body holds."""
    company, investor = new_id("c"), new_id("i")
    event = {
        "event_id": str(uuid.uuid4()),
        "type": "test.headers",
        "payload": {"investor_id": investor, "recipients": [{"counterpart_id": company}]},
    }
    queue = Queue(
        f"headers-{uuid.uuid4().hex[:8]}", EVENTS_EXCHANGE, routing_key="test.headers", auto_delete=True
    )
    with Connection(amqp_uri) as connection:
        queue(connection.default_channel).declare()
        EventPublisher(amqp_uri).publish(event)
        message = wait_for(lambda: queue(connection.default_channel).get(no_ack=True), message="the event")
    assert message.headers[SUBJECTS_HEADER] == sorted([company, investor])
