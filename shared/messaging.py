"""The event topology on RabbitMQ, and how events are published and consumed.

One durable topic exchange carries every event, routed by event type. Each subscribing service
has durable quorum queues, each bound to some of the event types it consumes and every type to
exactly one queue (see SUBSCRIPTIONS). Both publishers and consumers declare the whole
topology, so an event published before its subscriber ever started is kept in the subscriber's
queue instead of being dropped.
"""

import logging
from collections.abc import Callable, Sequence
from typing import Any

from kombu import Connection, Exchange, Queue, binding
from kombu.exceptions import ChannelError
from nameko.amqp.publish import Publisher, UndeliverableMessage
from nameko.containers import WorkerContext
from nameko.extensions import DependencyProvider
from nameko.messaging import Consumer

from shared import metrics
from shared.contracts.events import subjects_of
from shared.rpc import CONNECTION_ERRORS

log = logging.getLogger(__name__)

EVENTS_EXCHANGE = Exchange("expo.events", type="topic", durable=True)
# the broker's default exchange routes a message to the queue named by its routing key
DIRECT_EXCHANGE = Exchange("")
# the message header naming the registrations an event is about
SUBJECTS_HEADER = "subjects"

# service → its queues (named ``<service>.<stream>``) → the event types bound to each.
# Notification reads matching's events from a queue of their own: a suggestion or an expressed
# interest is then not held up behind a rush of registrations waiting for their confirmation.
SUBSCRIPTIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "matching": {
        "events": (
            "registration.profile_changed",
            "registration.erased",
        ),
    },
    "notification": {
        "events": (
            "registration.created",
            "registration.updated",
            "registration.cancelled",
            "registration.erased",
            "registration.contact_refreshed",
            # on the registrations' queue: an event reaches notification before the
            # registrations made for it once it was published
            "registration.programme_event_changed",
        ),
        # a sign-in link is awaited by someone at a screen: never behind a rush of confirmations
        "sign_in": ("registration.sign_in_link_requested",),
        "matches": (
            "matching.suggested",
            "matching.interest_expressed",
            "matching.interest_answered",
        ),
    },
}
MAIN_STREAM = "events"


def service_queue(service: str, stream: str = MAIN_STREAM) -> Queue:
    return Queue(
        f"{service}.{stream}",
        bindings=[binding(EVENTS_EXCHANGE, routing_key=key) for key in SUBSCRIPTIONS[service][stream]],
        durable=True,
        queue_arguments={"x-queue-type": "quorum"},
    )


def service_queues(service: str) -> list[Queue]:
    return [service_queue(service, stream) for stream in SUBSCRIPTIONS[service]]


def unbind_moved_event_types(amqp_uri: str, service: str) -> None:
    """Remove, from each queue of ``service``, the bindings of event types now routed to another
    of its queues (a queue declared by an earlier version may still hold them, and would get a
    second copy of each such event). Removing a binding that does not exist changes nothing."""
    with Connection(amqp_uri, connect_timeout=5) as connection:
        channel = connection.default_channel
        for stream in SUBSCRIPTIONS[service]:
            queue = service_queue(service, stream)(channel)
            queue.declare()
            moved = [key for other, keys in SUBSCRIPTIONS[service].items() if other != stream for key in keys]
            for key in moved:
                queue.unbind_from(EVENTS_EXCHANGE, routing_key=key)


def broker_reachable(amqp_uri: str, timeout: float = 2.0) -> bool:
    try:
        with Connection(amqp_uri, connect_timeout=timeout) as connection:
            connection.ensure_connection(max_retries=1)
        return True
    except Exception:
        return False


def queue_depths(amqp_uri: str, timeout: float = 3.0) -> dict[str, dict[str, int]]:
    """Each service's event queues, by name (``<service>.<stream>``, in SUBSCRIPTIONS' order), with
    the messages ready in it and the consumers reading it. A passive declare changes nothing; a
    queue not declared yet holds nothing and has no consumer."""
    depths: dict[str, dict[str, int]] = {}
    with Connection(amqp_uri, connect_timeout=timeout) as connection:
        channel = connection.channel()
        for service in SUBSCRIPTIONS:
            for queue in service_queues(service):
                try:
                    declared = channel.queue_declare(queue.name, passive=True)
                except ChannelError:
                    # the broker closes a channel that asked for a missing queue
                    channel = connection.channel()
                    depths[queue.name] = {"messages": 0, "consumers": 0}
                    continue
                depths[queue.name] = {
                    "messages": declared.message_count,
                    "consumers": declared.consumer_count,
                }
    return depths


