"""The outbox relay against the real broker, and the inbox against the real store."""

import json
import uuid

import pytest
from kombu import Connection, Queue, binding

from shared.aggregates import AggregateCollection
from shared.contracts.events import new_event
from shared.inbox import MAX_ATTEMPTS, Inbox
from shared.messaging import (
    EVENTS_EXCHANGE,
    SUBSCRIPTIONS,
    EventPublisher,
    service_queue,
    unbind_moved_event_types,
)
from shared.outbox import OutboxRelay
from tests.conftest import virtual_host


@pytest.fixture
def db(mongo):
    name = f"shared_{uuid.uuid4().hex[:8]}"
    yield mongo[name]
    mongo.drop_database(name)


def drain(amqp_uri: str, service: str, stream: str = "events") -> list[dict]:
    bodies = []
    with Connection(amqp_uri) as connection:
        queue = service_queue(service, stream)(connection.default_channel)
        queue.declare()
        while (message := queue.get(no_ack=True)) is not None:
            bodies.append(message.payload)
    return bodies


def cancelled_event(registration_id: str = "r1") -> dict:
    return new_event(
        "registration.erased", {"registration_id": registration_id, "kind": "company", "revision": 3}
    )


def test_relay_publishes_to_every_subscriber_with_confirms_and_empties_the_outbox(amqp_uri, db):
    drain(amqp_uri, "matching"), drain(amqp_uri, "notification")
    aggregates = AggregateCollection(db["things"])
    event = cancelled_event()
    aggregates.insert({"_id": "a"}, [event])
    relay = OutboxRelay(EventPublisher(amqp_uri), {"things": aggregates})
    relay.flush("things", "a")
    assert aggregates.outbox_of("a") == [] and relay.pending() == 0
    assert [body["event_id"] for body in drain(amqp_uri, "matching")] == [event["event_id"]]
    assert [body["event_id"] for body in drain(amqp_uri, "notification")] == [event["event_id"]]


def test_flush_publishes_every_event_and_empties_the_outbox_in_one_write(amqp_uri, db):
    drain(amqp_uri, "matching")
    aggregates = AggregateCollection(db["things"])
    events = [cancelled_event("r1"), cancelled_event("r2")]
    aggregates.insert({"_id": "a"}, events)
    relay = OutboxRelay(EventPublisher(amqp_uri), {"things": aggregates})
    relay.flush("things", "a")
    assert aggregates.outbox_of("a") == [] and relay.pending() == 0
    assert aggregates.get("a")["_v"] == 2  # one write for both events
    assert [body["event_id"] for body in drain(amqp_uri, "matching")] == [e["event_id"] for e in events]


def test_flush_publishes_only_what_the_outbox_holds_now(amqp_uri, db):
    drain(amqp_uri, "matching")
    aggregates = AggregateCollection(db["things"])
    aggregates.insert({"_id": "a"}, [cancelled_event("r1")])
    erased = cancelled_event("r2")
    # as an erasure does: the events naming the person are dropped before they were published
    aggregates.save({**aggregates.get("a"), "outbox": []}, [erased])
    relay = OutboxRelay(EventPublisher(amqp_uri), {"things": aggregates})
    relay.flush("things", "a")
    assert [body["event_id"] for body in drain(amqp_uri, "matching")] == [erased["event_id"]]


def test_emptying_an_outbox_in_one_write_refuses_a_document_changed_since(db):
    aggregates = AggregateCollection(db["things"])
    read = aggregates.insert({"_id": "a"}, [cancelled_event("r1")])
    later = cancelled_event("r2")
    aggregates.save(aggregates.get("a"), [later])
    assert not aggregates.mark_all_published(read)
    assert len(aggregates.outbox_of("a")) == 2


def test_an_event_that_cannot_be_published_stays_in_the_outbox(db):
    aggregates = AggregateCollection(db["things"])
    aggregates.insert({"_id": "a"}, [cancelled_event()])
    unreachable = EventPublisher("pyamqp://guest:guest@127.0.0.1:1//")
    relay = OutboxRelay(unreachable, {"things": aggregates})
    relay.flush("things", "a")
    assert relay.pending() == 1 and len(aggregates.outbox_of("a")) == 1


def test_sweep_publishes_what_a_crash_left_behind(amqp_uri, db):
    drain(amqp_uri, "matching")
    aggregates = AggregateCollection(db["things"])
    old = {**cancelled_event(), "occurred_at": "2020-01-01T00:00:00.000000Z"}
    fresh = cancelled_event("r2")
    aggregates.insert({"_id": "a"}, [old])
    aggregates.insert({"_id": "b"}, [fresh])
    relay = OutboxRelay(EventPublisher(amqp_uri), {"things": aggregates})
    assert relay.sweep() == 1  # the fresh event is still its request's to flush
    assert [body["event_id"] for body in drain(amqp_uri, "matching")] == [old["event_id"]]


def test_inbox_handles_an_event_once(db):
    inbox = Inbox(db)
    inbox.prepare()
    handled = []
    event = cancelled_event()
    inbox.process(event, {"registration.erased": handled.append})
    inbox.process(event, {"registration.erased": handled.append})
    assert len(handled) == 1


