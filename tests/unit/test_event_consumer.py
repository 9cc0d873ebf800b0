"""The event consumer when the broker connection breaks between handling a message and
acknowledging it (the broker then delivers the message again; the inbox ignores the copy)."""

import pytest
from nameko.amqp.consume import Consumer as AmqpConsumer

from shared.messaging import EventConsumer


class MessageOnABrokenLink:
    """A delivered message whose connection looks open but whose socket the broker has reset,
    as when the broker stops between the handler's end and the acknowledgement."""

    class channel:  # noqa: N801 - stands in for kombu's attribute
        connection = object()

    def ack(self) -> None:
        raise ConnectionResetError(104, "Connection reset by peer")

    def requeue(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")


@pytest.mark.parametrize("failed", [False, True], ids=["acknowledged", "requeued"])
def test_a_broken_connection_at_acknowledgement_does_not_stop_the_service(failed):
    entrypoint = EventConsumer("matching")
    entrypoint.consumer = AmqpConsumer("pyamqp://guest:guest@127.0.0.1:5672//")  # as set up at start
    exc_info = (RuntimeError, RuntimeError("handler failed"), None) if failed else None
    # nameko's own consumer lets these errors out, and the container, then the process, stops
    entrypoint.handle_message_processed(MessageOnABrokenLink(), None, exc_info)