def topology() -> list[Any]:
    return [EVENTS_EXCHANGE, *(queue for service in SUBSCRIPTIONS for queue in service_queues(service))]


class EventPublisher:
    """Publishes event envelopes with publisher confirms and ``mandatory``.

    ``publish`` returns only once the broker has confirmed the message is routed to a queue and
    persisted; otherwise it raises, and the event stays in its outbox to be tried again.
    """

    def __init__(self, amqp_uri: str) -> None:
        self._publisher = Publisher(
            amqp_uri,
            use_confirms=True,
            mandatory=True,
            exchange=EVENTS_EXCHANGE,
            declare=topology(),
            retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0.1, "interval_step": 0.2},
        )

    def publish(self, event: dict) -> None:
        try:
            self._publisher.publish(
                event,
                routing_key=event["type"],
                message_id=event["event_id"],
                headers={SUBJECTS_HEADER: subjects_of(event)},
            )
        except UndeliverableMessage as error:
            raise RuntimeError(f"no queue is bound for {event['type']}") from error
        metrics.io_counts["events_published"] += 1

    def publish_to_queue(self, body: Any, service: str, subjects: Sequence[str] = ()) -> None:
        """Put a message straight on one service's main queue (replaying a dead letter, with the
        registrations it was parked as about): its consumer handles every event type the service
        subscribes to."""
        try:
            self._publisher.publish(
                body,
                exchange=DIRECT_EXCHANGE,
                routing_key=service_queue(service).name,
                headers={SUBJECTS_HEADER: list(subjects)},
            )
        except UndeliverableMessage as error:
            raise RuntimeError(f"no queue for {service}") from error


class EventConsumer(Consumer):
    """Consumes one of the service's own event queues; failed messages are requeued, never
    dropped.

    Whether a message is retried, ignored as a duplicate or parked as a dead letter is decided by
    the service's inbox (``shared.inbox``), which the decorated method hands each message to.
    """

    def __init__(self, service: str, stream: str = MAIN_STREAM, **options: Any) -> None:
        self.service, self.stream = service, stream
        super().__init__(queue=service_queue(service, stream), requeue_on_error=True, **options)

    def start(self) -> None:
        super().start()
        if self.stream == MAIN_STREAM and len(SUBSCRIPTIONS[self.service]) > 1:
            unbind_moved_event_types(self.amqp_uri, self.service)

    def handle_message_processed(self, message: Any, result: Any = None, exc_info: Any = None) -> None:
        """Acknowledge (or requeue) the message; if the broker connection is lost meanwhile,
        carry on instead of stopping the service (nameko's default): the broker delivers the
        unacknowledged message again once the connection is back, and the inbox ignores a copy
        of an event already handled."""
        try:
            super().handle_message_processed(message, result, exc_info)
        except CONNECTION_ERRORS:
            log.warning("message not acknowledged: the broker connection is lost", exc_info=True)


class MessageSubjects(DependencyProvider):
    """Gives a worker handling an event the registrations its publisher said the message is
    about (SUBJECTS_HEADER; nameko hands a message's headers to the worker as context data), for
    the inbox to keep with it if it is parked: erasing one of them then erases the dead letter
    even if its body cannot be read."""

    def get_dependency(self, worker_ctx: WorkerContext) -> list:
        """The header's list as it came; the inbox keeps only the ids in it (Inbox.park)."""
        subjects = worker_ctx.data.get(SUBJECTS_HEADER)
        return subjects if isinstance(subjects, list) else []


def on_events(service: str, stream: str = MAIN_STREAM) -> Callable:
    """Decorate the method of ``service`` that receives the events of one of its queues."""
    return EventConsumer.decorator(service, stream)