def test_inbox_retries_a_failing_handler_then_parks_it_and_never_runs_it_again(db):
    inbox = Inbox(db)
    inbox.prepare()
    calls = []

    def failing(event):
        calls.append(event)
        raise RuntimeError("store hiccup")

    event = cancelled_event()
    for _ in range(MAX_ATTEMPTS - 1):
        with pytest.raises(RuntimeError):
            inbox.process(event, {"registration.erased": failing})
    inbox.process(event, {"registration.erased": failing})  # the last attempt parks, no raise
    inbox.process(event, {"registration.erased": failing})
    assert len(calls) == MAX_ATTEMPTS
    parked = db["dead_letters"].find_one({"_id": event["event_id"]})
    assert parked["attempts"] == MAX_ATTEMPTS and "store hiccup" in parked["reason"]
    assert json.loads(parked["body"]) == event and inbox.count_parked() == 1


def test_a_failed_attempt_keeps_no_personal_data_in_the_inbox_record_which_outlives_erasure(db):
    inbox = Inbox(db)
    event = cancelled_event()

    def failing(event):
        raise ValueError("no such person: 김비밀 <secret.person@example.org>")

    with pytest.raises(ValueError):
        inbox.process(event, {"registration.erased": failing})
    record = db["inbox"].find_one({"_id": event["event_id"]})
    assert record["last_error"] == "ValueError: [message withheld: it may hold personal data]"


def test_a_dead_letter_is_found_by_every_party_it_names_wherever_the_body_names_them(db):
    """Erasing a person erases the dead letters about them: a suggestion event names its
    recipients in a list, and a message that broke its contract may name them anywhere."""
    inbox = Inbox(db)
    suggested = new_event(
        "matching.suggested",
        {
            "party_id": "c1",
            "suggestions": [
                {
                    "recipient_id": "i1",
                    "recipient_kind": "investor",
                    "counterpart_id": "c1",
                    "score": 80.0,
                    "shared_tags": ["ai"],
                },
                {
                    "recipient_id": "c1",
                    "recipient_kind": "company",
                    "counterpart_id": "i2",
                    "score": 70.0,
                    "shared_tags": ["ai"],
                },
            ],
        },
        version=2,
    )
    inbox.park(suggested["event_id"], suggested, reason="RuntimeError: test", attempts=5)
    broken = {"type": "registration.created", "payload": {"extra": [{"wrapped": {"registration_id": "r9"}}]}}
    inbox.process(broken, {})
    assert inbox.count_parked() == 2
    inbox.forget_about("i2")  # a counterpart named in the list only
    assert inbox.count_parked() == 1
    inbox.forget_about("r9")
    assert inbox.count_parked() == 0


def test_inbox_counts_attempts_before_running_so_a_crashing_message_is_parked(db):
    inbox = Inbox(db)
    event = cancelled_event()
    db["inbox"].insert_one({"_id": event["event_id"], "status": "pending", "attempts": MAX_ATTEMPTS})
    ran = []
    inbox.process(event, {"registration.erased": ran.append})
    assert ran == [] and inbox.count_parked() == 1


@pytest.mark.parametrize(
    "body",
    [
        {"event_id": "not-a-uuid", "type": "registration.erased", "version": 1, "payload": {}},
        {**cancelled_event(), "version": 42},
        {**cancelled_event(), "payload": {"registration_id": {"$ne": None}}},
        "plain text",
        [1, 2, 3],
    ],
)
def test_messages_that_break_their_contract_are_parked_at_once(db, body):
    inbox = Inbox(db)
    ran = []
    inbox.process(body, {"registration.erased": ran.append})
    assert ran == [] and inbox.count_parked() == 1


def test_event_types_moved_to_another_queue_are_unbound_from_the_queue_an_earlier_version_made():
    """notification.events once held every type notification consumes; matching's events now go
    to notification.matches. After the upgrade each event reaches exactly one of the two."""
    with virtual_host() as amqp_uri, Connection(amqp_uri) as connection:
        channel = connection.default_channel
        everything = [key for keys in SUBSCRIPTIONS["notification"].values() for key in keys]
        old_queue = Queue(
            "notification.events",
            bindings=[binding(EVENTS_EXCHANGE, routing_key=key) for key in everything],
            durable=True,
            queue_arguments={"x-queue-type": "quorum"},
        )(channel)
        old_queue.declare()

        unbind_moved_event_types(amqp_uri, "notification")

        publisher = EventPublisher(amqp_uri)
        suggested = new_event(
            "matching.suggested",
            {
                "recipient_id": "i1",
                "recipient_kind": "investor",
                "counterpart_ids": ["c1"],
                "best_score": 0.5,
            },
        )
        publisher.publish(suggested)
        publisher.publish(cancelled_event())
        assert [body["type"] for body in drain(amqp_uri, "notification")] == ["registration.erased"]
        matches = service_queue("notification", "matches")(channel)
        assert matches.get(no_ack=True).payload["event_id"] == suggested["event_id"]
        assert matches.get(no_ack=True) is None


def test_replies_without_confirms_leave_the_outbox_publishing_with_confirms(amqp_uri):
    """RPC replies are published without confirms. nameko's publishers write that choice into
    an options dict, which a reconnecting connection reads; the outbox's publisher, in the same
    process, must never find confirms switched off there."""
    from nameko.amqp.publish import Publisher

    from shared.rpc import _ReplyPublisher

    _ReplyPublisher(amqp_uri).publish({"result": None, "error": None}, routing_key="nobody-waits")
    outbox_options = EventPublisher(amqp_uri)._publisher.transport_options
    assert outbox_options is Publisher.transport_options
    assert outbox_options.get("confirm_publish", True) is True
