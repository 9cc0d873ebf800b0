"""The I/O counters the benchmarks read: store commands, confirmed publishes, handled events."""

import pytest
from nameko.amqp.publish import UndeliverableMessage

from shared import metrics
from shared.messaging import EventPublisher
from shared.mongo import connect


@pytest.fixture(autouse=True)
def counts():
    saved = metrics.io_counts.copy()
    metrics.io_counts.clear()
    yield metrics.io_counts
    metrics.io_counts.clear()
    metrics.io_counts.update(saved)


def test_every_store_command_is_counted_once_when_it_ends_whether_it_succeeded_or_failed(counts):
    listener = metrics.StoreCommandCounter()
    listener.started(object())
    assert counts["store_commands"] == 0
    listener.succeeded(object())
    listener.failed(object())
    assert counts["store_commands"] == 2


def test_the_services_store_client_counts_its_commands():
    client = connect("mongodb://127.0.0.1:1/?directConnection=true")  # never used: no connection
    try:
        listeners = client.options.event_listeners
        assert any(isinstance(listener, metrics.StoreCommandCounter) for listener in listeners)
    finally:
        client.close()


def test_a_publish_is_counted_once_confirmed_and_not_when_refused(counts, monkeypatch):
    publisher = EventPublisher("pyamqp://guest:guest@127.0.0.1:5672//")
    event = {"type": "registration.created", "event_id": "e-1"}
    monkeypatch.setattr(publisher._publisher, "publish", lambda *args, **kwargs: None)
    publisher.publish(event)
    assert counts["events_published"] == 1

    def unroutable(*args: object, **kwargs: object) -> None:
        raise UndeliverableMessage()

    monkeypatch.setattr(publisher._publisher, "publish", unroutable)
    with pytest.raises(RuntimeError):
        publisher.publish(event)
    assert counts["events_published"] == 1


def test_the_rpc_reports_every_counter_even_those_never_incremented(counts):
    counts["store_commands"] += 3
    counts["events_handled"] += 1
    assert metrics.IoCountsRpc().io_counts() == {
        "store_commands": 3,
        "events_published": 0,
        "events_handled": 1,
    }
